def test_items_are_listed(client):
    client.post("/items", json={"name": "lamp", "owner": 1})
    assert [i["name"] for i in client.get("/items").json()] == ["lamp"]
