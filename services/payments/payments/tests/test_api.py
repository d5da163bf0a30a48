import uuid

import pytest
import requests
from rest_framework import status

from payments.models import Payment

ALICE = uuid.UUID("a11ce000-0000-4000-8000-000000000001")
BOB = uuid.UUID("b0b00000-0000-4000-8000-000000000002")
EVENT = uuid.UUID("e0e00000-0000-4000-8000-000000000001")


@pytest.fixture
def event_url(events_url):
    return f"{events_url}/api/events/{EVENT}/"


@pytest.mark.django_db
def test_paying_charges_the_event_price(client_as, responses, event_url):
    responses.get(event_url, json={"uuid": str(EVENT), "price": "15.00", "currency": "EUR"})
    response = client_as(BOB).post("/api/payments/", {"event": str(EVENT)}, format="json")
    assert response.status_code == status.HTTP_201_CREATED, response.json()
    body = response.json()
    assert (body["event"], body["user"], body["amount"], body["status"]) == (
        str(EVENT), str(BOB), "15.00", "pending")
    assert len(responses.calls) == 1


@pytest.mark.django_db
def test_paying_for_an_unknown_event_is_refused(client_as, responses, event_url):
    responses.get(event_url, status=404, json={"detail": "No Event matches the given query."})
    response = client_as(BOB).post("/api/payments/", {"event": str(EVENT)}, format="json")
    assert response.status_code == status.HTTP_400_BAD_REQUEST
    assert "does not exist" in response.json()["event"][0]
    assert not Payment.objects.exists()


@pytest.mark.django_db
def test_events_service_down_is_503(client_as, responses, event_url):
    responses.get(event_url, body=requests.ConnectionError("connection refused"))
    response = client_as(BOB).post("/api/payments/", {"event": str(EVENT)}, format="json")
    assert response.status_code == status.HTTP_503_SERVICE_UNAVAILABLE
    assert not Payment.objects.exists()


@pytest.mark.django_db
def test_invalid_event_uuid_never_reaches_events(client_as, responses):
    response = client_as(BOB).post("/api/payments/", {"event": "nope"}, format="json")
    assert response.status_code == status.HTTP_400_BAD_REQUEST
    assert len(responses.calls) == 0


@pytest.mark.django_db
def test_users_see_only_their_own_payments(client_as):
    mine = Payment.objects.create(event_uuid=EVENT, user_uuid=BOB, amount=1)
    Payment.objects.create(event_uuid=EVENT, user_uuid=ALICE, amount=1)
    listed = client_as(BOB).get("/api/payments/").json()
    assert [p["uuid"] for p in listed] == [str(mine.uuid)]
    other = client_as(ALICE).get(f"/api/payments/{mine.uuid}/")
    assert other.status_code == status.HTTP_404_NOT_FOUND


@pytest.mark.django_db
def test_payments_need_a_token(api_client):
    assert api_client.get("/api/payments/").status_code == status.HTTP_401_UNAUTHORIZED
