"""The services together: each is healthy, and an order of a catalog product is confirmed by
the orders worker through Redis."""
import os
import time

import requests

USERS, CATALOG, ORDERS = (os.environ[v] for v in ("USERS_URL", "CATALOG_URL", "ORDERS_URL"))


def test_every_service_is_healthy():
    for url in (USERS + "/healthz", CATALOG + "/healthz", ORDERS + "/health/"):
        assert requests.get(url, timeout=5).json() == {"status": "ok"}, url


def test_populated_accounts():
    names = [a["name"] for a in requests.get(USERS + "/api/accounts/", timeout=5).json()]
    assert names == ["Ada", "Grace"]


def test_an_order_is_checked_against_the_catalog_and_confirmed_by_the_worker():
    product = requests.post(CATALOG + "/api/products/", json={"sku": "SKU-1", "price_cents": 500}, timeout=5)
    assert product.status_code == 201
    order = requests.post(ORDERS + "/api/orders/", json={"product": product.json()["id"]}, timeout=10)
    assert order.status_code == 201, order.text
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        got = requests.get(f"{ORDERS}/api/orders/{order.json()['id']}/", timeout=5).json()
        if got["status"] == "confirmed":
            return
        time.sleep(0.2)
    raise AssertionError(f"order not confirmed by the worker: {got}")


def test_an_order_of_an_unknown_product_is_refused():
    order = requests.post(ORDERS + "/api/orders/", json={"product": 999999}, timeout=10)
    assert order.status_code == 400
