"""``manage.py populate [--scenario NAME]``: load populator/NAME.yaml (every scenario without
--scenario) into the database, idempotently."""
from pathlib import Path

import yaml
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from {{.Module}}.models import Item

SCENARIOS = Path(settings.BASE_DIR) / "populator"


class Command(BaseCommand):
    help = "Load populator scenarios (populator/*.yaml) into the database."

    def add_arguments(self, parser):
        parser.add_argument("--scenario", help="scenario to load (default: every one)")

    def handle(self, *args, scenario=None, **options):
        if scenario:
            files = [SCENARIOS / f"{scenario}.yaml"]
            if not files[0].is_file():
                raise CommandError(f"no scenario {scenario!r}: {files[0]} does not exist")
        else:
            files = sorted(SCENARIOS.glob("*.yaml"))
        for path in files:
            count = self.load(path)
            self.stdout.write(f"{path.name}: {count} items")

    @transaction.atomic
    def load(self, path):
        data = yaml.safe_load(path.read_text()) or {}
        items = data.get("items", [])
        for record in items:
            Item.objects.update_or_create(uuid=record["uuid"], defaults={"name": record["name"]})
        return len(items)
