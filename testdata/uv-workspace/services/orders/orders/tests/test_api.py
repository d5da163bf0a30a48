from orders.models import Order


def test_create_then_retrieve(client, db):
    created = client.post("/api/orders/", {"reference": "ord-9", "sku": "mug", "quantity": 3},
                          content_type="application/json")
    assert created.status_code == 201, created.content
    got = client.get("/api/orders/ord-9/").json()
    assert (got["sku"], got["quantity"]) == ("mug", 3)


def test_quantity_must_be_positive(client, db):
    refused = client.post("/api/orders/", {"reference": "ord-0", "sku": "mug", "quantity": 0},
                          content_type="application/json")
    assert refused.status_code == 400
    assert not Order.objects.exists()
