import pytest
from rest_framework.test import APIClient


@pytest.mark.django_db
def test_product_price_with_tax():
    client = APIClient()
    created = client.post("/api/products/", {"sku": "BOOK-1", "price_cents": 1000}, format="json")
    assert created.status_code == 201
    assert created.json()["price_with_tax"] == 1210
