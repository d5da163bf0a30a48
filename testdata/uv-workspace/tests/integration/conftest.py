"""Cross-service tests against running services; base URLs come from <NAME>_URL."""
import os

import pytest
import requests

SERVICES = ["catalog", "orders"]


def pytest_sessionstart(session):
    variables = [f"{name.upper()}_URL" for name in SERVICES]
    missing = [v for v in variables if not os.environ.get(v)]
    if missing:
        pytest.exit(f"{', '.join(missing)} not set: export the base URL of every running service",
                    returncode=1)


def pytest_generate_tests(metafunc):
    if "service" in metafunc.fixturenames:
        metafunc.parametrize("service", SERVICES)


@pytest.fixture(scope="session")
def api():
    """``api("catalog").get("/api/products/")``: a client of one running service."""
    class Api:
        def __init__(self, name):
            self.base = os.environ[f"{name.upper()}_URL"].rstrip("/")

        def get(self, path):
            return requests.get(self.base + path, timeout=10)

        def post(self, path, body):
            return requests.post(self.base + path, json=body, timeout=10)

    return Api
