"""A tiny stdlib HTTP service used by convoy's image tests.

GET /healthz answers 200 with a JSON body naming the versions it imported: the
shared lib (from /app/libs) and, when installed, the dependency six (from
/app/site-packages). It listens on $HOST:$PORT (0.0.0.0:8000 by default).
"""
import json
import os
from http.server import BaseHTTPRequestHandler, HTTPServer

import greet

try:
    import six
    SIX = six.__version__
except ImportError:
    SIX = None


class Handler(BaseHTTPRequestHandler):
    def do_GET(self):
        if self.path != "/healthz":
            self.send_error(404)
            return
        body = json.dumps({"ok": True, "greet": greet.hello("convoy"), "six": SIX}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, fmt, *args):
        print(fmt % args, flush=True)


def main():
    host = os.environ.get("HOST", "0.0.0.0")
    port = int(os.environ.get("PORT", "8000"))
    print(f"listening on {host}:{port}", flush=True)
    HTTPServer((host, port), Handler).serve_forever()


if __name__ == "__main__":
    main()
