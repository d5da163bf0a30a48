"""A worker in the shape of a Celery worker: takes jobs from the Redis list "jobs" at
CELERY_BROKER_URL and stores "result:JOB"."""
import os

import resp

call = resp.connect(os.environ["CELERY_BROKER_URL"])
assert call("PING") == "PONG"
print("worker ready", flush=True)
while True:
    _, job = call("BLPOP", "jobs", 0)
    call("SET", "result:" + job, "done by " + os.environ["DATABASE_URL"].rsplit("/", 1)[1])
