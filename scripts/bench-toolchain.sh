#!/usr/bin/env bash
# bench-toolchain.sh — the issue's three toolchain figures, each beside its baseline or target,
# all measured in one run. Run by `make bench` (after scripts/bench.sh); needs what `make run`
# installs (python3.11, PostgreSQL, runc, the base image) and PyPI or PIP_FIND_LINKS.
#
#   (a) cold gates: `convoy gate` of this repository's services with no virtualenvs (a new cache
#       directory) but warm package caches, against scripts/baseline-gates.sh (the same installs
#       with pip/pipenv, tests, flake8 and populate, one service after the other): the ratio
#       (target >= 6x), the median of BENCH_ROUNDS (3) convoy runs; (a') the same with the
#       bytecode store the warm-up run's images filled (what any earlier run leaves);
#   (b) cold `convoy run`: no virtualenvs, no images, no layers of the repository's, no stage
#       history, warm package caches and the base image's layers unpacked for runc (once per
#       machine, in ~/.cache/convoy/rootfs, as a container engine keeps a pulled base): wall
#       seconds (target <= 25 s; the median of BENCH_ROUNDS), with where they went — gates and
#       images, then integration; the stage-seconds of each stage; the critical path the run
#       actually took; (b') the same with the bytecode store an earlier run filled; (b'') the
#       same as (b) on a machine that never unpacked the base (a new XDG_CACHE_HOME each round);
#   (c) image stage of a service whose dependencies are unchanged: one source file changed,
#       `convoy build --only SERVICE`, the image stage's seconds (JSON events), split where the
#       stage's log says the runtime requirements are resolved and assembly begins (the times the
#       log's lines were written, polled every 2 ms): target <= 0.1 s beyond assembly.
#
# Every run is on a copy of the working tree (tracked and untracked files, a new git repository in
# a temporary directory), so the developer's .convoy is never touched. "Warm package caches" are
# uv's cache and the provisioned uv under the package cache directory (BENCH_PKG_CACHE, default
# $CONVOY_CACHE_DIR, else ~/.cache/convoy; python.Tools keeps them in CACHE/uv and CACHE/tools),
# linked into each run's new cache directory, and pip's and pipenv's own caches as they are. A
# throwaway `convoy run` and a throwaway baseline warm them first (BENCH_WARM=0 skips both).
#
# Env: BENCH_PKG_CACHE, BENCH_WARM, BENCH_ONLY (a list of gates run image: the parts to run;
# default all three), BENCH_IMAGE_SERVICES (default "events auth": a pip and a pipenv service),
# BENCH_IMAGE_ROUNDS (source changes per service, default 3; the median is the figure),
# BENCH_KEEP (a directory to keep each run's events and the baseline's output in).
set -euo pipefail
# This machine's DNS drops a packet now and then, and glibc waits 5 s before asking again: one
# uv or pip process in three to ten stalls 5 s on a warm cache. A 1 s resolver timeout, for the
# baseline and convoy alike (convoy passes RES_OPTIONS to its downloading stages), keeps the
# network's noise out of the figures.
export RES_OPTIONS=${RES_OPTIONS:-timeout:1 attempts:5}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
TMP=$(mktemp -d "${TMPDIR:-/tmp}/bench-toolchain.XXXXXX")
trap 'rm -rf "$TMP"' EXIT
BIN=$ROOT/bin/convoy
(cd "$ROOT" && go build -o "$BIN" ./ci)
PKG=${BENCH_PKG_CACHE:-${CONVOY_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/convoy}}
ONLY=${BENCH_ONLY:-gates run image}
KEEP=${BENCH_KEEP:-}
[ -z "$KEEP" ] || mkdir -p "$KEEP"
mkdir -p "$PKG/uv" "$PKG/tools"

now() { date +%s.%N; }
sub() { echo "$1 - $2" | bc; }
want() { [[ " $ONLY " == *" $1 "* ]]; }
load1() { cut -d' ' -f1 /proc/loadavg; } # other work on the machine skews every figure: each says its load
keep() { [ -z "$KEEP" ] || cp "$1" "$KEEP/$2"; }

# snapshot DIR: the working tree's tracked and untracked (not ignored) files, as a new git
# repository in DIR with one commit.
snapshot() {
	mkdir -p "$1"
	(cd "$ROOT" && git ls-files -z -co --exclude-standard | tar --null -T - -cf -) | tar -C "$1" -xf -
	(cd "$1" && git init -q && git add -A && git -c user.name=bench -c user.email=bench@localhost commit -qm snapshot)
}

