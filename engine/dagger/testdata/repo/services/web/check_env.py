"""The web service's "unit tests" in the engine tests: the environment is the local engine's."""
import os
import sys

want = {
    "CONVOY_SERVICE": "web", "CONVOY_STAGE": "unit", "VIRTUAL_ENV": "/convoy/venv",
    "PYTHONPATH": "/app/src:/app/libs/kit", "HOME": "/tmp", "SHARED": "1", "LANG": "C.UTF-8",
    "PYTHONDONTWRITEBYTECODE": "1", "PYTHONUNBUFFERED": "1",
    "DATABASE_URL": "sqlite:////convoy/db/unit.sqlite3", "PYTEST_ADDOPTS": "-p no:cacheprovider",
}
bad = {k: (os.environ.get(k), v) for k, v in want.items() if os.environ.get(k) != v}
assert not bad, bad
assert os.environ["PATH"].startswith("/convoy/venv/bin:"), os.environ["PATH"]
assert "PIP_CACHE_DIR" not in os.environ, "the deps stage's variables leaked"
assert sys.prefix == "/convoy/venv", sys.prefix
assert os.getcwd() == "/app/src", os.getcwd()
assert not os.path.exists("/convoy/db/unit.sqlite3"), "the database is not fresh"
open("/convoy/db/unit.sqlite3", "w").close()

import kit  # noqa: E402  (from libs/kit, on PYTHONPATH)

print("environment ok:", kit.NAME)
