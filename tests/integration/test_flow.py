import base64
import hashlib
import hmac
import json
import uuid

import pytest

# Fixed UUIDs shared by the services' default populator scenarios.
BOB = "b0b00000-0000-4000-8000-000000000002"
PYDAY = "e0e00000-0000-4000-8000-000000000001"
BOBS_PYDAY_PAYMENT = "9a1d0000-0000-4000-8000-000000000001"


def forge_token(sub, key=b"not-the-shared-key-of-these-services"):
    """An HS256 JWT that is well-formed but signed with a key the services do not share."""
    def b64(data):
        return base64.urlsafe_b64encode(data).rstrip(b"=").decode()
    signing_input = ".".join([b64(b'{"alg":"HS256","typ":"JWT"}'),
                              b64(json.dumps({"sub": sub, "exp": 4102444800}).encode())])
    signature = hmac.new(key, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{b64(signature)}"


def test_service_is_healthy(api, service):
    response = api(service).get("/healthz")
    assert response.status_code == 200, response.text
    assert response.json() == {"status": "ok"}


def test_auth_knows_the_user_by_uuid(as_user, user):
    response = as_user("auth").get(f"/api/users/{user['uuid']}/")
    assert response.status_code == 200, response.text
    assert response.json()["username"] == user["username"]


@pytest.fixture(scope="module")
def event(as_user):
    response = as_user("events").post("/api/events/", json={
        "title": "Integration meetup", "starts_at": "2030-01-01T18:00:00Z", "price": "12.50",
    })
    assert response.status_code == 201, response.text
    return response.json()


def test_events_trusts_the_jwt_auth_issued(event, user):
    assert event["organizer"] == user["uuid"]


@pytest.mark.parametrize("name", ["events", "payments", "opportunities"])
def test_a_token_signed_with_another_key_is_refused(api, user, name):
    response = api(name, forge_token(user["uuid"])).post(f"/api/{name}/", json={})
    assert response.status_code == 401, response.text


def test_paying_for_an_event_checks_it_with_events(as_user, event, user):
    response = as_user("payments").post("/api/payments/", json={"event": event["uuid"]})
    assert response.status_code == 201, response.text
    payment = response.json()
    assert (payment["event"], payment["user"], payment["amount"]) == (
        event["uuid"], user["uuid"], "12.50")
    listed = as_user("payments").get("/api/payments/").json()
    assert [p["uuid"] for p in listed] == [payment["uuid"]]


def test_paying_for_an_event_that_does_not_exist_is_refused(as_user):
    response = as_user("payments").post("/api/payments/", json={"event": str(uuid.uuid4())})
    assert response.status_code == 400, response.text
    assert "does not exist" in response.json()["event"][0]


def test_default_scenarios_agree_across_services(api, login):
    """auth's bob logs in, sees the payment payments' scenario made for the event events' made."""
    bob = login("bob", "bob-password")
    assert bob["uuid"] == BOB
    payments = api("payments", bob["token"]).get("/api/payments/").json()
    assert {(p["uuid"], p["event"]) for p in payments} >= {(BOBS_PYDAY_PAYMENT, PYDAY)}
    pyday = api("events").get(f"/api/events/{PYDAY}/")
    assert pyday.status_code == 200, pyday.text
    assert BOB in pyday.json()["attendees"]


def test_opportunity_is_published_and_listed(api, as_user, user):
    created = as_user("opportunities").post("/api/opportunities/", json={
        "title": f"Integration gig {uuid.uuid4().hex[:6]}", "budget": "99.00",
    })
    assert created.status_code == 201, created.text
    assert created.json()["owner"] == user["uuid"]
    listed = api("opportunities").get("/api/opportunities/")
    assert listed.status_code == 200, listed.text
    assert created.json()["uuid"] in [o["uuid"] for o in listed.json()]