# cache DIR [STORE]: a new cache directory (no virtualenvs, layers or unpacked images) sharing
# the package caches; with STORE, the bytecode store STORE too (an empty one by default).
cache() {
	mkdir -p "$1"
	ln -s "$PKG/uv" "$1/uv"
	ln -s "$PKG/tools" "$1/tools"
	[ -z "${2:-}" ] || { mkdir -p "$2" && ln -s "$2" "$1/bytecode"; }
}

# convoy NAME COMMAND REPO CACHE [FLAGS...]: one convoy process with JSON output into
# $TMP/NAME.ndjson; its wall seconds in $TMP/NAME.wall. Exits the bench on failure.
convoy() {
	local name=$1 cmd=$2 repo=$3 cache=$4 t0 t1
	shift 4
	t0=$(now)
	"$BIN" "$cmd" -C "$repo" --cache-dir "$cache" --output json "$@" >"$TMP/$name.ndjson" 2>"$TMP/$name.stderr" ||
		{ cat "$TMP/$name.stderr" >&2; tail -5 "$TMP/$name.ndjson" >&2; echo "bench-toolchain: convoy $cmd ($name) failed" >&2; exit 1; }
	t1=$(now)
	sub "$t1" "$t0" >"$TMP/$name.wall"
	echo "$t1" >"$TMP/$name.end"
	keep "$TMP/$name.ndjson" "$name.ndjson"
}

# settle: the disk writes of what came before (the last round's files, removed; the new copy)
# are written out before a timing starts, so that a round does not pay for its predecessor.
settle() { sync; }

# baseline NAME REPO: scripts/baseline-gates.sh on REPO, its virtualenvs deleted after the timing.
baseline() {
	local t0 t1
	settle
	t0=$(now)
	BASELINE_WORK=$TMP/$1-work CONVOY=$BIN "$ROOT/scripts/baseline-gates.sh" "$2" >"$TMP/$1.out" 2>&1 ||
		{ cat "$TMP/$1.out" >&2; echo "bench-toolchain: the baseline failed" >&2; exit 1; }
	t1=$(now)
	sub "$t1" "$t0" >"$TMP/$1.wall"
	rm -rf "$TMP/$1-work"
	keep "$TMP/$1.out" "$1.out"
}

