from fastapi.testclient import TestClient

from gateway.main import app


def test_index_names_the_backends():
    assert set(TestClient(app).get("/").json()["services"]) == {"users", "items"}
