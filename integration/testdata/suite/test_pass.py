"""Cross-service checks against the fixture services api and web."""
import json
import os
import urllib.request


def get(url):
    with urllib.request.urlopen(url, timeout=10) as resp:
        return json.load(resp)


def test_api_is_healthy_with_its_own_database():
    body = get(os.environ["API_URL"] + "/healthz")
    assert body["database"].startswith("api_")
    assert body["items"] == "default"


def test_web_reaches_api_through_its_url():
    body = get(os.environ["WEB_URL"] + "/healthz")
    assert body["database"].startswith("web_")
    assert body["needs"]["database"].startswith("api_")


def test_each_service_has_its_own_database_url_and_shared_settings():
    api, web = get(os.environ["API_URL"] + "/env"), get(os.environ["WEB_URL"] + "/env")
    assert api["DATABASE_URL"] != web["DATABASE_URL"]
    assert api["WEB_URL"] == web["WEB_URL"] == os.environ["WEB_URL"]
    assert api["JWT_SECRET"] == web["JWT_SECRET"] == os.environ["JWT_SECRET"]
    assert "DATABASE_URL" not in os.environ
