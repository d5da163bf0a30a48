"""The three services together, through the gateway."""
import os

import httpx

GATEWAY, USERS, ITEMS = (os.environ[v] for v in ("GATEWAY_URL", "USERS_URL", "ITEMS_URL"))


def test_backends_are_healthy():
    for url in (USERS, ITEMS):
        assert httpx.get(url + "/health", timeout=5).json() == {"status": "ok"}


def test_a_users_items_through_the_gateway():
    user = httpx.post(USERS + "/users", json={"email": "ada@example.com"}, timeout=5).json()
    httpx.post(ITEMS + "/items", json={"name": "lamp", "owner": user["id"]}, timeout=5)
    httpx.post(ITEMS + "/items", json={"name": "desk", "owner": user["id"] + 1000}, timeout=5)
    got = httpx.get(f"{GATEWAY}/users/{user['id']}/items", timeout=5).json()
    assert got["user"]["email"] == "ada@example.com"
    assert [i["name"] for i in got["items"]] == ["lamp"]


def test_an_unknown_user_through_the_gateway():
    assert httpx.get(GATEWAY + "/users/999999/items", timeout=5).status_code == 404