# analyse MODE EVENTS PLAN WALL END [BASELINE_OUT]: the breakdown of one run's events.
analyse() {
	python3 - "$@" <<'PY'
import json, re, sys
from datetime import datetime
mode, events_path, plan_path, wall, end = sys.argv[1:6]
baseline_out = sys.argv[6] if len(sys.argv) > 6 else None
wall, end = float(wall), float(end)
def ts(s):
    return datetime.fromisoformat(s.replace("Z", "+00:00")).timestamp()
events = [json.loads(l) for l in open(events_path)]
t0 = min(ts(e["time"]) for e in events if "time" in e)
start, fin, dur, note = {}, {}, {}, {}
notices = []
for e in events:
    if e.get("type") == "notice":
        notices.append((ts(e["time"]) - t0, e.get("message", "")))
    if "stage" not in e or e["type"] not in ("stage.start", "stage.finish"):
        continue
    k = e["service"] + "/" + e["stage"]
    if e["type"] == "stage.start":
        start[k] = ts(e["time"]) - t0
    else:
        fin[k], dur[k] = ts(e["time"]) - t0, e.get("duration", 0.0)
        if e.get("status") != "passed":
            sys.exit(f"bench-toolchain: {k} {e.get('status')}")
        if e.get("message") and "reused" in e.get("message", ""):
            note[k] = "reused"
summary = events[-1]
if summary.get("type") != "summary" or summary.get("status") != "passed":
    sys.exit(f"bench-toolchain: the run did not pass: {summary}")
for s in summary["services"]:
    for st in s["stages"]:
        if st.get("note"):
            note[s["name"] + "/" + st["name"]] = st["note"]
gate_stages = ("deps", "unit", "lint", "populate")
pipeline = [k for k in fin if k.split("/")[1] in gate_stages + ("layer", "image")]
needs = {}
for edge in json.load(open(plan_path))["edges"]:
    needs.setdefault(edge["to"], []).append(edge["from"])

def f(x):
    return f"{x:.1f}"

def by_stage(keys):
    out = {}
    for k in keys:
        out.setdefault(k.split("/")[1], []).append(k)
    return out

# Stage-seconds per stage, with the deps of each service.
per = by_stage(pipeline)
parts = []
for st in gate_stages + ("layer", "image"):
    ks = per.get(st, [])
    if ks:
        parts.append(f"{st} {f(sum(dur[k] for k in ks))}")
print("      stage-seconds: " + ", ".join(parts) + f" (of {f(wall)} s x 2 slots)")
deps = sorted(per.get("deps", []), key=lambda k: -dur[k])
print("      deps: " + ", ".join(f"{k.split('/')[0]} {f(dur[k])}" + (" (reused)" if note.get(k) else "") for k in deps))

# The path the run took: from the last stage to finish, back through what each stage waited
# for — a stage it needs, or (on a full slot) the stage whose end freed the slot: one that
# started before it (two stages of a few milliseconds, at once, would otherwise each be the
# other's, and the walk would never end).
last = max(pipeline, key=lambda k: fin[k])
path, k = [], last
while k:
    s = start[k]
    done = [p for p in pipeline if p != k and fin[p] <= s + 0.05 and start[p] < s]
    prev, why = None, "start"
    if done:
        # What freed it: the latest end before its start, a stage it needs on a near tie.
        latest = max(fin[p] for p in done)
        near = [p for p in done if fin[p] >= latest - 0.05]
        prev = max(near, key=lambda p: (p in needs.get(k, []), fin[p]))
        why = "needs" if prev in needs.get(k, []) else "slot"
        if s - fin[prev] > 0.25:
            why += f" gap {s - fin[prev]:.1f}"
    path.append((k, s, dur[k], why))
    k = prev
path.reverse()
steps = []
for k, s, d, why in path:
    tag = "" if why in ("start", "needs") else f" [after {why}]"
    steps.append(f"{k} {f(d)}{tag}")
span = fin[last]
print(f"      critical path to {f(span)} s: " + " -> ".join(steps))
work = sum(dur[k] for k in pipeline)
memo = {}
def chain(k):
    if k not in memo:
        memo[k] = dur[k] + max((chain(n) for n in needs.get(k, []) if n in dur), default=0.0)
    return memo[k]
cp = max(pipeline, key=chain)
print(f"      lower bound {f(max(chain(cp), work / 2))} s: longest chain {f(chain(cp))} s (ends {cp}), work/2 {f(work / 2)} s")

if mode == "run":
    images = per.get("image", [])
    gates_end = max(fin[k] for k in pipeline if k.split("/")[1] in gate_stages)
    images_end = max(fin[k] for k in images)
    integ = [k for k in fin if k not in pipeline]
    pg = [t for t, m in notices if "postgres ready" in m]
    svc_starts = [k for k in integ if k.split("/")[1] == "integration" and not k.startswith("integration/")]
    suite = [k for k in integ if k.startswith("integration/")]
    total = end - (t0)
    bits = []
    if pg:
        bits.append(f"postgres ready +{f(pg[0] - images_end)}")
    if svc_starts:
        first = min(start[k] for k in svc_starts)
        bits.append(f"first service start at +{f(first - images_end)}")
        bits.append("services started " + f(max(fin[k] for k in svc_starts) - first) + " s ("
                    + ", ".join(f"{k.split('/')[0]} {f(dur[k])}" for k in sorted(svc_starts, key=lambda k: start[k])) + ")")
    for k in suite:
        bits.append(f"{k.split('/')[1]} {f(dur[k])} s")
    last_fin = max(fin.values())
    bits.append(f"exit {f(total - last_fin)} s after")
    print(f"      phases: start-up {f(wall - total)} s, gates done at {f(gates_end)} s, images at {f(images_end)} s (layer and image stages {f(sum(dur[k] for k in images + per.get('layer', [])))} s in all), "
          f"then integration {f(total - images_end)} s")
    print("      integration: " + "; ".join(bits))

if baseline_out:
    steps = re.findall(r"^\s+(\S+)\s+(\S+)\s+([\d.]+) s$", open(baseline_out).read(), re.M)
    tot = {}
    for svc, st, s in steps:
        tot[st] = tot.get(st, 0.0) + float(s)
    bdeps = {}
    for svc, st, s in steps:
        if st in ("venv", "deps"):
            bdeps[svc] = bdeps.get(svc, 0.0) + float(s)
    print("      baseline seconds: " + ", ".join(f"{k} {f(v)}" for k, v in tot.items())
          + "; venv+deps: " + ", ".join(f"{k} {f(v)}" for k, v in sorted(bdeps.items(), key=lambda kv: -kv[1])))
PY
}

