"""Cross-service tests against running services; base URLs come from CATALOG_URL and LOANS_URL."""
import os

import pytest
import requests

SERVICES = ["catalog", "loans"]
TIMEOUT = 10


def pytest_sessionstart(session):
    """Refuse to run (exit status 1, nothing skipped) unless every service's URL is set."""
    missing = [f"{name.upper()}_URL" for name in SERVICES if not os.environ.get(f"{name.upper()}_URL")]
    if missing:
        pytest.exit(f"{', '.join(missing)} not set: export the base URL of every running service", returncode=1)


def pytest_generate_tests(metafunc):
    """A test taking ``service`` runs once per service."""
    if "service" in metafunc.fixturenames:
        metafunc.parametrize("service", SERVICES)


class Api:
    """A tiny client of one service: ``api.get("/api/books/")``."""

    def __init__(self, base_url):
        self.base_url = base_url.rstrip("/")
        self.session = requests.Session()

    def get(self, path, **kwargs):
        return self.session.get(self.base_url + path, timeout=TIMEOUT, **kwargs)

    def post(self, path, **kwargs):
        return self.session.post(self.base_url + path, timeout=TIMEOUT, **kwargs)


@pytest.fixture(scope="session")
def api():
    """``api("catalog")``: a client of that service."""
    return lambda name: Api(os.environ[f"{name.upper()}_URL"])
