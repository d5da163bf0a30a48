import pytest


@pytest.mark.django_db
def test_healthz_needs_no_token(client):
    response = client.get("/healthz")
    assert (response.status_code, response.json()) == (200, {"status": "ok"})
