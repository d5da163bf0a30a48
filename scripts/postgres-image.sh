#!/usr/bin/env bash
# postgres-image.sh [OUT_DIR [TAG]] — build convoy's offline PostgreSQL server image, for the
# Dagger engine's integration stage (integration.postgres_image, --postgres-image), the way
# scripts/base-image.sh builds the Python base (and with its helpers: scripts/rootfs.sh).
#
# debootstrap (Debian bookworm, --variant=minbase, postgresql-15) -> cleaned rootfs with
# /usr/local/bin/docker-entrypoint.sh and an empty PGDATA owned by postgres -> one tar layer ->
# OCI image layout OUT_DIR tagged TAG (convoy-base -postgres-version). The image follows the
# official postgres image's conventions, which the Dagger engine relies on: POSTGRES_USER,
# POSTGRES_PASSWORD, POSTGRES_DB, *.sql and *.sh in /docker-entrypoint-initdb.d run once on
# first start, port 5432, data in $PGDATA. No registry is needed; only Debian's package mirror.
#
#   OUT_DIR  default $CONVOY_POSTGRES_DIR or /var/cache/convoy/postgres (outside the clone).
#   TAG      default "postgres". services.yaml then says, under integration:,
#            postgres_image: "oci-layout:/var/cache/convoy/postgres:postgres"
#
# Idempotent like base-image.sh. Needs root (debootstrap), go (image/cmd/convoy-base).
# Env: CONVOY_DEBIAN_SUITE (bookworm), CONVOY_DEBIAN_MIRROR (http://deb.debian.org/debian),
# CONVOY_POSTGRES_MAJOR (15, bookworm's), SOURCE_DATE_EPOCH (image creation time).
set -euo pipefail

out=${1:-${CONVOY_POSTGRES_DIR:-/var/cache/convoy/postgres}}
tag=${2:-postgres}
suite=${CONVOY_DEBIAN_SUITE:-bookworm}
mirror=${CONVOY_DEBIAN_MIRROR:-http://deb.debian.org/debian}
major=${CONVOY_POSTGRES_MAJOR:-15}
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

log() { printf 'postgres-image: %s\n' "$*" >&2; }

work=$(mktemp -d "${TMPDIR:-/var/tmp}/convoy-postgres.XXXXXX")
trap 'rm -rf "$work"' EXIT

# shellcheck source=scripts/rootfs.sh
. "$repo/scripts/rootfs.sh"
build_tool
already_built "$out" -tag "$tag" -postgres-version "$major"

start=$(date +%s)
rootfs=$work/rootfs
debootstrap_rootfs "$suite" "$mirror" "$rootfs" "postgresql-$major"
# The package's own cluster is not the image's: the entrypoint makes one in $PGDATA.
rm -rf "$rootfs/var/lib/postgresql/$major" "$rootfs/etc/postgresql/$major"
chroot "$rootfs" install -d -o postgres -g postgres -m 700 /var/lib/postgresql/data
chroot "$rootfs" install -d -m 755 /docker-entrypoint-initdb.d
cat >"$rootfs/usr/local/bin/docker-entrypoint.sh" <<'ENTRYPOINT'
#!/bin/sh
# docker-entrypoint.sh (convoy scripts/postgres-image.sh): the official postgres image's
# conventions. On first start, a cluster in $PGDATA whose superuser is $POSTGRES_USER with
# $POSTGRES_PASSWORD, the database $POSTGRES_DB, then /docker-entrypoint-initdb.d/*.sql and *.sh;
# then the server, listening on every address. Runs as postgres.
set -eu
if [ "${1:-postgres}" != postgres ]; then
	exec "$@"
fi
[ $# -gt 0 ] && shift
: "${PGDATA:=/var/lib/postgresql/data}"
user=${POSTGRES_USER:-postgres}
db=${POSTGRES_DB:-$user}
if [ ! -s "$PGDATA/PG_VERSION" ]; then
	pw=$(mktemp)
	printf '%s\n' "${POSTGRES_PASSWORD:?POSTGRES_PASSWORD must be set}" >"$pw"
	initdb --username="$user" --pwfile="$pw" --auth-local=trust --auth-host=scram-sha-256 -D "$PGDATA" >/dev/null
	rm -f "$pw"
	echo "host all all all scram-sha-256" >>"$PGDATA/pg_hba.conf"
	pg_ctl -D "$PGDATA" -o "-c listen_addresses='' -c unix_socket_directories=/tmp" -w start >/dev/null
	if [ "$db" != postgres ]; then
		psql -h /tmp -U "$user" -d postgres -v ON_ERROR_STOP=1 -qc "CREATE DATABASE \"$db\""
	fi
	for f in /docker-entrypoint-initdb.d/*; do
		case $f in
		*.sql) psql -h /tmp -U "$user" -d "$db" -v ON_ERROR_STOP=1 -q -f "$f" ;;
		*.sh) . "$f" ;;
		esac
	done
	pg_ctl -D "$PGDATA" -m fast -w stop >/dev/null
	echo "postgres-image: database system initialised" >&2
fi
exec postgres -D "$PGDATA" -c listen_addresses='*' -c unix_socket_directories=/tmp "$@"
ENTRYPOINT
chmod 755 "$rootfs/usr/local/bin/docker-entrypoint.sh"
clean_rootfs "$rootfs"

glibc=$(pkg_version "$rootfs" libc6)
epoch=${SOURCE_DATE_EPOCH:-$(date +%s)}
log "PostgreSQL $(pkg_version "$rootfs" "postgresql-$major"), glibc $glibc"
pack_rootfs "$rootfs" "$work/rootfs.tar" "$epoch"

mkdir -p "$(dirname "$out")"
"$tool" -rootfs "$work/rootfs.tar" -out "$out" -tag "$tag" \
	-postgres-version "$major" -glibc "$glibc" -created "$epoch" \
	-description "Debian $suite minbase + postgresql-$major (convoy scripts/postgres-image.sh)"
log "built in $(($(date +%s) - start))s; layout $out is $(du -sh "$out" | cut -f1)"
