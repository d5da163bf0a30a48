"""Settings of the payments service: shared ones from convoykit, the rest from the env."""
import os
from pathlib import Path

from convoykit.settings import service_settings

globals().update(service_settings(
    "payments_service", Path(__file__).resolve().parent.parent,
    apps=["payments"], permission="IsAuthenticated",
))

# The events service, asked over REST whether an event exists before it is paid for.
EVENTS_URL = os.environ.get("EVENTS_URL", "http://events:8000")
EVENTS_TIMEOUT = float(os.environ.get("EVENTS_TIMEOUT", "5"))
