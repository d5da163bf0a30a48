import pytest
from rest_framework.test import APIClient


@pytest.mark.django_db
def test_create_then_list_items():
    client = APIClient()
    created = client.post("/api/items", {"name": "a thing"}, format="json")
    assert created.status_code == 201
    listed = client.get("/api/items").json()
    assert [item["name"] for item in listed] == ["a thing"]
    one = client.get(f"/api/items/{created.json()['uuid']}")
    assert one.json()["name"] == "a thing"
