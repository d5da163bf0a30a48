#!/usr/bin/env bash
# Fault suite: kill -9 scenarios end to end, each a Go test that kills a real process (convoy
# integration with a throwaway cluster, with --postgres URL; a cluster's owner; a process with
# children started from an ended thread), checks by PID that everything it started died with it,
# and that the next run (or sweep) removed and named what it left.
# Prints "N tried, S survived, L lost"; exits 1 when anything was lost.
set -uo pipefail
cd "$(dirname "$0")/.."
export CONVOY_TEST_CACHE="${CONVOY_TEST_CACHE:-$PWD/.convoy/cache}"
log=$(mktemp)
trap 'rm -f "$log"' EXIT
go test -count=1 -timeout 10m -v \
  -run '^(TestKill9LeavesNothing|TestKilledOwnerLeavesNothingRunningAndSweepRemovesTheCluster|TestChildDiesWithParent|TestChildOutlivesStartingThread)$' \
  ./ci ./integration/pgcluster ./internal/procgroup >"$log" 2>&1
status=$?
# Scenarios are the leaves: subtests, and tests without subtests (not their parents).
parents='(TestKill9LeavesNothing|TestChildOutlivesStartingThread) '
survived=$(( $(grep -cE -- '--- PASS: ' "$log") - $(grep -cE -- "^--- PASS: $parents" "$log") ))
lost=$(( $(grep -cE -- '--- FAIL: ' "$log") - $(grep -cE -- "^--- FAIL: $parents" "$log") ))
if [ "$status" -ne 0 ] && [ "$lost" -eq 0 ]; then
  cat "$log"
  echo "faults: go test failed without a failing scenario (build error?)"
  exit 1
fi
[ "$lost" -gt 0 ] && grep -E -- '--- FAIL|_test.go:[0-9]+' "$log"
echo "$((survived + lost)) tried, $survived survived, $lost lost"
[ "$lost" -eq 0 ]
