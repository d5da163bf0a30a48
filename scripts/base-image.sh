#!/usr/bin/env bash
# base-image.sh [OUT_DIR [TAG]] — build convoy's offline Python base image.
#
# debootstrap (Debian bookworm, --variant=minbase, python3 + python3-venv +
# python-is-python3 + ca-certificates) -> cleaned rootfs -> one tar layer ->
# OCI image layout OUT_DIR with the image tagged TAG and a real config
# (os/arch, PATH, LANG, PYTHON_VERSION, labels org.convoy.python.version and
# org.convoy.glibc). No registry is needed; only Debian's package mirror.
#
#   OUT_DIR  default $CONVOY_BASE_DIR or /var/cache/convoy/base — outside the
#            clone, so that reruns and fresh clones reuse it.
#   TAG      default "python". services.yaml then says
#            base: "oci-layout:/var/cache/convoy/base:python"
#
# Idempotent: when OUT_DIR already holds a loadable base image tagged TAG it
# does nothing. A directory that is not an OCI layout is an error and is left
# alone. Needs root (debootstrap), go (the layout step, image/cmd/convoy-base).
# Env: CONVOY_DEBIAN_SUITE (bookworm), CONVOY_DEBIAN_MIRROR
# (http://deb.debian.org/debian), SOURCE_DATE_EPOCH (image creation time).
set -euo pipefail

out=${1:-${CONVOY_BASE_DIR:-/var/cache/convoy/base}}
tag=${2:-python}
suite=${CONVOY_DEBIAN_SUITE:-bookworm}
mirror=${CONVOY_DEBIAN_MIRROR:-http://deb.debian.org/debian}
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

log() { printf 'base-image: %s\n' "$*" >&2; }

work=$(mktemp -d "${TMPDIR:-/var/tmp}/convoy-base.XXXXXX")
trap 'rm -rf "$work"' EXIT

# shellcheck source=scripts/rootfs.sh
. "$repo/scripts/rootfs.sh"
build_tool
already_built "$out" -tag "$tag"

start=$(date +%s)
rootfs=$work/rootfs
debootstrap_rootfs "$suite" "$mirror" "$rootfs" python3,python3-venv,python-is-python3,ca-certificates
clean_rootfs "$rootfs"

python_version=$(pkg_version "$rootfs" python3)
glibc=$(pkg_version "$rootfs" libc6)
epoch=${SOURCE_DATE_EPOCH:-$(date +%s)}

log "Python $python_version, glibc $glibc"
pack_rootfs "$rootfs" "$work/rootfs.tar" "$epoch"

mkdir -p "$(dirname "$out")"
"$tool" -rootfs "$work/rootfs.tar" -out "$out" -tag "$tag" \
	-python-version "$python_version" -glibc "$glibc" -created "$epoch" \
	-description "Debian $suite minbase + python3 (convoy scripts/base-image.sh)"
log "built in $(($(date +%s) - start))s; layout $out is $(du -sh "$out" | cut -f1)"
