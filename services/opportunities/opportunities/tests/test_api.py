import uuid

import pytest
from rest_framework import status

ALICE = uuid.UUID("a11ce000-0000-4000-8000-000000000001")
BOB = uuid.UUID("b0b00000-0000-4000-8000-000000000002")


@pytest.fixture
def opportunity(client_as):
    response = client_as(ALICE).post(
        "/api/opportunities/", {"title": "Mentor", "budget": "300.00"}, format="json")
    assert response.status_code == status.HTTP_201_CREATED, response.json()
    return response.json()


@pytest.mark.django_db
def test_publishing_makes_the_token_user_the_owner(opportunity):
    assert opportunity["owner"] == str(ALICE)
    assert (opportunity["status"], opportunity["budget"]) == ("open", "300.00")


@pytest.mark.django_db
def test_anyone_lists_and_filters_opportunities(api_client, opportunity):
    assert [o["uuid"] for o in api_client.get("/api/opportunities/").json()] == [
        opportunity["uuid"]]
    assert api_client.get("/api/opportunities/?status=closed").json() == []


@pytest.mark.django_db
def test_publishing_needs_a_valid_token(api_client):
    payload = {"title": "Mentor"}
    assert api_client.post("/api/opportunities/", payload).status_code == 401
    api_client.credentials(HTTP_AUTHORIZATION="Bearer forged.token.value")
    assert api_client.post("/api/opportunities/", payload).status_code == 401


@pytest.mark.django_db
def test_only_the_owner_closes_an_opportunity(client_as, opportunity):
    url = f"/api/opportunities/{opportunity['uuid']}/close/"
    assert client_as(BOB).post(url).status_code == status.HTTP_403_FORBIDDEN
    response = client_as(ALICE).post(url)
    assert response.status_code == status.HTTP_200_OK
    assert response.json()["status"] == "closed"


@pytest.mark.django_db
def test_status_is_not_writable(client_as):
    response = client_as(ALICE).post(
        "/api/opportunities/", {"title": "Sneaky", "status": "closed"}, format="json")
    assert response.json()["status"] == "open"
