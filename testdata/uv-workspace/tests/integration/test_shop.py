import uuid


def test_service_is_healthy(api, service):
    response = api(service).get("/healthz")
    assert response.status_code == 200, response.text
    assert response.json() == {"status": "ok"}


def test_every_populated_order_is_for_a_catalogued_product(api):
    skus = {p["sku"] for p in api("catalog").get("/api/products/").json()}
    orders = api("orders").get("/api/orders/").json()
    assert {"ord-0001", "ord-0002"} <= {o["reference"] for o in orders}
    assert {o["sku"] for o in orders} <= skus


def test_order_a_new_product(api):
    sku = f"it-{uuid.uuid4().hex[:8]}"
    product = {"sku": sku, "name": "Integration", "price": "1.00"}
    created = api("catalog").post("/api/products/", product)
    assert created.status_code == 201, created.text
    order = {"reference": f"ord-{sku}", "sku": sku, "quantity": 2}
    ordered = api("orders").post("/api/orders/", order)
    assert ordered.status_code == 201, ordered.text
    assert api("catalog").get(f"/api/products/{sku}/").json()["sku"] == ordered.json()["sku"]
