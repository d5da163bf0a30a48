import json
from unittest import mock

import pytest

from django.db import OperationalError
from django.test import RequestFactory

from convoykit.health import healthz


@pytest.mark.django_db
def test_healthy_database_answers_ok():
    response = healthz(RequestFactory().get("/healthz"))
    assert response.status_code == 200
    assert json.loads(response.content) == {"status": "ok"}


def test_broken_database_answers_503():
    with mock.patch("convoykit.health.connection.cursor", side_effect=OperationalError("down")):
        response = healthz(RequestFactory().get("/healthz"))
    assert response.status_code == 503
    assert json.loads(response.content)["status"] == "unavailable"


def test_only_safe_methods_are_allowed():
    assert healthz(RequestFactory().post("/healthz")).status_code == 405
