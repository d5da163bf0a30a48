from pathlib import Path

from common.settings import base_settings

globals().update(base_settings("users_service", Path(__file__).resolve().parent.parent, apps=["accounts"]))
