"""The orders service's worker takes jobs through the run's Redis, whose URL the suite gets too."""
import json
import os
import sys
import time
import urllib.request

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "svc"))
from manage import redis  # noqa: E402


def test_the_worker_does_a_job_through_redis():
    call = redis(os.environ["REDIS_URL"])
    call("RPUSH", "jobs", "42")
    deadline = time.monotonic() + 20
    while (result := call("GET", "result:42")) is None:
        assert time.monotonic() < deadline, "the worker never did job 42"
        time.sleep(0.05)
    assert result.startswith("done by the worker of orders_")


def test_orders_gets_the_backing_urls():
    with urllib.request.urlopen(os.environ["ORDERS_URL"] + "/env", timeout=10) as resp:
        env = json.load(resp)
    assert env["REDIS_URL"] == os.environ["REDIS_URL"] == os.environ["CELERY_BROKER_URL"]
    assert env["CELERY_BROKER_URL"] == env["REDIS_URL"]
