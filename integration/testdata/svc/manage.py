"""A stand-in for a Django service's manage.py, standard library only, for convoy's integration tests.

    python manage.py migrate --noinput          creates table items in $DATABASE_URL (with psql)
    python manage.py populate --scenario NAME   inserts a row named NAME
    python manage.py runserver HOST:PORT        serves /healthz and /env
    python manage.py tcpserver HOST:PORT        answers every TCP connection with one line, not HTTP
    python manage.py idle                       runs until it is stopped, listening nowhere
    python manage.py worker                     takes jobs from the Redis list "jobs" at $REDIS_URL and
                                                sets "result:JOB"; prints "worker ready" once connected

/healthz answers 200 when this service's database answers (through psql) and, if NEEDS names an
environment variable (e.g. API_URL), when that service's /healthz answers 200 too. Faults on demand:
FAIL_MIGRATE=1, CRASH_AT_START=1, UNHEALTHY=1.
"""
import json
import os
import signal
import socket
import subprocess
import sys
import urllib.parse
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def psql(sql):
    out = subprocess.run(
        ["psql", "-X", "-v", "ON_ERROR_STOP=1", "-At", "-F", "|", "-d", os.environ["DATABASE_URL"], "-c", sql],
        check=True, capture_output=True, text=True, timeout=10,
    )
    return out.stdout.strip()


def migrate():
    if os.environ.get("FAIL_MIGRATE"):
        print("migration 0002 failed: relation \"nope\" does not exist", flush=True)
        sys.exit(1)
    psql("CREATE TABLE IF NOT EXISTS items (name text PRIMARY KEY)")
    print("migrated", psql("SELECT current_database()"), flush=True)


def populate(scenario):
    psql(f"INSERT INTO items VALUES ('{scenario}') ON CONFLICT DO NOTHING")
    print("populated scenario", scenario, flush=True)


class Handler(BaseHTTPRequestHandler):
    def do_GET(self):
        if self.path == "/healthz":
            self.healthz()
        elif self.path == "/env":
            keys = sorted(k for k in os.environ if k.endswith("_URL") or k in ("JWT_SECRET", "HOST", "PORT"))
            self.answer(200, {k: os.environ[k] for k in keys})
        else:
            self.answer(404, {"error": "not found"})

    def healthz(self):
        if os.environ.get("UNHEALTHY"):
            return self.answer(503, {"status": "unhealthy on purpose"})
        try:
            database, items = psql("SELECT current_database(), string_agg(name, ',') FROM items").split("|")
        except Exception as exc:  # noqa: BLE001 - reported to the caller
            return self.answer(503, {"status": "database down", "error": str(exc)})
        body = {"status": "ok", "database": database, "items": items}
        needs = os.environ.get("NEEDS")
        if needs:
            try:
                with urllib.request.urlopen(os.environ[needs] + "/healthz", timeout=5) as resp:
                    body["needs"] = json.load(resp)
            except Exception as exc:  # noqa: BLE001
                return self.answer(503, {"status": f"{needs} down", "error": str(exc)})
        self.answer(200, body)

    def answer(self, code, body):
        data = json.dumps(body).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, fmt, *args):
        print(fmt % args, flush=True)


def runserver(addr):
    if os.environ.get("CRASH_AT_START"):
        print("boom: ImproperlyConfigured: SECRET_KEY must not be empty", flush=True)
        sys.exit(3)
    host, port = addr.rsplit(":", 1)
    server = ThreadingHTTPServer((host, int(port)), Handler)
    print(f"listening on {host}:{port}", flush=True)
    server.serve_forever()


def tcpserver(addr):
    host, port = addr.rsplit(":", 1)
    with socket.create_server((host, int(port))) as srv:
        print(f"tcp listening on {host}:{port}", flush=True)
        while True:
            conn, _ = srv.accept()
            with conn:
                conn.sendall(b"hello from " + os.environ["DATABASE_URL"].rsplit("/", 1)[1].encode() + b"\n")


def idle():
    print("idle, listening nowhere", flush=True)
    while True:
        signal.pause()


def redis(url):
    """A connection to the Redis server at url and a function sending one command (RESP)."""
    parts = urllib.parse.urlsplit(url)
    conn = socket.create_connection((parts.hostname, parts.port), timeout=30)
    reader = conn.makefile("rb")

    def call(*args):
        out = b"*%d\r\n" % len(args)
        for a in args:
            a = str(a).encode()
            out += b"$%d\r\n%s\r\n" % (len(a), a)
        conn.sendall(out)
        return read(reader)
    return call


def read(reader):
    line = reader.readline().rstrip(b"\r\n")
    kind, rest = line[:1], line[1:]
    if kind in (b"+", b":"):
        return rest.decode()
    if kind == b"-":
        raise RuntimeError(rest.decode())
    if kind == b"$":
        n = int(rest)
        return None if n < 0 else reader.read(n + 2)[:-2].decode()
    if kind == b"*":
        n = int(rest)
        return None if n < 0 else [read(reader) for _ in range(n)]
    raise RuntimeError(f"unexpected answer {line!r}")


def worker():
    call = redis(os.environ["REDIS_URL"])
    assert call("PING") == "PONG"
    if os.environ.get("WORKER_CRASH"):
        sys.exit("worker: cannot import tasks")
    if not os.environ.get("WORKER_MUTE"):
        print("worker ready", flush=True)
    database = os.environ["DATABASE_URL"].rsplit("/", 1)[1]
    while True:
        popped = call("BLPOP", "jobs", 0)
        call("SET", "result:" + popped[1], f"done by the worker of {database}")


def main(argv):
    cmd = argv[1] if len(argv) > 1 else ""
    if cmd == "migrate":
        migrate()
    elif cmd == "populate":
        populate(argv[argv.index("--scenario") + 1] if "--scenario" in argv else "all")
    elif cmd == "runserver":
        runserver(argv[2])
    elif cmd == "tcpserver":
        tcpserver(argv[2])
    elif cmd == "idle":
        idle()
    elif cmd == "worker":
        worker()
    else:
        sys.exit(f"unknown command {cmd!r}")


if __name__ == "__main__":
    main(sys.argv)
