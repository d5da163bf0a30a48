"""The base of every service's ``manage.py populate`` command."""
from pathlib import Path

import yaml
from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction


class PopulateCommand(BaseCommand):
    """Migrate, then load a YAML scenario (``<BASE_DIR>/populator/NAME.yaml``) into the database.

    A scenario maps a kind (``self.kind``) to a list of records; each record is applied by
    :meth:`apply`, which must be idempotent (``update_or_create`` on a natural key). Without
    ``--scenario`` every scenario is loaded, so that the populate gate checks them all.
    """

    help = "Migrate, then load populator/NAME.yaml scenarios into this service's database."
    kind = ""

    def add_arguments(self, parser):
        parser.add_argument("--scenario", action="append", dest="scenarios", metavar="NAME")

    def apply(self, record):
        raise NotImplementedError

    def handle(self, *args, scenarios=None, verbosity=1, **options):
        call_command("migrate", interactive=False, verbosity=0)
        for path in self.paths(scenarios):
            records = self.read(path)
            with transaction.atomic():
                for record in records:
                    self.apply(record)
            if verbosity:
                self.stdout.write(f"{path.name}: {len(records)} {self.kind} loaded")

    def paths(self, names):
        directory = Path(settings.BASE_DIR) / "populator"
        available = {path.stem: path for path in sorted(directory.glob("*.yaml"))}
        unknown = sorted(set(names or ()) - set(available))
        if unknown or not available:
            raise CommandError(f"unknown scenario(s) {', '.join(unknown) or '(none there)'} "
                               f"in {directory}: available are {', '.join(available) or 'none'}")
        return [available[name] for name in names] if names else list(available.values())

    def read(self, path):
        data = yaml.safe_load(path.read_text()) or {}
        records = data.get(self.kind)
        if set(data) - {self.kind} or not isinstance(records, list):
            raise CommandError(f"{path}: expected one key, {self.kind!r}, holding a list")
        return records
