package dagger

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"dagger.io/dagger"
	"dagger.io/dagger/engineconn"

	"github.com/convoy-ci/convoy/pipeline/images"
	"github.com/convoy-ci/convoy/python"
)

// Name is the engine's name for --engine.
const Name = "dagger"

// Defaults of the connection options.
const (
	// defaultPreflightTimeout bounds the check that an engine is reachable at all.
	defaultPreflightTimeout = 5 * time.Second
	// defaultConnectTimeout bounds opening the session once an engine looks reachable: the
	// first run on a machine downloads the Dagger CLI and starts the engine container.
	defaultConnectTimeout = 5 * time.Minute
	// defaultDockerHost is where the Docker daemon is looked for when DOCKER_HOST is not set.
	defaultDockerHost = "unix:///var/run/docker.sock"
)

// Environment variables that say where the Dagger engine is.
const (
	// EnvSessionPort and envSessionToken name an existing session (`dagger run` sets both).
	EnvSessionPort  = "DAGGER_SESSION_PORT"
	envSessionToken = "DAGGER_SESSION_TOKEN"
	// EnvRunnerHost names a running engine the CLI connects to (tcp://, unix://,
	// docker-container://, kube-pod://, podman-container://...).
	EnvRunnerHost = "_EXPERIMENTAL_DAGGER_RUNNER_HOST"
	// envCLIBin names a Dagger CLI to use instead of the one the SDK downloads.
	envCLIBin = "_EXPERIMENTAL_DAGGER_CLI_BIN"
	// EnvDockerHost is the Docker daemon the SDK provisions an engine on.
	EnvDockerHost = "DOCKER_HOST"
)

// Option configures an Engine (and Connect's checks).
type Option func(*options)

type options struct {
	hostEnv          func(string) (string, bool)
	environ          func() []string
	notify           func(string)
	logOutput        io.Writer
	jobs             int
	preflightTimeout time.Duration
	connectTimeout   time.Duration
	runnerHost       string
	defaultBase      func(string) string
	tempDir          string
	images           *images.Builder
	tools            *python.Tools
	retryDir         string
	integration      IntegrationOptions
}

func makeOptions(opts ...Option) options {
	o := options{
		hostEnv:          os.LookupEnv,
		environ:          os.Environ,
		notify:           func(string) {},
		jobs:             4,
		preflightTimeout: defaultPreflightTimeout,
		connectTimeout:   defaultConnectTimeout,
	}
	for _, opt := range opts {
		opt(&o)
	}
	if o.jobs < 1 {
		o.jobs = 1
	}
	if o.tools == nil && o.images != nil {
		o.tools = o.images.Tools()
	}
	if o.tools == nil {
		o.tools = python.NewTools(python.DefaultCacheDir())
	}
	return o
}

// WithHostEnv replaces os.LookupEnv as the source of the host variables a stage may inherit and
// of the variables Connect's checks read. (The Dagger SDK itself reads the process environment.)
func WithHostEnv(f func(string) (string, bool)) Option { return func(o *options) { o.hostEnv = f } }

// WithNotify receives one-off notices, e.g. that stages asking for no network get one.
func WithNotify(f func(string)) Option { return func(o *options) { o.notify = f } }

// WithLogOutput receives the Dagger SDK's own progress output (default: discarded; stage output
// always goes to the stage's log).
func WithLogOutput(w io.Writer) Option { return func(o *options) { o.logOutput = w } }

// WithJobs bounds how many services the engine works on at once where it fans out by itself
// (integration set-up): --jobs. The scheduler bounds stages.
func WithJobs(n int) Option { return func(o *options) { o.jobs = n } }

// WithPreflightTimeout bounds Connect's check that an engine is reachable.
func WithPreflightTimeout(d time.Duration) Option {
	return func(o *options) { o.preflightTimeout = d }
}

// WithConnectTimeout bounds opening the session once an engine looks reachable.
func WithConnectTimeout(d time.Duration) Option { return func(o *options) { o.connectTimeout = d } }

// WithRunnerHost connects to the engine at host (as _EXPERIMENTAL_DAGGER_RUNNER_HOST does), e.g.
// tcp://dagger.internal:1234 or kube-pod://dagger-engine-0?namespace=dagger.
func WithRunnerHost(host string) Option { return func(o *options) { o.runnerHost = host } }

