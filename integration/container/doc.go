// Package container runs a service's integration commands (migrate, populate, serve) inside the
// service's OCI image, in a real container runtime, behind integration.Launcher.
//
// New picks a runtime by kind: KindAuto (docker when DOCKER_HOST is set, else runc), KindRunc or
// KindDocker. An error wrapping ErrUnavailable says what to install or set.
//
// # runc (the default, daemonless)
//
// Needs the runc binary (Debian: apt-get install runc; scripts/setup.sh integration installs it)
// and root. Rootless containers are not set up: they need user namespaces with subordinate ID
// ranges for the image's users and delegated cgroups; without root, use a Docker or rootless
// Podman socket instead.
//
// Under the work directory (WithWorkDir; convoy gives <repo>/.convoy/run):
//
//	runc/state/<id>                   runc's state (runc --root; WithStateRoot moves it)
//	runc/rootfs/<run>-<service>       the service's root filesystem for the run
//	runc/overlay/<run>-<service>/     its overlay's upper and work directories
//	runc/bundles/<id>                 one bundle (config.json) per command
//
// and in the layer cache (WithLayerCache; convoy gives <repo>/.convoy/cache/rootfs, else
// DefaultLayerCache: <user cache dir>/convoy/rootfs, /root/.cache/convoy/rootfs for root) —
// but for the layers WithSharedLayers names, which go to its directory (convoy gives
// DefaultLayerCache and its base images' layers: unpacked once per machine):
//
//	<hex of the layer's sha256 DiffID>/   one image layer, unpacked
//	.tmp-*                                a layer being unpacked
//
// Prepare gives the service a writable root filesystem of its own for the run, shared by its
// commands (what migrate writes, serve sees); Close unmounts and removes it. It is an overlay
// (overlayfs) whose lower directories are the image's layers, topmost first, and whose upper
// directory is the service's, mounted volatile (no sync: what it holds is thrown away, and
// unmounting a plain overlay syncs the whole disk under it): each layer is unpacked once, by its
// DiffID (taken from the image's config and checked against the content), into the layer cache,
// which every service and every run then shares read-only. A layer is unpacked into a temporary
// directory beside its place and renamed into it, so that a half-unpacked layer is never used;
// two convoy processes unpacking the same layer at once both end with it (the loser of the
// rename drops its copy).
// With the base layer cached, Prepare is a mount: 1.7 ms with Close, against 2.9 s for the
// flattened unpack of the 124 MB Python base image here (BenchmarkPrepare).
//
// OCI whiteouts are converted when a layer is unpacked: ".wh.NAME" becomes NAME, a character
// device 0/0, and ".wh..wh..opq" sets trusted.overlay.opaque=y on its directory, as overlayfs
// reads them in a lower directory. This needs root and a cache on a file system with trusted
// extended attributes (ext4, xfs, btrfs, tmpfs).
//
// When there can be no overlay, Prepare unpacks the image's flattened filesystem (mutate.Extract)
// into the root filesystem instead, as convoy did before the layer cache, and Describe says so and
// why ("runc: api@sha256:… (flattened: …)", where an overlay gives "(overlay of 3 layers, 1
// unpacked now)"; it heads every command's log). That happens when convoy is not root, when the
// mount fails (the work directory on an overlayfs or another file system overlayfs refuses as an
// upper directory; a kernel without overlayfs), when a layer cannot be unpacked for it (no
// trusted xattrs for an opaque directory), and when the image has so many layers that their
// paths do not fit the one page (4096 bytes) of mount options: each layer takes its cache path
// and 66 characters (with a cache path of 40 characters, about 35 layers fit).
//
// The layer cache grows by every distinct layer of every image run (a new source layer per
// commit, a new dependency layer per change of requirements). Beside each layer's directory is
// its use mark, <DiffID hex>.used: its time is the layer's last use, and each launcher whose
// overlay uses the layer holds a shared flock on it until Close. PruneLayers (convoy cache
// prune) removes the layers no container used since a cutoff, never one a launcher holds: its
// overlay would break. Directories the flattened fallback unpacked are not cached.
//
// Unpacking is careful: no entry lands outside the root, through ".." or through a symlink;
// device nodes are skipped; modes, owners and times are kept. A layer's directory listed only as
// the parent of its content (never with an entry of its own) is created 0755 root:root, and in
// an overlay it then hides the mode and owner the lower layers give that directory (flattened,
// the lower layer's entry sets them); image builders list every parent. The flattened unpack
// costs the image's size in disk writes: the 124 MB Python base image takes 2.5 s to 13 s on a
// virtual disk here (writes dominate; 2.4 s on a tmpfs).
//
// Each command gets a bundle whose config.json is `runc spec`'s template with: the command; the
// image's environment with the command's over it (HOME from the image's /etc/passwd when unset);
// the image's working directory and user (uid:gid, or names resolved in the image's /etc/passwd
// and /etc/group, with the user's supplementary groups); the host's network (no network
// namespace); the host's /etc/resolv.conf and /etc/hosts bound read-only; a tmpfs at /tmp;
// no new privileges; the host's name. It runs as a foreground `runc run`, the leader of a process
// group of its own, whose exit code is the container's. runc relays the container's standard
// output and standard error through pipes of its own, so the order of lines between the two
// streams is not kept. Container IDs are convoy-<run>-<service>-<command> (a command started
// again gets -2, -3…), made of [A-Za-z0-9_.-].
//
// # docker (Docker Engine or Podman socket)
//
// Needs the docker CLI (Debian: apt-get install docker.io; podman-docker for Podman) and a
// daemon answering at DOCKER_HOST (or WithDockerHost) within the probe timeout. Prepare loads the
// image (a docker tarball streamed into `docker load`, tagged
// convoy-integration/<service>:<run>); each command is a foreground `docker run --rm --network
// host --pull never`, whose environment values travel in the CLI's environment (-e KEY), not its
// arguments; Close removes the tag.
//
// # Signals and teardown
//
// Each command runs as PID 1 of its container. The kernel does not deliver to PID 1 of a PID
// namespace a signal it has no handler for, so a command without a SIGTERM handler (gunicorn has
// one; `python -m http.server` has not) ends only at the SIGKILL that follows the grace period.
//
// Process.Stop leaves nothing behind: no process, no container (runc's state entry, or docker's
// container), no bundle. A container whose runtime process was killed keeps running (until it
// next writes to its standard output or error, which then have no reader) and is still found
// and removed by Stop.
package container
