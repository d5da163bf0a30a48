from pathlib import Path

from common.settings import base_settings

globals().update(base_settings("orders_service", Path(__file__).resolve().parent.parent, apps=["orders"]))

import os  # noqa: E402

CATALOG_URL = os.environ.get("CATALOG_URL", "http://catalog:8001")
CELERY_BROKER_URL = os.environ.get("CELERY_BROKER_URL", "redis://localhost:6379/0")
