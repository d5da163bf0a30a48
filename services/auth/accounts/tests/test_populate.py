from django.contrib.auth.hashers import MD5PasswordHasher
from django.core.management import CommandError, call_command
from django.test import TestCase, override_settings

from accounts.models import User
from convoykit.testing import populator_scenarios

DEFAULT = """\
    users:
      - uuid: a11ce000-0000-4000-8000-000000000001
        username: alice
        password: alice-password
        is_staff: true
      - uuid: b0b00000-0000-4000-8000-000000000002
        username: bob
        password: bob-password
    """


class CountingHasher(MD5PasswordHasher):
    """MD5, counting the passwords it hashes (the default hasher is slow on purpose)."""

    algorithm = "counting_md5"
    hashed = 0

    def encode(self, password, salt):
        CountingHasher.hashed += 1
        return super().encode(password, salt)


@override_settings(PASSWORD_HASHERS=["accounts.tests.test_populate.CountingHasher"])
class PopulateTests(TestCase):
    def test_a_new_user_is_hashed_once_and_an_unchanged_one_not_again(self):
        with populator_scenarios(default=DEFAULT):
            CountingHasher.hashed = 0
            call_command("populate", verbosity=0)
            self.assertEqual(CountingHasher.hashed, 2)
            CountingHasher.hashed = 0
            call_command("populate", verbosity=0)
        self.assertEqual(CountingHasher.hashed, 2)  # each checked, neither hashed anew

    def test_populate_is_idempotent_with_fixed_uuids(self):
        with populator_scenarios(default=DEFAULT):
            call_command("populate", verbosity=0)
            rows = list(User.objects.order_by("uuid").values())
            call_command("populate", verbosity=0)
        self.assertEqual(list(User.objects.order_by("uuid").values()), rows)
        alice = User.objects.get(username="alice")
        self.assertEqual(str(alice.uuid), "a11ce000-0000-4000-8000-000000000001")
        self.assertTrue(alice.check_password("alice-password"))
        self.assertTrue(alice.is_staff)
        self.assertEqual(User.objects.count(), 2)

    def test_a_changed_password_is_updated(self):
        with populator_scenarios(default=DEFAULT) as directory:
            call_command("populate", verbosity=0)
            scenario = directory / "default.yaml"
            scenario.write_text(scenario.read_text().replace("bob-password", "new-password"))
            call_command("populate", verbosity=0)
        self.assertTrue(User.objects.get(username="bob").check_password("new-password"))

    def test_unknown_field_names_file_and_line(self):
        bad = DEFAULT.replace("is_staff", "is_stafff")
        with populator_scenarios(default=bad) as directory, \
                self.assertRaisesRegex(CommandError,
                                       f"^{directory}/default.yaml:5: unknown field 'is_stafff'"):
            call_command("populate", verbosity=0)
