"""One passing and one failing cross-service test."""
import os
import urllib.request


def test_api_answers():
    with urllib.request.urlopen(os.environ["API_URL"] + "/healthz", timeout=10) as resp:
        assert resp.status == 200


def test_api_has_the_demo_scenario():
    with urllib.request.urlopen(os.environ["API_URL"] + "/healthz", timeout=10) as resp:
        body = resp.read().decode()
    assert "demo" in body, "scenario demo not loaded"
