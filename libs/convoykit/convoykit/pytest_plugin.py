"""pytest fixtures for the services: ``pytest_plugins = ["convoykit.pytest_plugin"]``."""
import pytest
from rest_framework.test import APIClient

from .testing import TEST_SECRET, bearer


@pytest.fixture(autouse=True)
def jwt_secret(monkeypatch):
    """Every test runs with ``JWT_SECRET`` set to :data:`~convoykit.testing.TEST_SECRET`."""
    monkeypatch.setenv("JWT_SECRET", TEST_SECRET)
    return TEST_SECRET


@pytest.fixture
def api_client():
    """An anonymous DRF test client."""
    return APIClient()


@pytest.fixture
def client_as():
    """A factory: ``client_as(user_uuid)`` returns a DRF client sending that user's JWT."""
    def make(user_uuid):
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=bearer(user_uuid))
        return client
    return make
