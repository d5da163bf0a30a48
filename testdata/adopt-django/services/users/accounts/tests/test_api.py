import pytest
from django.core.management import call_command
from rest_framework.test import APIClient


@pytest.mark.django_db
def test_create_and_read_account():
    client = APIClient()
    created = client.post("/api/accounts/", {"email": "a@example.com", "name": "A"}, format="json")
    assert created.status_code == 201
    got = client.get(f"/api/accounts/{created.json()['uuid']}/")
    assert got.json()["email"] == "a@example.com"


@pytest.mark.django_db
def test_populate_is_idempotent():
    call_command("populate")
    call_command("populate")
    assert APIClient().get("/api/accounts/").json()[0]["name"] == "Ada"


@pytest.mark.django_db
def test_health():
    assert APIClient().get("/healthz").json() == {"status": "ok"}
