from unittest import mock

import pytest
from django.db import OperationalError


@pytest.mark.django_db
def test_healthz_answers_ok(client):
    response = client.get("/healthz")
    assert (response.status_code, response.json()) == (200, {"status": "ok"})


def test_healthz_answers_503_when_the_database_is_down(client):
    with mock.patch("convoykit.health.connection.cursor", side_effect=OperationalError):
        assert client.get("/healthz").status_code == 503
