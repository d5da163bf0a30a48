"""Settings of the orders service: the shop's shared ones (shopkit), from the environment."""
from pathlib import Path

from shopkit.settings import service_settings

BASE_DIR = Path(__file__).resolve().parent.parent

globals().update(service_settings("orders_service", BASE_DIR, apps=["orders"]))
