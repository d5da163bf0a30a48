// Package container runs a service's integration commands (migrate, populate, serve) inside the
// service's OCI image, in a real container runtime, behind integration.Launcher.
//
// Two runtimes are supported; New picks one by kind:
//
//   - runc (the default, daemonless). Prepare unpacks the image's flattened filesystem into a
//     writable root filesystem of its own for this service and run; each command is a `runc run`
//     of a bundle whose config.json comes from `runc spec`'s template: the image's environment
//     with the command's over it, the image's working directory and user, host networking, the
//     host's /etc/resolv.conf and /etc/hosts bound read-only, a tmpfs at /tmp. Close removes the
//     root filesystem. It needs the runc binary (Debian: apt-get install runc) and root: convoy
//     does not set up rootless containers (they need user namespaces with subordinate ID ranges
//     and delegated cgroups); without root, use a Docker or Podman socket instead.
//   - docker, through the docker CLI against the daemon at DOCKER_HOST (Docker Engine, or Podman's
//     Docker-compatible socket). Prepare loads the image (`docker load`, tagged
//     convoy-integration/<service>:<run id>); each command is a foreground `docker run --rm
//     --network host`; Close removes the tag. It needs the docker CLI (Debian: apt-get install
//     docker.io) and a daemon that answers.
//
// Each command runs as PID 1 of its container. The kernel does not deliver to PID 1 of a PID
// namespace a signal it has no handler for, so a command without a SIGTERM handler (gunicorn has
// one; `python -m http.server` has not) ends only at the SIGKILL that follows the grace period.
//
// Process.Stop leaves nothing behind: no process, no container (runc's state directory entry, or
// docker's container), no bundle. A container whose runtime process was killed keeps running
// and is still found and removed by Stop.
package container
