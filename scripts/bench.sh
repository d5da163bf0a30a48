#!/usr/bin/env bash
# Scheduler benchmarks: wall time of `convoy gate` against a lower bound on any schedule, each
# figure with its baseline measured in the same run (FIFO order via CONVOY_SCHEDULE=fifo, and
# -j 1). Run by `make bench`; needs Go and python3 on PATH (and, for the sample services, what
# `make run` installs).
#
#   (a) a generated 50-service repo whose unit/lint/populate stages sleep known durations, at
#       -j 2 and -j 8: priority order vs FIFO order;
#   (b) warm gates of this repository's services at -j 2: priority vs FIFO vs -j 1;
#   (c) the integration phase of `convoy run --no-cache` of this repository (from the last image
#       built to the end of the suite): overlapped with the gates and images (the default) vs
#       started after every image (CONVOY_OVERLAP=off).
#
# The lower bound ("ideal") of a run is max(longest chain, total work / jobs) over the stage
# durations that run itself measured (JSON output) and the plan's edges: no schedule of those
# stages on that many slots can finish sooner. Ratios are wall / ideal, where wall is the stage
# span (first stage start to last stage end); the whole process's time is printed beside it.
# For graphs of up to 24 stages (the sample) the optimal schedule of the same durations and edges
# is also found (branch and bound over every schedule, idle slots included) and span/optimum
# printed: the bound is not always reachable (durations that do not pack), the optimum is.
#
# Env: BENCH_ONLY=synthetic|sample|integration (default all three), BENCH_JOBS (synthetic -j values, default "2 8"), BENCH_SCALE (synthetic durations factor,
# default 0.5), BENCH_KEEP (a directory to keep each run's events in), CONVOY_CACHE_DIR (virtualenvs; default each repo's .convoy/cache).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
BIN=$TMP/convoy
SCALE=${BENCH_SCALE:-0.5}
(cd "$ROOT" && go build -o "$BIN" ./ci)

# report LABEL JOBS PLAN_JSON EVENTS_NDJSON PROCESS_SECONDS: prints one measured line and writes
# the stage span to $TMP/last.
report() {
	python3 - "$@" "$TMP/last" <<'PY'
import json, sys
from datetime import datetime
label, jobs, plan_path, events_path, process, out = sys.argv[1:7]
jobs, process = int(jobs), float(process)
def ts(s):
    return datetime.fromisoformat(s.replace("Z", "+00:00")).timestamp()
dur, start, end = {}, {}, {}
for line in open(events_path):
    e = json.loads(line)
    if e.get("type") == "summary" and e.get("status") != "passed":
        sys.exit(f"{label}: the run did not pass ({e.get('status')})")
    if "stage" not in e:
        continue
    key = e["service"] + "/" + e["stage"]
    if e["type"] == "stage.start":
        start[key] = ts(e["time"])
    elif e["type"] == "stage.finish":
        end[key], dur[key] = ts(e["time"]), e.get("duration", 0.0)
needs = {}
for edge in json.load(open(plan_path))["edges"]:
    if edge["to"] in dur and edge["from"] in dur:
        needs.setdefault(edge["to"], []).append(edge["from"])
memo = {}
def chain(k):  # longest chain of measured durations ending with k
    if k not in memo:
        memo[k] = dur[k] + max((chain(n) for n in needs.get(k, [])), default=0.0)
    return memo[k]
cp = max(chain(k) for k in dur)
work = sum(dur.values())
ideal = max(cp, work / jobs)
span = max(end.values()) - min(start.values())

# The optimal makespan of these durations and edges on `jobs` slots (small graphs only), by
# branch and bound over every schedule whose starts are at 0 or at a completion (any schedule
# can be shifted left into one): at each decision, start a ready stage on a free slot, or wait
# for the next completion with the slot idle.
after = {}
for k, ns in needs.items():
    for n in ns:
        after.setdefault(n, []).append(k)
tail = {}
def tl(k):  # longest chain of durations starting with k
    if k not in tail:
        tail[k] = dur[k] + max((tl(a) for a in after.get(k, [])), default=0.0)
    return tail[k]
best, seen = [sum(dur.values())], {}
def search(t, done, running, left):
    ends = [e for _, e in running]
    lb = max([t, *ends] + [max(t, max((e for k2, e in running if k2 in needs.get(k, [])), default=t)) + tl(k)
                          for k in left] + [t + (sum(e - t for e in ends) + sum(dur[k] for k in left)) / jobs])
    if lb >= best[0] - 1e-9:
        return
    if not left and not running:
        best[0] = t
        return
    key = (done, tuple(sorted((k, round(e - t, 6)) for k, e in running)))
    if seen.get(key, float("inf")) <= t:
        return
    seen[key] = t
    if len(running) < jobs:
        for k in sorted(left, key=lambda k: -tl(k)):
            if all(n in done for n in needs.get(k, [])):
                search(t, done, running + ((k, t + dur[k]),), left - {k})
    if running:  # let the next stage finish, idle or not
        nxt = min(ends)
        fin = frozenset(k for k, e in running if e <= nxt + 1e-12)
        search(nxt, done | fin, tuple(r for r in running if r[0] not in fin), left)
optimum = "-"
if len(dur) <= 24:
    search(0.0, frozenset(), (), frozenset(dur))
    optimum = f"{best[0]:6.2f} s, span/optimum {span / best[0]:5.3f}x"
print(f"  {label:<22} span {span:6.2f} s (process {process:6.2f} s)   ideal {ideal:6.2f} s "
      f"[chain {cp:5.2f}, work/{jobs} {work / jobs:5.2f}]   span/ideal {span / ideal:5.3f}x   optimal schedule {optimum}")
open(out, "w").write(f"{span}\n")
PY
}

