import uuid

import pytest
from rest_framework import status

from convoykit.tokens import encode

ALICE = uuid.UUID("a11ce000-0000-4000-8000-000000000001")
BOB = uuid.UUID("b0b00000-0000-4000-8000-000000000002")
NEW_EVENT = {"title": "PyDay", "starts_at": "2026-06-21T10:00:00Z", "price": "15.00"}


@pytest.fixture
def event(client_as):
    response = client_as(ALICE).post("/api/events/", NEW_EVENT, format="json")
    assert response.status_code == status.HTTP_201_CREATED, response.json()
    return response.json()


@pytest.mark.django_db
def test_the_token_user_becomes_the_organizer(event):
    assert event["organizer"] == str(ALICE)
    assert event["price"] == "15.00"
    assert event["attendees"] == []
    uuid.UUID(event["uuid"])


@pytest.mark.django_db
def test_anyone_reads_an_event_by_uuid(api_client, event):
    response = api_client.get(f"/api/events/{event['uuid']}/")
    assert response.status_code == status.HTTP_200_OK
    assert response.json()["title"] == "PyDay"
    assert [e["uuid"] for e in api_client.get("/api/events/").json()] == [event["uuid"]]


@pytest.mark.django_db
@pytest.mark.parametrize("lookup", [uuid.uuid4(), "not-a-uuid"])
def test_unknown_event_is_404(api_client, lookup):
    assert api_client.get(f"/api/events/{lookup}/").status_code == status.HTTP_404_NOT_FOUND


@pytest.mark.django_db
def test_creating_without_a_token_is_401(api_client):
    response = api_client.post("/api/events/", NEW_EVENT, format="json")
    assert response.status_code == status.HTTP_401_UNAUTHORIZED


@pytest.mark.django_db
def test_token_signed_with_another_key_is_401(api_client):
    token = encode(ALICE, secret="some-other-secret-that-is-long-enough")
    api_client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    response = api_client.post("/api/events/", NEW_EVENT, format="json")
    assert response.status_code == status.HTTP_401_UNAUTHORIZED


@pytest.mark.django_db
def test_attending_adds_the_token_user_once(client_as, event):
    url = f"/api/events/{event['uuid']}/attend/"
    client_as(BOB).post(url)
    response = client_as(BOB).post(url)
    assert response.status_code == status.HTTP_200_OK
    assert response.json()["attendees"] == [str(BOB)]


@pytest.mark.django_db
def test_invalid_event_is_400(client_as):
    response = client_as(ALICE).post("/api/events/", {"title": ""}, format="json")
    assert response.status_code == status.HTTP_400_BAD_REQUEST
    assert set(response.json()) == {"title", "starts_at"}
