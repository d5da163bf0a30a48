"""A cross-service test that fails on purpose (convoy's broken variant "integration-test")."""
import os

import requests


def test_events_lists_an_event_that_does_not_exist():
    resp = requests.get(os.environ["EVENTS_URL"] + "/api/events/999999/", timeout=10)
    assert resp.status_code == 200, "there is no event 999999: this test is meant to fail"
