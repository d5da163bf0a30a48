package container

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// dockerTimeout bounds every short docker command (kill, rm, inspect, rmi).
const dockerTimeout = time.Minute

// Docker runs containers through the docker CLI, against a Docker Engine or a Podman socket.
// Create it with NewDocker.
type Docker struct {
	path string
	host string // DOCKER_HOST; "" means the CLI's default
}

// NewDocker checks that the docker CLI is there and that the daemon at DOCKER_HOST (or
// WithDockerHost) answers within the probe timeout. The error wraps ErrUnavailable and says what
// to install, start or set.
func NewDocker(opts ...Option) (*Docker, error) {
	o, err := makeOptions(opts)
	if err != nil {
		return nil, err
	}
	path := o.dockerPath
	if path == "" {
		path = "docker"
	}
	if path, err = exec.LookPath(path); err != nil {
		return nil, unavailable("the docker CLI cannot be run (%w): install it (Debian: apt-get install docker.io, "+
			"or podman-docker for Podman)", err)
	}
	d := &Docker{path: path, host: o.dockerHost}
	if err := d.ping(o.probeTimeout); err != nil {
		return nil, err
	}
	return d, nil
}

// ping asks the daemon for its version, waiting at most timeout.
func (d *Docker) ping(timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	out, err := d.command(ctx, "version", "--format", "{{.Server.Version}}").CombinedOutput()
	if err == nil {
		return nil
	}
	where := "DOCKER_HOST=" + d.host
	if d.host == "" {
		where = "the docker CLI's default socket (DOCKER_HOST is not set)"
	}
	if ctx.Err() != nil {
		err = fmt.Errorf("no answer in %s", timeout)
	} else if msg := bytes.TrimSpace(out); len(msg) > 0 {
		err = fmt.Errorf("%w: %s", err, msg)
	}
	return unavailable("no Docker daemon answers at %s (%w): start dockerd (apt-get install docker.io) or "+
		"Podman's socket (podman system service), and set DOCKER_HOST to it", where, err)
}

// Kind returns KindDocker.
func (d *Docker) Kind() string { return KindDocker }

// Host is the DOCKER_HOST the CLI is given ("" for the CLI's default).
func (d *Docker) Host() string { return d.host }

// Launcher returns the Launcher of service's commands in run runID, inside img: Prepare loads
// img tagged convoy-integration/<service>:<runID>, which Close removes.
func (d *Docker) Launcher(service, runID string, img v1.Image) Launcher {
	return &dockerLauncher{d: d, service: service, runID: runID, img: img, tag: imageTag(service, runID)}
}

// imageTag is convoy-integration/<service>:<runID>, made valid for docker (a lower-case
// repository; a tag of at most 128 characters).
func imageTag(service, runID string) string {
	repo := strings.Trim(strings.ToLower(sanitize(service)), "._-")
	if repo == "" {
		repo = "service"
	}
	tag := strings.TrimLeft(sanitize(runID), ".-")
	if tag == "" {
		tag = "run"
	}
	if len(tag) > 128 {
		tag = tag[:128]
	}
	return "convoy-integration/" + repo + ":" + tag
}

// command returns a docker CLI command with DOCKER_HOST set to the daemon's.
func (d *Docker) command(ctx context.Context, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, d.path, args...)
	cmd.Env = d.env(nil)
	return cmd
}

// env is convoy's environment with DOCKER_HOST and extra over it.
func (d *Docker) env(extra []string) []string {
	env := os.Environ()
	if d.host != "" {
		env = mergeEnv(env, []string{"DOCKER_HOST=" + d.host})
	}
	return mergeEnv(env, extra)
}

// run runs a short docker command and returns its standard output; its standard error goes into
// the error.
func (d *Docker) run(args ...string) ([]byte, error) {
	ctx, cancel := context.WithTimeout(context.Background(), dockerTimeout)
	defer cancel()
	return output(d.command(ctx, args...))
}

// notFound reports whether a docker command's error says the container or image does not exist
// (Docker: "No such container", "No such image"; Podman: "no such container", "image not known").
func notFound(err error) bool {
	if err == nil {
		return false
	}
	s := strings.ToLower(err.Error())
	return strings.Contains(s, "no such") || strings.Contains(s, "not known") || strings.Contains(s, "not found")
}

// exists reports whether the daemon knows the container name; an error means it cannot tell.
func (d *Docker) exists(name string) (bool, error) {
	_, err := d.run("container", "inspect", "--format", "{{.Id}}", name)
	if notFound(err) {
		return false, nil
	}
	return err == nil, err
}

// running reports whether the container name is running; an error means it cannot tell.
func (d *Docker) running(name string) (bool, error) {
	out, err := d.run("container", "inspect", "--format", "{{.State.Running}}", name)
	if notFound(err) {
		return false, nil
	}
	return strings.TrimSpace(string(out)) == "true", err
}

// gone waits up to timeout for the daemon to forget the container name (a --rm container is
// removed just after it exits). It polls: the CLI has no wait for removal.
func (d *Docker) gone(name string, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		ok, err := d.exists(name)
		if err == nil && !ok {
			return nil
		}
		if time.Now().After(deadline) {
			return errors.Join(fmt.Errorf("container %s still exists after docker rm -f", name), err)
		}
		time.Sleep(100 * time.Millisecond) // polling the daemon, bounded by deadline
	}
}
