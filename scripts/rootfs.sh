# rootfs.sh — helpers shared by scripts/base-image.sh and scripts/postgres-image.sh (sourced,
# not run): build convoy-base, check an existing layout, debootstrap a Debian rootfs, clean it
# of what an image does not need, pack it into a reproducible tarball.
# The caller sets: log (function), work (a scratch directory), repo (the clone).

# build_tool: builds image/cmd/convoy-base into $work and sets tool to it.
build_tool() {
	tool=$work/convoy-base
	(cd "$repo" && go build -o "$tool" ./image/cmd/convoy-base)
}

# already_built OUT CHECK_ARGS...: exits 0 (the script is done) when OUT holds the image, returns
# when it does not, exits 1 when OUT is something else, which must not be touched.
already_built() {
	local out=$1 rc=0 found
	shift
	found=$("$tool" -check -out "$out" "$@" 2>"$work/check.err") || rc=$?
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
}

# debootstrap_rootfs SUITE MIRROR ROOTFS PACKAGES: a minbase Debian rootfs with PACKAGES
# (comma-separated). Needs root; installs debootstrap when missing.
debootstrap_rootfs() {
	local suite=$1 mirror=$2 rootfs=$3 packages=$4
	if [ "$(id -u)" != 0 ]; then
		log "debootstrap needs root"
		exit 1
	fi
	if ! command -v debootstrap >/dev/null; then
		log "installing debootstrap"
		DEBIAN_FRONTEND=noninteractive apt-get install -y -q debootstrap >&2
	fi
	log "debootstrap $suite from $mirror"
	debootstrap --variant=minbase --include="$packages" \
		"$suite" "$rootfs" "$mirror" >"$work/debootstrap.log" 2>&1 || {
		tail -n 30 "$work/debootstrap.log" >&2
		log "debootstrap failed"
		exit 1
	}
}

# clean_rootfs ROOTFS: removes what the image does not need, and what belongs to the host that
# built it.
clean_rootfs() {
	local rootfs=$1
	rm -rf "$rootfs"/var/lib/apt/lists/* "$rootfs"/var/cache/apt/* \
		"$rootfs"/var/cache/debconf/*-old "$rootfs"/var/lib/dpkg/*-old \
		"$rootfs"/usr/share/man/* "$rootfs"/usr/share/info/* "$rootfs"/usr/share/locale/* \
		"$rootfs"/dev/* "$rootfs"/proc/* "$rootfs"/sys/* "$rootfs"/run/* "$rootfs"/tmp/*
	find "$rootfs"/usr/share/doc -mindepth 2 ! -name copyright ! -type d -delete
	find "$rootfs"/var/log -type f -delete
	: >"$rootfs"/etc/resolv.conf
	: >"$rootfs"/etc/machine-id
	rm -f "$rootfs"/etc/hostname
}

# pkg_version ROOTFS PACKAGE: the upstream version of PACKAGE in ROOTFS (3.11.2-1+b1 -> 3.11.2).
pkg_version() {
	local v
	v=$(dpkg-query --admindir="$1/var/lib/dpkg" -W -f='${Version}' "$2")
	printf '%s\n' "${v%%-*}"
}

# pack_rootfs ROOTFS TARBALL EPOCH: one tar layer, sorted, numeric owners, times clamped to EPOCH.
pack_rootfs() {
	log "rootfs: $(du -sh "$1" | cut -f1)"
	tar --sort=name --numeric-owner --mtime="@$3" --clamp-mtime \
		--pax-option=exthdr.name=%d/PaxHeaders/%f,delete=atime,delete=ctime \
		-C "$1" -cf "$2" .
}
