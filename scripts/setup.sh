#!/usr/bin/env bash
# Installs the system packages convoy's jobs and tests need, when they are missing.
# Usage: scripts/setup.sh [core|images|integration|release|all]...
# As root it installs with apt-get (running apt-get update first); otherwise it says what to install.
set -euo pipefail

need=()
want() { # want COMMAND PACKAGE
  command -v "$1" >/dev/null 2>&1 || need+=("$2")
}
want_path() { # want_path PATH_GLOB PACKAGE
  compgen -G "$1" >/dev/null || need+=("$2")
}

for group in "${@:-core}"; do
  case "$group" in
    core)        want git git; want python3 python3; want unshare util-linux ;;
    images)      want debootstrap debootstrap ;;
    docker)      want dockerd docker.io ;;
    integration) want_path '/usr/lib/postgresql/*/bin/initdb' postgresql; want_path '/usr/*bin/runc' runc
                 want redis-server redis-server; want_path '/usr/lib/rabbitmq/bin/rabbitmq-server' rabbitmq-server ;;
    release)     want_path '/usr/bin/docker-registry' docker-registry; want skopeo skopeo ;;
    all)         exec "$0" core images docker integration release ;;
    *) echo "setup.sh: unknown group '$group' (expected core, images, docker, integration, release or all)" >&2; exit 2 ;;
  esac
done

[ ${#need[@]} -eq 0 ] && exit 0
mapfile -t need < <(printf '%s\n' "${need[@]}" | sort -u)
if [ "$(id -u)" != 0 ]; then
  echo "convoy needs these Debian packages: ${need[*]}" >&2
  echo "install them with: sudo apt-get update && sudo apt-get install -y ${need[*]}" >&2
  exit 1
fi
echo "setup.sh: installing ${need[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
