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
//	runc/state/<id>             runc's state (runc --root; WithStateRoot moves it)
//	runc/rootfs/<run>-<service> the service's root filesystem for the run
//	runc/bundles/<id>           one bundle (config.json) per command
//
// Prepare unpacks the image's flattened filesystem (mutate.Extract) into a writable root
// filesystem of the service's own for the run, shared by its commands (what migrate writes,
// serve sees); Close removes it. Unpacking is careful: no entry lands outside the root, through
// ".." or through a symlink; device nodes are skipped; modes, owners and times are kept. It costs
// the image's size in disk writes: the 124 MB Python base image takes 2.5 s to 13 s on a virtual
// disk here (writes dominate; 2.4 s on a tmpfs).
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
