from products.models import Product


def test_create_then_list(client, db):
    created = client.post("/api/products/", {"sku": "mug", "name": "Mug", "price": "7.50"},
                          content_type="application/json")
    assert created.status_code == 201, created.content
    listed = client.get("/api/products/").json()
    assert listed == [{"sku": "mug", "name": "Mug", "price": "7.50"}]


def test_retrieve_by_sku(client, db):
    Product.objects.create(sku="mug", name="Mug", price="7.50")
    assert client.get("/api/products/mug/").json()["name"] == "Mug"
    assert client.get("/api/products/nope/").status_code == 404


def test_sku_is_unique(client, db):
    Product.objects.create(sku="mug", name="Mug", price="7.50")
    again = client.post("/api/products/", {"sku": "mug", "name": "Other", "price": "1"},
                        content_type="application/json")
    assert again.status_code == 400
