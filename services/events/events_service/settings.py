"""Settings of the events service: shared ones from convoykit, the rest from the env."""
from pathlib import Path

from convoykit.settings import service_settings

globals().update(service_settings(
    "events_service", Path(__file__).resolve().parent.parent, apps=["events"],
))
