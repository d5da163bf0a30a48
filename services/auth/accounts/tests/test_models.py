from django.db import IntegrityError
from django.test import TestCase

from accounts.models import User


class UserModelTests(TestCase):
    def test_every_user_gets_a_distinct_uuid(self):
        alice = User.objects.create_user("alice", password="alice-password")
        bob = User.objects.create_user("bob", password="bob-password")
        self.assertNotEqual(alice.uuid, bob.uuid)
        self.assertEqual(User.objects.get(uuid=alice.uuid), alice)

    def test_uuid_is_unique(self):
        alice = User.objects.create_user("alice")
        with self.assertRaises(IntegrityError):
            User.objects.create_user("alice2", uuid=alice.uuid)