# image_round SERVICE REPO CACHE ROUND: one source change of SERVICE, `convoy build --only`,
# the image stage's split; prints "total before after" seconds.
image_round() {
	local svc=$1 repo=$2 cache=$3 round=$4 log file poller
	log=$repo/.convoy/logs/$svc/image.log
	file=$(cd "$repo" && git ls-files "services/$svc/*.py" | grep -v '/tests\?/' | head -1)
	printf '# bench-toolchain: source change %s\n' "$round" >>"$repo/$file"
	rm -f "$log" "$TMP/stop"
	python3 - "$log" "$TMP/stop" >"$TMP/lines" <<'PY' &
# Prints each line of the log with the time it was written (polled every 2 ms) until told to stop.
import os, sys, time
log, stop = sys.argv[1:3]
buf, pos = b"", 0
while True:
    stopping = os.path.exists(stop)
    try:
        with open(log, "rb") as fh:
            fh.seek(pos)
            data = fh.read()
    except FileNotFoundError:
        data = b""
    t = time.time()
    if data:
        pos += len(data)
        buf += data
        while b"\n" in buf:
            line, buf = buf.split(b"\n", 1)
            print(f"{t:.6f} {line.decode(errors='replace')}", flush=True)
    if stopping:
        break
    time.sleep(0.002)
PY
	poller=$!
	convoy "image-$svc-$round" build "$repo" "$cache" --only "$svc"
	touch "$TMP/stop"
	wait "$poller"
	python3 - "$TMP/image-$svc-$round.ndjson" "$TMP/lines" "$svc" <<'PY'
import json, sys
from datetime import datetime
events_path, lines_path, svc = sys.argv[1:4]
def ts(s):
    return datetime.fromisoformat(s.replace("Z", "+00:00")).timestamp()
st = fin = d = None
for l in open(events_path):
    e = json.loads(l)
    if e.get("service") == svc and e.get("stage") == "image":
        if e["type"] == "stage.start":
            st = ts(e["time"])
        elif e["type"] == "stage.finish":
            fin, d = ts(e["time"]), e["duration"]
            if e.get("status") != "passed":
                sys.exit(f"bench-toolchain: image stage of {svc}: {e.get('status')}")
if d is None:
    sys.exit(f"bench-toolchain: no image stage of {svc} ran (was the source change seen?)")
# The local engine logs "resolving the runtime requirements" before it runs uv (or "runtime
# requirements of SVC unchanged" when it keeps an earlier resolution), and "runtime
# requirements of SVC (N)" once it has them, just before assembly (engine/local/image.go).
resolving = resolved = None
for l in open(lines_path):
    t, _, text = l.rstrip("\n").partition(" ")
    if text.startswith(f"convoy: resolving the runtime requirements of {svc} ") or \
            text.startswith(f"convoy: runtime requirements of {svc} unchanged"):
        resolving = float(t)  # uv starts, or the resolution kept from an earlier run is used
    if text.startswith(f"convoy: runtime requirements of {svc} ("):
        resolved = float(t)
if resolved is None or resolving is None:
    sys.exit(f"bench-toolchain: the image log of {svc} lacks the runtime-requirements lines")
prep = max(0.0, min(resolving - st, d))
before = max(prep, min(resolved - st, d))
print(f"{d:.3f} {before:.3f} {d - before:.3f} {prep:.3f} {before - prep:.3f}")
PY
}

echo "toolchain benchmark: $(nproc) cores; load before: $(uptime | sed 's/.*load average: //')"
if [ "${BENCH_WARM:-1}" != 0 ]; then
	snapshot "$TMP/warm"
	cache "$TMP/warm-cache" "$TMP/store" # its images fill the store (a''): what any earlier run leaves
	convoy warm run "$TMP/warm" "$TMP/warm-cache"
	want gates && baseline warm-baseline "$TMP/warm"
	rm -rf "$TMP/warm" "$TMP/warm-cache"
	echo "  warm-up: a throwaway convoy run ($(printf '%.1f' "$(cat "$TMP/warm.wall")") s)$(want gates && printf ' and baseline (%.1f s)' "$(cat "$TMP/warm-baseline.wall")")"
fi