# measure LABEL REPO JOBS [ENV=VAL...]: BENCH_ROUNDS (default 3) measured `convoy gate` runs; the
# one of median span is reported (with every round's span), its span left in $TMP/last. Rounds,
# because one warm run of the sample varies by more than the 5 % the targets are about (spans of
# 6.96 and 7.85 s, minutes apart, on a quiet machine).
measure() {
	local label=$1 repo=$2 jobs=$3 r t0 t1 spans=""
	shift 3
	"$BIN" plan -C "$repo" --output json >"$TMP/plan.json"
	for r in $(seq "${BENCH_ROUNDS:-3}"); do
		sync # the last round's disk writes are not this one's
		t0=$(date +%s.%N)
		env "$@" "$BIN" gate -C "$repo" -j "$jobs" --output json >"$TMP/events-$r.ndjson" 2>"$TMP/stderr" ||
			{ cat "$TMP/stderr" "$TMP/events-$r.ndjson" >&2; echo "bench: $label failed" >&2; exit 1; }
		t1=$(date +%s.%N)
		echo "$t1 - $t0" | bc >"$TMP/process-$r"
		report "$label" "$jobs" "$TMP/plan.json" "$TMP/events-$r.ndjson" "$(cat "$TMP/process-$r")" >/dev/null
		spans="$spans $(cat "$TMP/last") $r"
	done
	r=$(echo "$spans" | xargs -n2 | sort -n | awk '{ a[NR] = $2 } END { print a[int((NR + 1) / 2)] }')
	[ -z "${BENCH_KEEP:-}" ] || cp "$TMP/events-$r.ndjson" "$BENCH_KEEP/${label//[^a-z0-9-]/_}-j$jobs.ndjson"
	report "$label" "$jobs" "$TMP/plan.json" "$TMP/events-$r.ndjson" "$(cat "$TMP/process-$r")" |
		sed "s/\$/   (median of$(echo "$spans" | xargs -n2 | awk '{ printf " %.2f", $1 }'))/"
}

span() { cat "$TMP/last"; }
ratio() { echo "scale=3; $1 / $2" | bc; }

# synthetic writes a 50-service repo whose stages sleep known, varied durations: 0.1-0.8 s, and
# three services with chains of 6-9 s (before BENCH_SCALE), close to the work per slot at -j 8,
# so that starting them late shows.
synthetic() {
	python3 - "$1" "$SCALE" <<'PY'
import os, sys
root, scale = sys.argv[1], float(sys.argv[2])
lines = ["version: 1", "defaults:", "  timeout: 2m", "services:"]
for i in range(50):
    d = {"unit": 0.2 + 0.1 * (i * 7 % 6), "lint": 0.1 + 0.05 * (i * 3 % 4), "populate": 0.2 + 0.1 * (i * 5 % 7)}
    d.update({13: {"unit": 3.0, "populate": 6.0}, 27: {"populate": 5.0}, 41: {"unit": 4.0, "populate": 2.0}}.get(i, {}))
    name = f"svc{i:02d}"
    os.makedirs(f"{root}/services/{name}")
    open(f"{root}/services/{name}/requirements.txt", "w").close()
    lines += [f"  - name: {name}", f"    path: services/{name}"]
    lines += [f'    {st}: [python, -c, "import time; time.sleep({s * scale:.3f})"]' for st, s in d.items()]
open(f"{root}/services.yaml", "w").write("\n".join(lines) + "\n")
PY
}

