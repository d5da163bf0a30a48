"""The base of every service's ``manage.py populate`` command."""
from pathlib import Path

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError
from django.db import DatabaseError, transaction

from .populator import ScenarioError, load_scenario


class PopulateCommand(BaseCommand):
    """Migrate, then load scenarios (``POPULATOR_DIR/*.yaml``) into the service's database.

    Without ``--scenario`` every scenario is loaded, in file-name order; ``--scenario NAME``
    (repeatable) loads ``NAME.yaml`` only. Every file is parsed before anything is written, and
    everything is written in one transaction. Subclasses set ``schema`` and implement
    :meth:`apply` idempotently (``update_or_create`` on a natural key).
    """

    help = "Migrate, then load populator scenarios (all by default) into this service's database."
    schema = {}

    def add_arguments(self, parser):
        parser.add_argument("--scenario", action="append", dest="scenarios", metavar="NAME",
                            help="load NAME.yaml only (repeatable); default: every scenario")

    def apply(self, record):
        """Create or update the rows of one record."""
        raise NotImplementedError

    def handle(self, *args, scenarios=None, verbosity=1, **options):
        call_command("migrate", interactive=False, verbosity=max(verbosity - 1, 0))
        try:
            loaded = [(path, load_scenario(path, self.schema)) for path in self.paths(scenarios)]
        except ScenarioError as exc:
            raise CommandError(str(exc)) from exc
        with transaction.atomic():
            for path, records in loaded:
                for record in records:
                    try:
                        self.apply(record)
                    except (ValidationError, DatabaseError) as exc:
                        raise CommandError(f"{record.path}:{record.line}: {exc}") from exc
                if verbosity:
                    self.stdout.write(f"{path.name}: {len(records)} record(s) loaded")

    def paths(self, names):
        directory = Path(settings.POPULATOR_DIR)
        available = {path.stem: path for path in sorted(directory.glob("*.yaml"))}
        if not names:
            if not available:
                raise CommandError(f"no scenarios in {directory}")
            return list(available.values())
        unknown = [name for name in names if name not in available]
        if unknown:
            raise CommandError(f"unknown scenario(s) {', '.join(unknown)} in {directory} "
                               f"(available: {', '.join(available) or 'none'})")
        return [available[name] for name in names]
