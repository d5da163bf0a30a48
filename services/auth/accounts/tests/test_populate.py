import tempfile
from pathlib import Path

from django.core.management import CommandError, call_command
from django.test import TestCase, override_settings

from accounts.models import User


@override_settings(PASSWORD_HASHERS=["django.contrib.auth.hashers.MD5PasswordHasher"])
class PopulateTests(TestCase):
    def test_populate_is_idempotent_with_fixed_uuids(self):
        call_command("populate", verbosity=0)
        rows = list(User.objects.order_by("uuid").values())
        call_command("populate", verbosity=0)
        self.assertEqual(list(User.objects.order_by("uuid").values()), rows)
        alice = User.objects.get(username="alice")
        self.assertEqual(str(alice.uuid), "a11ce000-0000-4000-8000-000000000001")
        self.assertTrue(alice.check_password("alice-password"))
        self.assertEqual(User.objects.count(), 4)

    def test_unknown_field_names_file_and_line(self):
        with tempfile.TemporaryDirectory() as base:
            path = Path(base, "populator", "default.yaml")
            path.parent.mkdir()
            path.write_text("users:\n  - uuid: a11ce000-0000-4000-8000-000000000001\n"
                            "    username: alice\n    pasword: typo\n")
            with override_settings(BASE_DIR=base), \
                    self.assertRaisesRegex(CommandError, f"^{path}:4: unknown field 'pasword'"):
                call_command("populate", verbosity=0)