// WithDefaultBase names the base image of services whose services.yaml has no base:
// (default python:VERSION-slim).
func WithDefaultBase(f func(python string) string) Option {
	return func(o *options) { o.defaultBase = f }
}

// WithTempDir is where oci-layout: bases and the images integration starts are packed into
// tarballs for Import, and environments exported for release (default os.TempDir()); they are
// removed by Close.
func WithTempDir(dir string) Option { return func(o *options) { o.tempDir = dir } }

// WithImages lets Run carry out image stages: the input hash, the image.Spec and the store
// (and push target) are b's, so that images built on Dagger are found, labelled, stored and
// pushed as the local engine's are. Without it an image stage fails saying that this run builds
// no images.
func WithImages(b *images.Builder) Option { return func(o *options) { o.images = b } }

// WithTools sets the Python tools whose uv is copied into the containers (default: the
// WithImages builder's, else tools kept in python.DefaultCacheDir()).
func WithTools(t *python.Tools) Option { return func(o *options) { o.tools = t } }

// WithStateDir keeps the engine's record of failed execs under dir (.convoy: dir/dagger/retry),
// so that a failure is run again by the next run too, not given back from Dagger's cache;
// PruneRetries removes the records no run used lately (convoy cache prune). Without it the
// record lasts as long as the engine.
func WithStateDir(dir string) Option {
	return func(o *options) { o.retryDir = retryDir(dir) }
}

// WithIntegration sets what Integrate cannot read from services.yaml: the Postgres and suite
// images, the health timeout and (for tests) the run id. The zero value takes every default.
func WithIntegration(opts IntegrationOptions) Option {
	return func(o *options) { o.integration = opts }
}

// UnreachableError says that no Dagger engine could be reached, why, and how to provide one.
type UnreachableError struct {
	// Reason is what the check found.
	Reason string
	// Err is the underlying cause, if any.
	Err error
}

// Error names the reason and every way to give convoy an engine.
func (e *UnreachableError) Error() string {
	reason := e.Reason
	if e.Err != nil {
		reason += ": " + e.Err.Error()
	}
	return "no Dagger engine reachable: " + reason + "\n" +
		"--engine dagger needs one of:\n" +
		"  - an existing session: run convoy under `dagger run` (it sets " + EnvSessionPort + " and " + envSessionToken + ");\n" +
		"  - a running engine: set " + EnvRunnerHost + " (tcp://HOST:PORT, unix:///PATH, docker-container://NAME, kube-pod://POD?namespace=NS);\n" +
		"  - a Docker daemon the Dagger SDK can start an engine on (" + EnvDockerHost + ", default " + defaultDockerHost + "; the engine container runs privileged).\n" +
		"See docs/dagger.md; --engine local needs none of these."
}

// Unwrap returns the underlying cause.
func (e *UnreachableError) Unwrap() error { return e.Err }

// Reachable checks, within the preflight timeout, that a Dagger engine can be reached the way
// Connect would reach it, and says how. It starts nothing: it dials the session's port, the
// runner's address, or pings the Docker daemon. A nil error is no promise that the session will
// open (an engine image may still fail to pull), only that there is something to talk to.
func Reachable(ctx context.Context, opts ...Option) (string, error) {
	o := makeOptions(opts...)
	ctx, cancel := context.WithTimeout(ctx, o.preflightTimeout)
	defer cancel()
	how, err := o.reachable(ctx)
	if err != nil {
		var ue *UnreachableError
		if !errors.As(err, &ue) {
			ue = &UnreachableError{Reason: "checking for an engine", Err: err}
		}
		if ctx.Err() != nil {
			ue.Reason += fmt.Sprintf(" (no answer within %s)", o.preflightTimeout)
		}
		return "", ue
	}
	return how, nil
}

