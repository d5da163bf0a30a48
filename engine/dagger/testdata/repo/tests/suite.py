"""The engine tests' cross-service suite: every service answers under its hostname."""
import os
import sys
import urllib.request

failed = 0
for name in ("web", "api"):
    url = os.environ[name.upper() + "_URL"]
    body = urllib.request.urlopen(url + "/healthz", timeout=10).read().decode()
    ok = body == name
    failed += not ok
    print(name, url, "ok" if ok else "answered %r" % body)
print("%d passed, %d failed" % (2 - failed, failed))
sys.exit(1 if failed else 0)
