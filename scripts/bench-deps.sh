#!/bin/sh
# bench-deps.sh — how much faster convoy's deps stage is with uv than with pip.
#
# Installs services/events/requirements-dev.txt into a new virtualenv through the local
# engine's deps stage, in one run: with installer: pip (pip's cache off), with installer: uv and
# an empty uv cache (cold), and again with the cache that filled (warm). Prints the seconds of
# each and pip's time over uv's. Needs PyPI (or PIP_INDEX_URL) and python3.11.
#
#   scripts/bench-deps.sh            # one round
#   BENCH_COUNT=5 scripts/bench-deps.sh
#
# CONVOY_TEST_CACHE names a cache directory where uv is provisioned once (default: a new one).
set -eu
cd "$(dirname "$0")/.."
count=${BENCH_COUNT:-1}
out=$(go test ./engine/local/ -run '^$' -bench '^BenchmarkDepsInstall$' -benchtime "${count}x" -count 1 -timeout 60m)
echo "$out" | grep -E '^(goos|goarch|cpu|Benchmark)' || { echo "$out"; exit 1; }
echo "$out" | awk '/^BenchmarkDepsInstall/ {
	for (i = 3; i < NF; i += 2) v[$(i+1)] = $i
	printf "\ncold install of services/events/requirements-dev.txt into a new virtualenv (mean of %s):\n", $2
	printf "  pip          %6.2f s\n", v["pip-s/op"]
	printf "  uv (cold)    %6.2f s   pip/uv = %.1fx\n", v["uv-cold-s/op"], v["pip/uv-cold"]
	printf "  uv (warm)    %6.2f s   pip/uv = %.1fx\n", v["uv-warm-s/op"], v["pip/uv-warm"]
}'
