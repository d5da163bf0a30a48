package container

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/tarball"

	"github.com/convoy-ci/convoy/integration"
	"github.com/convoy-ci/convoy/internal/procgroup"
)

// dockerLauncher runs one service's commands of one run in containers of its loaded image.
type dockerLauncher struct {
	d              *Docker
	service, runID string
	img            v1.Image
	tag            string
	ids            ids

	mu       sync.Mutex
	prepared bool
	closed   bool
}

// Describe returns "docker: <service>@sha256:<short digest>".
func (l *dockerLauncher) Describe() string {
	d, _ := l.img.Digest()
	return describe(KindDocker, l.service, d)
}

// Prepare loads the image into the daemon (`docker load` of a docker tarball streamed to it),
// tagged convoy-integration/<service>:<runID>. It does the work once.
func (l *dockerLauncher) Prepare(ctx context.Context) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return errors.New("the launcher is closed")
	}
	if l.prepared {
		return nil
	}
	if err := l.load(ctx); err != nil {
		return fmt.Errorf("loading the image of %q into docker as %s: %w", l.service, l.tag, err)
	}
	l.prepared = true
	return nil
}

// load streams the image as a docker tarball into `docker load`.
func (l *dockerLauncher) load(ctx context.Context) error {
	ref, err := name.NewTag(l.tag)
	if err != nil {
		return err
	}
	pr, pw := io.Pipe()
	written := make(chan error, 1)
	go func() {
		err := tarball.Write(ref, l.img, pw)
		pw.CloseWithError(err)
		written <- err
	}()
	cmd := l.d.command(ctx, "load")
	cmd.Stdin = pr
	out, err := cmd.CombinedOutput()
	pr.Close() // ends the writer if docker load stopped reading
	werr := <-written
	if err != nil {
		return fmt.Errorf("docker load: %w: %s", err, bytes.TrimSpace(out))
	}
	if werr != nil {
		return fmt.Errorf("writing the docker tarball: %w", werr)
	}
	return nil
}

// Start runs cmd in the foreground with `docker run --rm --network host`, the leader of a process
// group of its own, its output going to cmd.Log. cmd.Env reaches the container through the
// CLI's environment (`-e KEY`), not its arguments, so that no secret shows in a process list.
func (l *dockerLauncher) Start(cmd integration.Command) (integration.Process, error) {
	if len(cmd.Argv) == 0 {
		return nil, fmt.Errorf("starting %q of %q: no command", cmd.Name, l.service)
	}
	if err := l.Prepare(context.Background()); err != nil {
		return nil, err
	}
	id := l.ids.next(l.runID, l.service, cmd.Name)
	args, env := runArgs(id, l.tag, cmd)
	c := l.d.command(context.Background(), args...)
	c.Env = l.d.env(env)
	c.Stdout, c.Stderr = cmd.Log, cmd.Log
	pg, err := procgroup.Start(c)
	if err != nil {
		return nil, fmt.Errorf("starting %q in %s: %w", strings.Join(cmd.Argv, " "), id, err)
	}
	return &dockerProcess{d: l.d, name: id, cliProcess: cliProcess{pg}}, nil
}

// runArgs returns the arguments of `docker run` for cmd, and what to add to the CLI's environment.
func runArgs(name, tag string, cmd integration.Command) (args, env []string) {
	args = []string{"run", "--rm", "--name", name, "--network", "host", "--pull", "never"}
	for _, kv := range mergeEnv(cmd.Env) {
		k, _, _ := strings.Cut(kv, "=")
		if cliReads(k) {
			args = append(args, "-e", kv) // keep the CLI's own
			continue
		}
		args = append(args, "-e", k)
		env = append(env, kv)
	}
	args = append(args, tag)
	return append(args, cmd.Argv...), env
}

// cliReads reports whether the docker CLI itself uses the environment variable k.
func cliReads(k string) bool {
	return k == "PATH" || k == "HOME" || strings.HasPrefix(k, "DOCKER_")
}

// Close removes the image's tag (and the image, when nothing else uses it).
func (l *dockerLauncher) Close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.closed = true
	if !l.prepared {
		return nil
	}
	if _, err := l.d.run("rmi", l.tag); err != nil && !notFound(err) {
		return fmt.Errorf("removing the image of %q: %w", l.service, err)
	}
	l.prepared = false
	return nil
}

// dockerProcess is a command running in a container under a foreground `docker run`.
type dockerProcess struct {
	d          *Docker
	name       string
	cliProcess            // docker run
	mu         sync.Mutex // serialises Stop
}

// Stop sends sig to the container (`docker kill --signal`), waits up to grace for it to exit,
// then removes it (`docker rm -f`), kills the CLI's process group, and checks that the daemon no
// longer knows the container. It may be called more than once.
func (p *dockerProcess) Stop(sig syscall.Signal, grace time.Duration) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if sig == 0 {
		sig = syscall.SIGTERM
	}
	if !p.exited(0) {
		if _, err := p.d.run("kill", "--signal", strconv.Itoa(int(sig)), p.name); err != nil {
			_ = p.pg.SignalLeader(sig) // not created yet: the CLI forwards signals once it is
		}
		p.exited(grace)
	}
	var errs []error
	if _, err := p.d.run("rm", "--force", p.name); err != nil && !notFound(err) {
		errs = append(errs, err)
	}
	if err := p.pg.Stop(syscall.SIGKILL, 0); err != nil {
		errs = append(errs, fmt.Errorf("stopping docker run of %s: %w", p.name, err))
	}
	if err := p.d.gone(p.name, killWait); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// exited waits up to timeout for the CLI to exit and then for the container (which outlives the
// CLI when the CLI was killed), and reports whether both have.
func (p *dockerProcess) exited(timeout time.Duration) bool {
	deadline := time.Now().Add(timeout)
	select {
	case <-p.pg.Done():
	default:
		t := time.NewTimer(timeout)
		defer t.Stop()
		select {
		case <-p.pg.Done():
		case <-t.C:
			return false
		}
	}
	running, err := p.d.running(p.name)
	if err != nil || !running {
		return err == nil
	}
	remaining := time.Until(deadline)
	if remaining <= 0 {
		return false
	}
	ctx, cancel := context.WithTimeout(context.Background(), remaining)
	defer cancel()
	_ = p.d.command(ctx, "wait", p.name).Run() // returns when the container stops or is gone
	return ctx.Err() == nil
}