if [ -z "${BENCH_ONLY:-}" ] || [ "$BENCH_ONLY" = synthetic ]; then
	repo=$TMP/synthetic
	synthetic "$repo"
	"$BIN" gate -C "$repo" -j 8 --output json >/dev/null # warm: the shared virtualenv, the history
	for jobs in ${BENCH_JOBS:-2 8}; do
		echo "synthetic: 50 services, sleeps x$SCALE, -j $jobs (target span/ideal <= 1.05)"
		measure "priority" "$repo" "$jobs"
		p=$(span)
		measure "fifo (baseline)" "$repo" "$jobs" CONVOY_SCHEDULE=fifo
		f=$(span)
		echo "  priority is $(ratio "$f" "$p")x faster than fifo"
	done
fi

if [ -z "${BENCH_ONLY:-}" ] || [ "$BENCH_ONLY" = sample ]; then
	echo "sample: the repository's $(grep -c '^  - name:' "$ROOT/services.yaml") services, warm gates (targets: <= 1.05x ideal, >= 1.85x faster than -j 1)"
	"$BIN" gate -C "$ROOT" -j 2 --output json >/dev/null # warm: virtualenvs, the history
	measure "-j 2 priority" "$ROOT" 2
	p=$(span)
	measure "-j 2 fifo (baseline)" "$ROOT" 2 CONVOY_SCHEDULE=fifo
	f=$(span)
	measure "-j 1 (baseline)" "$ROOT" 1
	one=$(span)
	echo "  -j 2 priority is $(ratio "$one" "$p")x faster than -j 1; -j 2 fifo is $(ratio "$one" "$f")x"
fi

# integration LABEL [ENV=VAL...]: one `convoy run --no-cache` of the sample (warm virtualenvs,
# every gate and image stage run again, integration from the images in runc); prints the wall
# time and the integration phase — from the last image built to the end of the suite — and writes
# the phase to $TMP/last.
integration() {
	local label=$1
	shift
	sync # the last run's disk writes are not this one's
	env "$@" "$BIN" run -C "$ROOT" --no-cache --output json >"$TMP/run.ndjson" 2>"$TMP/stderr" ||
		{ cat "$TMP/stderr" >&2; echo "bench: $label failed" >&2; exit 1; }
	python3 - "$label" "$TMP/run.ndjson" "$TMP/last" <<'PY'
import json, sys
from datetime import datetime
label, events, out = sys.argv[1:4]
ts = lambda s: datetime.fromisoformat(s.replace("Z", "+00:00")).timestamp()
start = images = suite = None
for line in open(events):
    e = json.loads(line)
    if e["type"] == "run.start":
        start = ts(e["time"])
    elif e["type"] == "stage.finish" and e.get("stage") == "image":
        images = max(images or 0, ts(e["time"]))
    elif e["type"] == "stage.finish" and e.get("stage") == "suite":
        suite = ts(e["time"])
    elif e["type"] == "summary" and e.get("status") != "passed":
        sys.exit(f"{label}: the run did not pass")
phase = suite - images
print(f"  {label:<26} wall {suite - start:6.2f} s   integration phase (last image -> suite done) {phase:6.2f} s")
open(out, "w").write(f"{phase}\n")
PY
}

if [ -z "${BENCH_ONLY:-}" ] || [ "$BENCH_ONLY" = integration ]; then
	echo "sample: integration phase of convoy run (target: <= 60% of integration after every image)"
	integration "overlapped"
	o=$(span)
	integration "after images (baseline)" CONVOY_OVERLAP=off
	a=$(span)
	echo "  overlapped integration phase is $(echo "scale=0; 100 * $o / $a" | bc)% of the baseline's"
fi
