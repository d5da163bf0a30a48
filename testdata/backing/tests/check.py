"""The cross-service suite: the gateway answers on TCP, the mailer has a URL, and orders' worker
does a job sent through the run's Redis."""
import os
import socket
import sys
import time
import urllib.parse

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "svc", "orders"))
import resp  # noqa: E402

gw = urllib.parse.urlsplit(os.environ["GATEWAY_URL"])
with socket.create_connection((gw.hostname, gw.port), timeout=10) as conn:
    line = conn.makefile().readline()
    assert line == "gateway here\n", line

assert os.environ["MAILER_URL"].startswith("http://127.0.0.1:"), os.environ["MAILER_URL"]

call = resp.connect(os.environ["REDIS_URL"])
call("RPUSH", "jobs", "7")
deadline = time.monotonic() + 30
while (result := call("GET", "result:7")) is None:
    assert time.monotonic() < deadline, "the worker never did job 7"
    time.sleep(0.05)
assert result.startswith("done by orders_"), result
print("suite passed: gateway, mailer, orders/worker through", os.environ["REDIS_URL"])
