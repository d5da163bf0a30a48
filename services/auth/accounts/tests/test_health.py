from unittest import mock

from django.db import OperationalError
from django.test import TestCase


class HealthTests(TestCase):
    def test_healthz_answers_ok(self):
        response = self.client.get("/healthz")
        self.assertEqual((response.status_code, response.json()), (200, {"status": "ok"}))

    def test_healthz_answers_503_without_a_database(self):
        with mock.patch("convoykit.health.connection.cursor", side_effect=OperationalError):
            self.assertEqual(self.client.get("/healthz").status_code, 503)
