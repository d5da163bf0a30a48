import uuid

from django.test import override_settings
from rest_framework.test import APITestCase

from accounts.models import User
from convoykit import tokens
from convoykit.testing import bearer, use_test_secret

FAST_HASHER = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@use_test_secret()
@override_settings(PASSWORD_HASHERS=FAST_HASHER)
class UserApiTests(APITestCase):
    def test_signing_up_returns_the_uuid_but_never_the_password(self):
        response = self.client.post("/api/users/", {
            "username": "carol", "password": "carol-password", "email": "carol@example.com",
        })
        self.assertEqual(response.status_code, 201, response.json())
        body = response.json()
        self.assertNotIn("password", body)
        user = User.objects.get(uuid=body["uuid"])
        self.assertTrue(user.check_password("carol-password"))

    def test_weak_or_duplicate_signups_are_refused(self):
        User.objects.create_user("carol", password="carol-password")
        response = self.client.post("/api/users/", {"username": "carol", "password": "123"})
        self.assertEqual(response.status_code, 400)
        self.assertEqual(set(response.json()), {"username", "password"})

    def test_reading_a_user_by_uuid_takes_a_token(self):
        user = User.objects.create_user("dave", email="dave@example.com")
        url = f"/api/users/{user.uuid}/"
        self.assertEqual(self.client.get(url).status_code, 401)
        self.client.credentials(HTTP_AUTHORIZATION=bearer(uuid.uuid4()))
        response = self.client.get(url)
        self.assertEqual(response.status_code, 200)
        self.assertEqual(response.json()["email"], "dave@example.com")
        self.assertEqual(self.client.get(f"/api/users/{uuid.uuid4()}/").status_code, 404)


@use_test_secret()
@override_settings(PASSWORD_HASHERS=FAST_HASHER)
class TokenApiTests(APITestCase):
    def setUp(self):
        self.user = User.objects.create_user("alice", password="alice-password")

    def test_right_password_gets_a_jwt_for_the_user_uuid(self):
        response = self.client.post(
            "/api/token/", {"username": "alice", "password": "alice-password"})
        self.assertEqual(response.status_code, 200)
        claims = tokens.decode(response.json()["token"])
        self.assertEqual(claims["sub"], self.user.uuid)
        self.assertEqual(claims["username"], "alice")
        self.assertEqual(response.json()["uuid"], str(self.user.uuid))

    @override_settings(JWT_LIFETIME_SECONDS=-1)
    def test_tokens_expire(self):
        response = self.client.post(
            "/api/token/", {"username": "alice", "password": "alice-password"})
        with self.assertRaisesRegex(tokens.TokenError, "expired"):
            tokens.decode(response.json()["token"])

    def test_wrong_password_or_inactive_user_gets_no_token(self):
        response = self.client.post("/api/token/", {"username": "alice", "password": "nope"})
        self.assertEqual(response.status_code, 400)
        self.user.is_active = False
        self.user.save()
        response = self.client.post(
            "/api/token/", {"username": "alice", "password": "alice-password"})
        self.assertEqual(response.status_code, 400)
