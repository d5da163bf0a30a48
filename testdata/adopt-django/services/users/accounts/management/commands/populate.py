from django.core.management.base import BaseCommand

from accounts.models import Account

DEMO = [("ada@example.com", "Ada"), ("grace@example.com", "Grace")]


class Command(BaseCommand):
    help = "Load the demo accounts (idempotent)."

    def add_arguments(self, parser):
        parser.add_argument("--scenario", default="default")

    def handle(self, *args, **options):
        for email, name in DEMO:
            Account.objects.get_or_create(email=email, defaults={"name": name})
        self.stdout.write(f"{Account.objects.count()} accounts")
