"""Cross-service tests against running services; base URLs come from the environment."""
import os
import uuid

import pytest
import requests

SERVICES = ["auth", "events", "payments", "opportunities"]
TIMEOUT = 10


def url_variable(name):
    return f"{name.upper()}_URL"


def pytest_sessionstart(session):
    """Refuse to run (exit status 1, nothing skipped) unless every service's URL is set."""
    missing = [url_variable(name) for name in SERVICES if not os.environ.get(url_variable(name))]
    if missing:
        pytest.exit(f"{', '.join(missing)} not set: export the base URL of every running service "
                    f"(e.g. AUTH_URL=http://127.0.0.1:8001; see tests/integration/README.md)",
                    returncode=1)


def pytest_generate_tests(metafunc):
    """A test taking ``service`` runs once per service."""
    if "service" in metafunc.fixturenames:
        metafunc.parametrize("service", SERVICES)


def service_url(name):
    """The base URL of service ``name``, from ``<NAME>_URL``."""
    return os.environ[url_variable(name)].rstrip("/")


class Api:
    """A tiny client for one service: ``api.get("/api/x/")`` with an optional JWT."""

    def __init__(self, base_url, token=None):
        self.base_url = base_url
        self.session = requests.Session()
        if token:
            self.session.headers["Authorization"] = f"Bearer {token}"

    def get(self, path, **kwargs):
        return self.session.get(self.base_url + path, timeout=TIMEOUT, **kwargs)

    def post(self, path, **kwargs):
        return self.session.post(self.base_url + path, timeout=TIMEOUT, **kwargs)


@pytest.fixture(scope="session")
def api():
    """``api("events")``: an anonymous client of a service; ``api("events", token)`` sends a JWT."""
    return lambda name, token=None: Api(service_url(name), token)


@pytest.fixture(scope="session")
def login(api):
    """``login(username, password)`` returns auth's answer: ``{"token": ..., "uuid": ...}``."""
    def obtain(username, password):
        credentials = {"username": username, "password": password}
        response = api("auth").post("/api/token/", json=credentials)
        assert response.status_code == 200, response.text
        return response.json()
    return obtain


@pytest.fixture(scope="session")
def user(api, login):
    """A brand-new user (unique per run, so the suite can rerun on the same databases)."""
    credentials = {"username": f"it-{uuid.uuid4().hex[:12]}", "password": "integration-password"}
    created = api("auth").post("/api/users/", json={**credentials, "email": "it@example.com"})
    assert created.status_code == 201, created.text
    token = login(**credentials)
    assert token["uuid"] == created.json()["uuid"]
    return {**created.json(), "token": token["token"]}


@pytest.fixture(scope="session")
def as_user(api, user):
    """``as_user("events")`` is a client of that service sending the new user's JWT."""
    return lambda name: api(name, user["token"])
