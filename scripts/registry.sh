#!/usr/bin/env bash
# A throwaway OCI registry for end-to-end tests: Debian's `docker-registry`
# (the CNCF distribution registry v2) listening on 127.0.0.1 only, storing
# everything under one directory.
#
#   scripts/registry.sh install          apt-get install docker-registry skopeo (root), crane (go install)
#   scripts/registry.sh start DIR [PORT] start it; prints HOST:PORT (also in DIR/addr); pid in DIR/registry.pid
#   scripts/registry.sh stop DIR         stop the registry started with DIR (only that process)
#   scripts/registry.sh e2e [GO TEST ARGS] install if needed, start in a temp dir, run the release
#                                        end-to-end tests (release/ and the CLI's in ci/) with
#                                        CONVOY_E2E_REGISTRY=HOST:PORT, stop
#
# start picks a free port unless PORT is given. It never binds anything but 127.0.0.1.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/.." && pwd)
# The crane version matches go-containerregistry in go.mod, so the
# independent client speaks the same protocol revision as convoy.
crane_version() { awk '$1 == "github.com/google/go-containerregistry" { print $2 }' "$root/go.mod"; }

die() { echo "registry.sh: $*" >&2; exit 2; }

find_crane() {
	if command -v crane >/dev/null 2>&1; then command -v crane; return; fi
	local gobin
	gobin=$(go env GOBIN 2>/dev/null || true)
	[ -n "$gobin" ] || gobin="$(go env GOPATH 2>/dev/null)/bin"
	if [ -x "$gobin/crane" ]; then echo "$gobin/crane"; fi
}

cmd_install() {
	local need=()
	command -v docker-registry >/dev/null 2>&1 || need+=(docker-registry)
	command -v skopeo >/dev/null 2>&1 || need+=(skopeo)
	if [ ${#need[@]} -gt 0 ]; then
		[ "$(id -u)" = 0 ] || die "need root to apt-get install ${need[*]}"
		export DEBIAN_FRONTEND=noninteractive
		apt-get update -qq
		apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
	fi
	if [ -z "$(find_crane)" ]; then
		local v
		v=$(crane_version)
		[ -n "$v" ] || die "go-containerregistry not found in $root/go.mod"
		(cd "$root" && go install "github.com/google/go-containerregistry/cmd/crane@$v")
	fi
	command -v docker-registry >/dev/null && command -v skopeo >/dev/null && [ -n "$(find_crane)" ] ||
		die "install incomplete"
}

free_port() {
	python3 - <<'EOF'
import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])
s.close()
EOF
}

# is_ours PID DIR: the process is a docker-registry serving DIR's config.
is_ours() {
	local pid=$1 dir=$2
	[ -r "/proc/$pid/cmdline" ] || return 1
	tr '\0' ' ' <"/proc/$pid/cmdline" | grep -q -- "docker-registry serve $dir/config.yml"
}

cmd_start() {
	local dir=${1:-} port=${2:-}
	[ -n "$dir" ] || die "usage: registry.sh start DIR [PORT]"
	command -v docker-registry >/dev/null 2>&1 || die "docker-registry is not installed (scripts/registry.sh install)"
	mkdir -p "$dir/data"
	dir=$(cd "$dir" && pwd)
	if [ -f "$dir/registry.pid" ] && is_ours "$(cat "$dir/registry.pid")" "$dir"; then
		cat "$dir/addr"
		return
	fi
	[ -n "$port" ] || port=$(free_port)
	local secret
	secret=$(head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n')
	cat >"$dir/config.yml" <<EOF
version: 0.1
log:
  level: warn
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: $dir/data
  delete:
    enabled: true
  maintenance:
    uploadpurging:
      enabled: false
http:
  addr: 127.0.0.1:$port
  secret: $secret
EOF
	docker-registry serve "$dir/config.yml" >"$dir/registry.log" 2>&1 </dev/null &
	local pid=$!
	echo "$pid" >"$dir/registry.pid"
	echo "127.0.0.1:$port" >"$dir/addr"
	# Readiness: poll /v2/ (bounded: 10 s).
	for _ in $(seq 1 100); do
		if ! kill -0 "$pid" 2>/dev/null; then
			cat "$dir/registry.log" >&2
			die "docker-registry exited"
		fi
		if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
			if command -v curl >/dev/null 2>&1; then
				curl -fsS -o /dev/null "http://127.0.0.1:$port/v2/" && { echo "127.0.0.1:$port"; return; }
			else
				echo "127.0.0.1:$port"
				return
			fi
		fi
		sleep 0.1
	done
	cmd_stop "$dir" || true
	die "docker-registry did not answer on 127.0.0.1:$port"
}

cmd_stop() {
	local dir=${1:-}
	[ -n "$dir" ] || die "usage: registry.sh stop DIR"
	dir=$(cd "$dir" 2>/dev/null && pwd) || return 0
	[ -f "$dir/registry.pid" ] || return 0
	local pid
	pid=$(cat "$dir/registry.pid")
	if is_ours "$pid" "$dir"; then
		kill "$pid" 2>/dev/null || true
		for _ in $(seq 1 50); do
			kill -0 "$pid" 2>/dev/null || break
			sleep 0.1
		done
		if kill -0 "$pid" 2>/dev/null; then kill -9 "$pid" 2>/dev/null || true; fi
	fi
	rm -f "$dir/registry.pid"
}

cmd_e2e() {
	cmd_install
	local dir
	dir=$(mktemp -d "${TMPDIR:-/tmp}/convoy-registry.XXXXXX")
	trap 'cmd_stop "'"$dir"'"; rm -rf "'"$dir"'"' EXIT
	local addr
	addr=$(cmd_start "$dir")
	echo "registry.sh: docker-registry on $addr (data in $dir)" >&2
	local crane
	crane=$(find_crane)
	cd "$root"
	CONVOY_E2E_REGISTRY=$addr CONVOY_CRANE=$crane go test -count=1 -run 'TestE2E' "$@" ./release/
	# The repository's own four services, released through the convoy CLI (ci/release_test.go).
	CONVOY_E2E_REGISTRY=$addr CONVOY_CRANE=$crane CONVOY_TEST_CACHE="$root/.convoy/cache" \
		go test -count=1 -run 'TestReleaseE2E' "$@" ./ci/
}

case "${1:-}" in
install) shift; cmd_install "$@" ;;
start) shift; cmd_start "$@" ;;
stop) shift; cmd_stop "$@" ;;
e2e) shift; cmd_e2e "$@" ;;
*) die "usage: registry.sh install | start DIR [PORT] | stop DIR | e2e [go test args]" ;;
esac
