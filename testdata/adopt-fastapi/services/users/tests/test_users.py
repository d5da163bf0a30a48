def test_create_and_read(client):
    created = client.post("/users", json={"email": "a@example.com"})
    assert created.status_code == 201
    assert client.get(f"/users/{created.json()['id']}").json()["email"] == "a@example.com"


def test_unknown_user(client):
    assert client.get("/users/42").status_code == 404
