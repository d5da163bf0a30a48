"""A stand-in for a Django manage.py, standard library only: migrate, populate, serve."""
import os
import socket
import sys
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def main(argv):
    cmd = argv[1]
    if cmd == "migrate":
        # The run's Postgres server must be bound under its hostname and up.
        url = urllib.parse.urlparse(os.environ["DATABASE_URL"])
        socket.create_connection((url.hostname, url.port), timeout=10).close()
        print("migrated", url.path.lstrip("/"))
    elif cmd == "populate":
        scenario = argv[argv.index("--scenario") + 1] if "--scenario" in argv else "default"
        print("populated", scenario)
    elif cmd == "serve":
        name = os.environ.get("CONVOY_SERVICE", "")

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                self.send_response(200 if self.path == "/healthz" else 404)
                self.end_headers()
                self.wfile.write(name.encode())

        ThreadingHTTPServer((argv[2], int(argv[3])), Handler).serve_forever()
    else:
        sys.exit("unknown command " + cmd)


if __name__ == "__main__":
    main(sys.argv)
