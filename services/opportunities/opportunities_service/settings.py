"""Settings of the opportunities service: shared ones from convoykit, the rest from the env."""
from pathlib import Path

from convoykit.settings import service_settings

globals().update(service_settings(
    "opportunities_service", Path(__file__).resolve().parent.parent, apps=["opportunities"],
))
