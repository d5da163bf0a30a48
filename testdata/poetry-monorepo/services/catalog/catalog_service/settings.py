"""Settings of the catalog service: the shared ones (servicekit), from the environment."""
from pathlib import Path

from servicekit.settings import service_settings

globals().update(service_settings("catalog_service", Path(__file__).resolve().parent.parent, apps=["books"]))
