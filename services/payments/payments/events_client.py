"""The only place payments talks to the events service (tests fake it at the HTTP level)."""
import requests
from django.conf import settings


class EventsUnavailable(Exception):
    """The events service could not be asked (down, timing out or answering an error)."""


def get_event(event_uuid):
    """Return the event ``event_uuid`` as the events API describes it, or None if there is none."""
    url = f"{settings.EVENTS_URL.rstrip('/')}/api/events/{event_uuid}/"
    try:
        response = requests.get(url, timeout=settings.EVENTS_TIMEOUT)
        if response.status_code == 404:
            return None
        response.raise_for_status()
        return response.json()
    except (requests.RequestException, ValueError) as exc:
        raise EventsUnavailable(f"GET {url}: {exc}") from exc
