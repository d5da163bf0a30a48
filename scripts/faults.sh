#!/usr/bin/env bash
# Fault suite: each scenario a Go test that does real harm to real processes and checks that
# nothing leaked and nothing was half-done:
# - kill -9 (convoy integration with a throwaway cluster, with --postgres URL; a cluster's owner;
#   a process with children started from an ended thread): everything it started died with it,
#   and the next run (or sweep) removed and named what it left;
# - SIGINT/SIGTERM while installing from a hanging index, checking a hanging release registry,
#   pushing to a registry that never takes blobs, and during integration start-up: exit 130/143
#   promptly, nothing left running;
# - a registry outage while a release stamps its tag (convoy release, a real in-memory registry
#   failing its PUTs), then the release resumed: the manifest records what really happened;
# - two convoy builds at once in one repository: their populate stages overlap on databases
#   and logs of their own, and the OCI store they share holds both runs' images whole.
# Prints "N tried, S survived, L lost"; exits 1 when anything was lost.
set -uo pipefail
cd "$(dirname "$0")/.."
export CONVOY_TEST_CACHE="${CONVOY_TEST_CACHE:-$PWD/.convoy/cache}"
log=$(mktemp)
trap 'rm -f "$log"' EXIT
go test -count=1 -timeout 10m -v \
  -run '^(TestKill9LeavesNothing|TestKilledOwnerLeavesNothingRunningAndSweepRemovesTheCluster|TestChildDiesWithParent|TestChildOutlivesStartingThread|TestSignalStopsPromptly|TestReleaseRegistryOutageResumes|TestConcurrentBuilds)$' \
  ./ci ./integration/pgcluster ./internal/procgroup >"$log" 2>&1
status=$?
# Scenarios are the leaves: subtests, and tests without subtests (not their parents).
parents='(TestKill9LeavesNothing|TestChildOutlivesStartingThread|TestSignalStopsPromptly) '
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
