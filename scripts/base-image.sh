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

tool=$work/convoy-base
(cd "$repo" && go build -o "$tool" ./image/cmd/convoy-base)

rc=0
found=$("$tool" -check -out "$out" -tag "$tag" 2>"$work/check.err") || rc=$?
case $rc in
0)
	log "$found (already built)"
	exit 0
	;;
1) ;; # not there yet: build it
*)
	cat "$work/check.err" >&2
	log "$out holds something that is not a valid OCI image layout: not touching it"
	exit 1
	;;
esac

if [ "$(id -u)" != 0 ]; then
	log "debootstrap needs root"
	exit 1
fi
if ! command -v debootstrap >/dev/null; then
	log "installing debootstrap"
	DEBIAN_FRONTEND=noninteractive apt-get install -y -q debootstrap >&2
fi

start=$(date +%s)
rootfs=$work/rootfs
log "debootstrap $suite from $mirror"
debootstrap --variant=minbase \
	--include=python3,python3-venv,python-is-python3,ca-certificates \
	"$suite" "$rootfs" "$mirror" >"$work/debootstrap.log" 2>&1 || {
	tail -n 30 "$work/debootstrap.log" >&2
	log "debootstrap failed"
	exit 1
}

# What the image does not need, and what belongs to the host that built it.
rm -rf "$rootfs"/var/lib/apt/lists/* "$rootfs"/var/cache/apt/* \
	"$rootfs"/var/cache/debconf/*-old "$rootfs"/var/lib/dpkg/*-old \
	"$rootfs"/usr/share/man/* "$rootfs"/usr/share/info/* "$rootfs"/usr/share/locale/* \
	"$rootfs"/dev/* "$rootfs"/proc/* "$rootfs"/sys/* "$rootfs"/run/* "$rootfs"/tmp/*
find "$rootfs"/usr/share/doc -mindepth 2 ! -name copyright ! -type d -delete
find "$rootfs"/var/log -type f -delete
: >"$rootfs"/etc/resolv.conf
: >"$rootfs"/etc/machine-id
rm -f "$rootfs"/etc/hostname

version() { dpkg-query --admindir="$rootfs/var/lib/dpkg" -W -f='${Version}' "$1"; }
python_version=$(version python3)
python_version=${python_version%%-*} # 3.11.2-1+b1 -> 3.11.2
glibc=$(version libc6)
glibc=${glibc%%-*} # 2.36-9+deb12u14 -> 2.36
epoch=${SOURCE_DATE_EPOCH:-$(date +%s)}

log "rootfs: Python $python_version, glibc $glibc, $(du -sh "$rootfs" | cut -f1)"
tar --sort=name --numeric-owner --mtime="@$epoch" --clamp-mtime \
	--pax-option=exthdr.name=%d/PaxHeaders/%f,delete=atime,delete=ctime \
	-C "$rootfs" -cf "$work/rootfs.tar" .

mkdir -p "$(dirname "$out")"
"$tool" -rootfs "$work/rootfs.tar" -out "$out" -tag "$tag" \
	-python-version "$python_version" -glibc "$glibc" -created "$epoch" \
	-description "Debian $suite minbase + python3 (convoy scripts/base-image.sh)"
log "built in $(($(date +%s) - start))s; layout $out is $(du -sh "$out" | cut -f1)"