# cold NAME COMMAND DIR [STORE [NOBASE]]: BENCH_ROUNDS (default 3) cold `convoy COMMAND` runs,
# each on a new snapshot DIR and cache DIR-cache (the last round's are left for what follows);
# with NOBASE, each with a new XDG_CACHE_HOME too (the machine's unpacked base layers: none);
# prints each wall time, leaves the median run's files as NAME.*. Rounds, because PyPI
# revalidations stall a uv process by 5 s now and then on this network (measured: 1 in 3 to 1 in
# 10 `uv pip install` of a warm cache, convoy's or by hand), and one run varies by more than the
# targets' margins.
cold() {
	local name=$1 cmd=$2 dir=$3 store=${4:-} nobase=${5:-} r walls=""
	for r in $(seq "${BENCH_ROUNDS:-3}"); do
		rm -rf "$dir" "$dir-cache" "$dir-xdg"
		snapshot "$dir"
		cache "$dir-cache" "$store"
		settle
		if [ -n "$nobase" ]; then
			XDG_CACHE_HOME=$dir-xdg convoy "$name-$r" "$cmd" "$dir" "$dir-cache"
		else
			convoy "$name-$r" "$cmd" "$dir" "$dir-cache"
		fi
		walls="$walls $(cat "$TMP/$name-$r.wall") $r"
	done
	rm -rf "$dir-xdg"
	r=$(echo "$walls" | xargs -n2 | sort -n | awk '{ a[NR] = $2 } END { print a[int((NR + 1) / 2)] }')
	for f in wall end ndjson; do cp "$TMP/$name-$r.$f" "$TMP/$name.$f"; done
	echo "$walls" | xargs -n2 | awk '{ printf " %.1f", $1 }' >"$TMP/$name.rounds"
}

if want gates; then
	snapshot "$TMP/a"
	l0=$(load1)
	"$BIN" plan -C "$TMP/a" --output json >"$TMP/a-plan.json"
	baseline baseline "$TMP/a"
	cold gates gate "$TMP/a"
	cold gates-store gate "$TMP/a" "$TMP/store"
	c=$(cat "$TMP/gates.wall") w=$(cat "$TMP/gates-store.wall") b=$(cat "$TMP/baseline.wall")
	printf '(a) cold gates: convoy %.1f s (median of%s), baseline %.1f s -> %.1fx (target >= 6x)   [load %s -> %s]\n' \
		"$c" "$(cat "$TMP/gates.rounds")" "$b" "$(echo "$b / $c" | bc -l)" "$l0" "$(load1)"
	analyse gate "$TMP/gates.ndjson" "$TMP/a-plan.json" "$c" "$(cat "$TMP/gates.end")" "$TMP/baseline.out"
	printf "(a') cold gates, the bytecode store an earlier run's images filled: convoy %.1f s (median of%s) -> %.1fx\n" \
		"$w" "$(cat "$TMP/gates-store.rounds")" "$(echo "$b / $w" | bc -l)"
fi

if want run || want image; then
	snapshot "$TMP/b"
	"$BIN" plan -C "$TMP/b" --output json >"$TMP/b-plan.json"
	l0=$(load1)
	cold run-store run "$TMP/b" "$TMP/store"
	cold run-nobase run "$TMP/b" "" nobase
	cold run run "$TMP/b" # last: (c) builds in its repository
	printf '(b) cold convoy run: %.1f s (median of%s; target <= 25 s)   [load %s -> %s]\n' \
		"$(cat "$TMP/run.wall")" "$(cat "$TMP/run.rounds")" "$l0" "$(load1)"
	analyse run "$TMP/run.ndjson" "$TMP/b-plan.json" "$(cat "$TMP/run.wall")" "$(cat "$TMP/run.end")"
	printf "(b') cold convoy run, the bytecode store an earlier run filled: %.1f s (median of%s)\n" \
		"$(cat "$TMP/run-store.wall")" "$(cat "$TMP/run-store.rounds")"
	printf "(b'') cold convoy run, the base image's layers unpacked too (a machine's first run): %.1f s (median of%s)\n" \
		"$(cat "$TMP/run-nobase.wall")" "$(cat "$TMP/run-nobase.rounds")"
fi

if want image; then
	for svc in ${BENCH_IMAGE_SERVICES:-events auth}; do
		: >"$TMP/rounds"
		l0=$(load1)
		for round in $(seq "${BENCH_IMAGE_ROUNDS:-3}"); do
			image_round "$svc" "$TMP/b" "$TMP/b-cache" "$round" >>"$TMP/rounds"
		done
		sort -n "$TMP/rounds" | awk -v svc="$svc" -v l0="$l0" -v l1="$(load1)" '{ r[NR] = $0; all = all sprintf(" %.3f", $1) }
			END { split(r[int((NR + 1) / 2)], m, " ")
				printf "(c) image stage, deps unchanged (%s): %.3f s, of which %.3f s before assembly (target <= 0.100 s) + %.3f s assembly and store   [load %s -> %s]\n", svc, m[1], m[2], m[3], l0, l1
				printf "      before assembly: %.3f s input hash, base, freeze, spec + %.3f s uv resolve; the median of %d rounds:%s s\n", m[4], m[5], NR, all }'
	done
fi
echo "  load after: $(uptime | sed 's/.*load average: //')"
