"""Checks against services that are not HTTP servers: gateway (TCP), quiet (no check) and api."""
import os
import socket
import urllib.parse


def test_gateway_answers_on_tcp():
    url = urllib.parse.urlsplit(os.environ["GATEWAY_URL"])
    with socket.create_connection((url.hostname, url.port), timeout=10) as conn:
        assert conn.makefile().readline().startswith("hello from gateway_")


def test_quiet_has_a_url_all_the_same():
    assert os.environ["QUIET_URL"].startswith("http://127.0.0.1:")