func (o options) reachable(ctx context.Context) (string, error) {
	if port, ok := o.hostEnv(EnvSessionPort); ok {
		n, err := strconv.Atoi(port)
		if err != nil || n <= 0 || n > 65535 {
			return "", &UnreachableError{Reason: fmt.Sprintf("%s=%q is not a port number", EnvSessionPort, port)}
		}
		if tok, _ := o.hostEnv(envSessionToken); tok == "" {
			return "", &UnreachableError{Reason: fmt.Sprintf("%s=%s is set but %s is empty", EnvSessionPort, port, envSessionToken)}
		}
		addr := net.JoinHostPort("127.0.0.1", port)
		if err := dial(ctx, "tcp", addr); err != nil {
			return "", &UnreachableError{Reason: fmt.Sprintf("nothing answers on %s (%s=%s): is the `dagger run` session still up?", addr, EnvSessionPort, port), Err: err}
		}
		return "existing session on " + addr, nil
	}
	runner := o.runnerHost
	if runner == "" {
		runner, _ = o.hostEnv(EnvRunnerHost)
	}
	if runner != "" {
		if err := o.cliAvailable(); err != nil {
			return "", err
		}
		return o.runnerReachable(ctx, runner)
	}
	if err := o.cliAvailable(); err != nil {
		return "", err
	}
	host, err := o.dockerReachable(ctx)
	if err != nil {
		return "", err
	}
	return "engine provisioned by the Dagger SDK on the Docker daemon at " + host, nil
}

// runnerReachable checks the engine named by _EXPERIMENTAL_DAGGER_RUNNER_HOST.
func (o options) runnerReachable(ctx context.Context, runner string) (string, error) {
	u, err := url.Parse(runner)
	if err != nil || u.Scheme == "" {
		return "", &UnreachableError{Reason: fmt.Sprintf("%s=%q is not a URL like tcp://HOST:PORT", EnvRunnerHost, runner)}
	}
	switch u.Scheme {
	case "tcp":
		if err := dial(ctx, "tcp", u.Host); err != nil {
			return "", &UnreachableError{Reason: fmt.Sprintf("nothing answers at %s=%s", EnvRunnerHost, runner), Err: err}
		}
	case "unix":
		if err := dial(ctx, "unix", u.Path); err != nil {
			return "", &UnreachableError{Reason: fmt.Sprintf("nothing answers at %s=%s", EnvRunnerHost, runner), Err: err}
		}
	case "docker-container", "docker-image":
		if _, err := o.dockerReachable(ctx); err != nil {
			var ue *UnreachableError
			if errors.As(err, &ue) {
				ue.Reason = fmt.Sprintf("%s=%s needs Docker: %s", EnvRunnerHost, runner, ue.Reason)
			}
			return "", err
		}
	case "kube-pod":
		if _, err := o.lookPath("kubectl"); err != nil {
			return "", &UnreachableError{Reason: fmt.Sprintf("%s=%s needs kubectl on PATH", EnvRunnerHost, runner), Err: err}
		}
	case "podman-container":
		if _, err := o.lookPath("podman"); err != nil {
			return "", &UnreachableError{Reason: fmt.Sprintf("%s=%s needs podman on PATH", EnvRunnerHost, runner), Err: err}
		}
	}
	return "runner " + runner, nil
}

// cliAvailable checks the Dagger CLI the SDK would use: the one named by
// _EXPERIMENTAL_DAGGER_CLI_BIN must exist; otherwise the SDK uses the one it downloaded before, or
// downloads it (a notice says so).
func (o options) cliAvailable() error {
	if bin, ok := o.hostEnv(envCLIBin); ok {
		if _, err := o.lookPath(bin); err != nil {
			return &UnreachableError{Reason: fmt.Sprintf("%s=%q is not an executable", envCLIBin, bin), Err: err}
		}
		return nil
	}
	if p := cachedCLI(o.hostEnv); p != "" {
		if _, err := os.Stat(p); err == nil {
			return nil
		}
	}
	o.notify(fmt.Sprintf("the Dagger SDK downloads its CLI v%s on first use; on a host without access to dl.dagger.io set %s to an installed dagger binary, or run convoy under `dagger run`",
		engineconn.CLIVersion, envCLIBin))
	return nil
}

// cachedCLI is where the SDK keeps the CLI it downloads.
func cachedCLI(env func(string) (string, bool)) string {
	dir, _ := env("XDG_CACHE_HOME")
	if dir == "" {
		home, _ := env("HOME")
		if home == "" {
			return ""
		}
		dir = filepath.Join(home, ".cache")
	}
	return filepath.Join(dir, "dagger", "dagger-"+engineconn.CLIVersion)
}

