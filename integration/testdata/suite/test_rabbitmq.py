"""The events service declares RabbitMQ and Redis: the broker is RabbitMQ, which speaks AMQP."""
import json
import os
import socket
import urllib.parse
import urllib.request


def test_rabbitmq_speaks_amqp_and_is_the_broker():
    with urllib.request.urlopen(os.environ["EVENTS_URL"] + "/env", timeout=10) as resp:
        env = json.load(resp)
    assert env["CELERY_BROKER_URL"] == env["RABBITMQ_URL"] == os.environ["RABBITMQ_URL"]
    assert env["REDIS_URL"] == os.environ["REDIS_URL"]
    url = urllib.parse.urlsplit(os.environ["RABBITMQ_URL"])
    assert url.scheme == "amqp" and url.hostname == "127.0.0.1"
    with socket.create_connection((url.hostname, url.port), timeout=10) as conn:
        conn.sendall(b"AMQP\x00\x00\x09\x01")
        assert conn.recv(1) == b"\x01"  # a method frame: Connection.Start
