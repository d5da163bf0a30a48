import uuid

import pytest
import requests

from payments import events_client

EVENT = uuid.UUID("e0e00000-0000-4000-8000-000000000001")


def test_existing_event_is_returned(responses, events_url):
    responses.get(f"{events_url}/api/events/{EVENT}/", json={"uuid": str(EVENT), "price": "1.00"})
    assert events_client.get_event(EVENT)["price"] == "1.00"


def test_missing_event_is_none(responses, events_url):
    responses.get(f"{events_url}/api/events/{EVENT}/", status=404, json={"detail": "Not found."})
    assert events_client.get_event(EVENT) is None


@pytest.mark.parametrize("fake", [
    {"status": 500, "json": {}},
    {"body": requests.ConnectionError("refused")},
    {"status": 200, "body": "<html>not json</html>"},
])
def test_events_service_trouble_is_reported(responses, events_url, fake):
    responses.get(f"{events_url}/api/events/{EVENT}/", **fake)
    with pytest.raises(events_client.EventsUnavailable, match=f"GET {events_url}"):
        events_client.get_event(EVENT)
