"""Settings of the loans service: the shared ones (servicekit), from the environment.

``CATALOG_URL`` is the catalog service's base URL: new loans are checked against it when it is
set (integration sets every service's ``<NAME>_URL``).
"""
import os
from pathlib import Path

from servicekit.settings import service_settings

globals().update(service_settings("loans_service", Path(__file__).resolve().parent.parent, apps=["lending"]))

CATALOG_URL = os.environ.get("CATALOG_URL", "").rstrip("/")
