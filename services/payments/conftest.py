import pytest
import responses as responses_lib

pytest_plugins = ["convoykit.pytest_plugin"]

EVENTS_URL = "http://events.test"


@pytest.fixture(autouse=True)
def events_url(settings):
    settings.EVENTS_URL = EVENTS_URL
    return EVENTS_URL


@pytest.fixture(autouse=True)
def responses():
    """Every test fakes HTTP: a request no test registered fails instead of leaving the machine."""
    with responses_lib.RequestsMock(assert_all_requests_are_fired=False) as mock:
        yield mock