// dockerReachable pings the Docker daemon of DOCKER_HOST and checks that the docker CLI, which
// the Dagger CLI starts its engine with, is on PATH.
func (o options) dockerReachable(ctx context.Context) (string, error) {
	host, _ := o.hostEnv(EnvDockerHost)
	if host == "" {
		host = defaultDockerHost
	}
	u, err := url.Parse(host)
	if err != nil {
		return "", &UnreachableError{Reason: fmt.Sprintf("%s=%q is not a URL", EnvDockerHost, host)}
	}
	var network, addr string
	switch u.Scheme {
	case "unix":
		network, addr = "unix", u.Path
	case "tcp":
		network, addr = "tcp", u.Host
	default:
		return "", &UnreachableError{Reason: fmt.Sprintf("%s=%s: only unix:// and tcp:// daemons can be checked", EnvDockerHost, host)}
	}
	if err := dockerPing(ctx, network, addr); err != nil {
		return "", &UnreachableError{Reason: fmt.Sprintf("no Docker daemon answers at %s", host), Err: err}
	}
	if _, err := o.lookPath("docker"); err != nil {
		return "", &UnreachableError{Reason: fmt.Sprintf("the Docker daemon at %s answers but the docker CLI is not on PATH", host), Err: err}
	}
	return host, nil
}

// dockerPing sends GET /_ping to the daemon at network/addr and wants 200.
func dockerPing(ctx context.Context, network, addr string) error {
	client := &http.Client{Transport: &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, network, addr)
		},
		DisableKeepAlives: true,
	}}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://docker/_ping", nil)
	if err != nil {
		return err
	}
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<10))
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET /_ping: %s", resp.Status)
	}
	return nil
}

func dial(ctx context.Context, network, addr string) error {
	var d net.Dialer
	c, err := d.DialContext(ctx, network, addr)
	if err != nil {
		return err
	}
	return c.Close()
}

// lookPath finds prog on the PATH of the host environment (an absolute or relative path with a
// slash is checked as it is).
func (o options) lookPath(prog string) (string, error) {
	check := func(p string) bool {
		fi, err := os.Stat(p)
		return err == nil && !fi.IsDir() && fi.Mode()&0o111 != 0
	}
	if strings.Contains(prog, "/") {
		if check(prog) {
			return prog, nil
		}
		return "", fmt.Errorf("%q is not an executable file", prog)
	}
	path, _ := o.hostEnv("PATH")
	for _, dir := range filepath.SplitList(path) {
		if dir == "" {
			continue
		}
		if p := filepath.Join(dir, prog); check(p) {
			return p, nil
		}
	}
	return "", fmt.Errorf("%q not found on PATH", prog)
}

// Connect checks that a Dagger engine is reachable (within the preflight timeout: an
// *UnreachableError otherwise, naming every way to provide one), opens a session on it (within
// the connect timeout) and returns the engine. Close ends the session.
func Connect(ctx context.Context, opts ...Option) (*Engine, error) {
	o := makeOptions(opts...)
	how, err := Reachable(ctx, opts...)
	if err != nil {
		return nil, err
	}
	// The session lives as long as the context the SDK is given: not ctx, which may be a
	// request's, but one Close cancels.
	sessCtx, cancelSess := context.WithCancel(context.WithoutCancel(ctx))
	copts := []dagger.ClientOpt{}
	if o.logOutput != nil {
		copts = append(copts, dagger.WithLogOutput(o.logOutput))
	}
	if o.runnerHost != "" {
		copts = append(copts, dagger.WithRunnerHost(o.runnerHost))
	}
	type result struct {
		c   *dagger.Client
		err error
	}
	done := make(chan result, 1)
	go func() {
		c, err := dagger.Connect(sessCtx, copts...)
		done <- result{c, err}
	}()
	timer := time.NewTimer(o.connectTimeout)
	defer timer.Stop()
	select {
	case r := <-done:
		if r.err != nil {
			cancelSess()
			return nil, fmt.Errorf("opening a Dagger session (%s): %w", how, r.err)
		}
		e := New(r.c, opts...)
		e.closeSession = func() error {
			err := r.c.Close()
			cancelSess()
			return err
		}
		return e, nil
	case <-timer.C:
		cancelSess()
		return nil, fmt.Errorf("opening a Dagger session (%s): no session after %s (see docs/dagger.md; WithConnectTimeout raises the limit)", how, o.connectTimeout)
	case <-ctx.Done():
		cancelSess()
		return nil, fmt.Errorf("opening a Dagger session (%s): %w", how, ctx.Err())
	}
}
