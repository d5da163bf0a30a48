#!/usr/bin/env bash
# docker-e2e.sh — prove convoy's images run in a real container runtime.
#
# 1. builds (or reuses) the offline base image: scripts/base-image.sh;
# 2. uses the docker daemon at $DOCKER_HOST if one answers there, else starts
#    Debian's dockerd itself (installing docker.io when missing and root):
#    its own socket, data root and pidfile under $CONVOY_DOCKER_DIR
#    (/var/tmp/convoy-docker), with --iptables=false --bridge=none so that it
#    changes nothing in the host's network; containers use --network host and
#    bind 127.0.0.1 only;
# 3. runs TestRunInDocker (image/e2e_test.go): build an image on the offline
#    base, write a docker tarball, docker load, docker run, GET /healthz;
#    then TestDocker (integration/container/docker_test.go): the integration
#    stage's docker runtime runs commands in an image on that daemon (exit
#    codes, output, environment, user, host network, stop, nothing left);
# 4. stops the dockerd it started (by its pid), nothing else.
#
# Where no runtime can be started it fails under CI=true and skips (exit 0,
# with the reason) elsewhere.
# Env: CONVOY_BASE_DIR (/var/cache/convoy/base), CONVOY_DOCKER_DIR,
# GO_TEST_FLAGS (extra flags for go test).
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
base_dir=${CONVOY_BASE_DIR:-/var/cache/convoy/base}
run_dir=${CONVOY_DOCKER_DIR:-/var/tmp/convoy-docker}

log() { printf 'docker-e2e: %s\n' "$*" >&2; }
unavailable() {
	if [ "${CI:-}" = true ]; then
		log "FAIL: $* (CI=true: a container runtime is required)"
		exit 1
	fi
	log "SKIP: $* — the run-in-a-runtime test did not run"
	exit 0
}

bash "$repo/scripts/base-image.sh" "$base_dir" python || unavailable "cannot build the offline base image in $base_dir"

docker_ok() { timeout 10 docker version >/dev/null 2>&1; }

started=""
stop_dockerd() {
	[ -n "$started" ] || return 0
	log "stopping dockerd (pid $started)"
	kill -TERM "$started" 2>/dev/null || true
	for _ in $(seq 1 100); do
		kill -0 "$started" 2>/dev/null || return 0
		sleep 0.2
	done
	log "dockerd (pid $started) did not stop in 20s: killing it"
	kill -KILL "$started" 2>/dev/null || true
}
trap stop_dockerd EXIT

if [ -n "${DOCKER_HOST:-}" ] && command -v docker >/dev/null && docker_ok; then
	log "using the docker daemon at $DOCKER_HOST"
else
	if ! command -v dockerd >/dev/null; then
		if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
			log "installing docker.io"
			DEBIAN_FRONTEND=noninteractive apt-get install -y -q docker.io >&2 || unavailable "cannot install docker.io"
		else
			unavailable "dockerd is not installed (apt-get install docker.io)"
		fi
	fi
	[ "$(id -u)" = 0 ] || unavailable "starting dockerd needs root"
	mkdir -p "$run_dir"
	export DOCKER_HOST="unix://$run_dir/docker.sock"
	if docker_ok; then
		log "a dockerd from an earlier run answers at $DOCKER_HOST: using it (not stopping it)"
	else
		rm -f "$run_dir/docker.sock" "$run_dir/dockerd.pid"
		dockerd --pidfile "$run_dir/dockerd.pid" --data-root "$run_dir/data" --exec-root "$run_dir/exec" \
			--host "$DOCKER_HOST" --iptables=false --ip-masq=false --bridge=none \
			>"$run_dir/dockerd.log" 2>&1 &
		started=$!
		log "started dockerd (pid $started), log $run_dir/dockerd.log"
		for _ in $(seq 1 60); do
			docker_ok && break
			kill -0 "$started" 2>/dev/null || break
			sleep 0.5
		done
		if ! docker_ok; then
			tail -n 20 "$run_dir/dockerd.log" >&2 || true
			unavailable "dockerd did not start"
		fi
	fi
fi
docker version --format 'docker-e2e: client {{.Client.Version}}, server {{.Server.Version}}' >&2

cd "$repo"
# shellcheck disable=SC2086
CONVOY_E2E_DOCKER=1 CONVOY_BASE="oci-layout:$base_dir:python" \
	go test ./image -run '^TestRunInDocker$' -count=1 -v ${GO_TEST_FLAGS:-}
# The integration stage's docker runtime against the same daemon.
# shellcheck disable=SC2086
CONVOY_E2E_DOCKER=1 CONVOY_BASE="oci-layout:$base_dir:python" \
	go test ./integration/container -run '^(TestDocker|TestDockerSweepRun)$' -count=1 -v ${GO_TEST_FLAGS:-}
# The repository's own four services: convoy build, then every image loaded, run and
# health-checked (ci/build_test.go, whose docker part runs only with CONVOY_E2E_DOCKER=1).
# shellcheck disable=SC2086
CONVOY_E2E_DOCKER=1 CONVOY_TEST_CACHE="$repo/.convoy/cache" \
	go test ./ci -run '^TestBuildImages$' -count=1 -v ${GO_TEST_FLAGS:-}
