from pathlib import Path

from common.settings import base_settings

globals().update(base_settings("catalog_service", Path(__file__).resolve().parent.parent, apps=["products"]))
