package container

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/convoy-ci/convoy/integration"
	"github.com/convoy-ci/convoy/internal/procgroup"
)

// Kinds of runtime New knows.
const (
	// KindAuto is docker when DOCKER_HOST is set (or WithDockerHost is given), else runc.
	KindAuto = "auto"
	// KindRunc runs containers with runc, without a daemon.
	KindRunc = "runc"
	// KindDocker runs containers through the docker CLI and the daemon at DOCKER_HOST.
	KindDocker = "docker"
)

// ErrUnavailable is wrapped by every error that says a runtime cannot be used on this machine; the
// error's text says what to install or set. convoy maps it to exit code 2.
var ErrUnavailable = errors.New("container runtime unavailable")

// Runtime runs commands inside images.
type Runtime interface {
	// Kind is KindRunc or KindDocker.
	Kind() string
	// Launcher returns the Launcher of one service's commands in one run, inside img. It does
	// no work: Prepare does (and reports what is wrong with img).
	Launcher(service, runID string, img v1.Image) Launcher
}

// Launcher is an integration.Launcher with slow work to do first (unpacking or loading the
// image). Start prepares it when Prepare has not been called.
type Launcher interface {
	integration.Launcher
	integration.Preparer
}

// Option configures New, NewRunc and NewDocker.
type Option func(*options)

type options struct {
	runcPath     string
	stateRoot    string
	workDir      string
	layerCache   string
	sharedLayers string
	sharedIDs    []v1.Hash
	dockerPath   string
	dockerHost   string
	probeTimeout time.Duration
}

// DefaultProbeTimeout bounds how long NewDocker waits for the daemon to answer.
const DefaultProbeTimeout = 5 * time.Second

// WithRuncPath uses the runc binary at path instead of searching PATH, /usr/sbin and /usr/bin.
func WithRuncPath(path string) Option { return func(o *options) { o.runcPath = path } }

// WithStateRoot keeps runc's container state in dir (runc --root) instead of <work dir>/runc/state.
func WithStateRoot(dir string) Option { return func(o *options) { o.stateRoot = dir } }

// WithWorkDir puts root filesystems and bundles under dir (convoy gives <repo>/.convoy/run)
// instead of <temp dir>/convoy-run.
func WithWorkDir(dir string) Option { return func(o *options) { o.workDir = dir } }

// WithLayerCache keeps runc's unpacked image layers in dir (convoy gives
// <repo>/.convoy/cache/rootfs) instead of DefaultLayerCache(). The directory grows by every
// distinct layer unpacked until PruneLayers (convoy cache prune) removes those unused lately.
func WithLayerCache(dir string) Option { return func(o *options) { o.layerCache = dir } }

// WithSharedLayers keeps the layers with the DiffIDs diffIDs — a base image's, which every
// repository's images share — unpacked in dir instead of the layer cache (convoy gives
// DefaultLayerCache(), the machine's, and its services' base images): unpacked once per machine,
// as a container engine keeps a pulled base image, not once per repository clone and cache (134
// MB, 1.8 CPU-seconds for the Debian base). Like the layer cache, dir is pruned by PruneLayers.
func WithSharedLayers(dir string, diffIDs ...v1.Hash) Option {
	return func(o *options) { o.sharedLayers, o.sharedIDs = dir, diffIDs }
}

// WithDockerPath uses the docker CLI at path instead of searching PATH.
func WithDockerPath(path string) Option { return func(o *options) { o.dockerPath = path } }

// WithDockerHost talks to the daemon at host ("unix:///run/podman/podman.sock") instead of
// $DOCKER_HOST.
func WithDockerHost(host string) Option { return func(o *options) { o.dockerHost = host } }

// WithProbeTimeout bounds how long NewDocker waits for the daemon to answer (DefaultProbeTimeout).
func WithProbeTimeout(d time.Duration) Option { return func(o *options) { o.probeTimeout = d } }

// makeOptions applies opts over the defaults and makes the work directory absolute.
func makeOptions(opts []Option) (options, error) {
	o := options{probeTimeout: DefaultProbeTimeout, dockerHost: os.Getenv("DOCKER_HOST")}
	for _, opt := range opts {
		opt(&o)
	}
	if o.workDir == "" {
		o.workDir = filepath.Join(os.TempDir(), "convoy-run")
	}
	var err error
	if o.workDir, err = filepath.Abs(o.workDir); err != nil {
		return o, fmt.Errorf("work directory %q: %w", o.workDir, err)
	}
	if o.layerCache == "" {
		o.layerCache = DefaultLayerCache()
	}
	if o.layerCache, err = filepath.Abs(o.layerCache); err != nil {
		return o, fmt.Errorf("layer cache %q: %w", o.layerCache, err)
	}
	if o.sharedLayers != "" {
		if o.sharedLayers, err = filepath.Abs(o.sharedLayers); err != nil {
			return o, fmt.Errorf("shared layer cache %q: %w", o.sharedLayers, err)
		}
	}
	if o.stateRoot == "" {
		o.stateRoot = filepath.Join(o.workDir, "runc", "state")
	} else if o.stateRoot, err = filepath.Abs(o.stateRoot); err != nil {
		return o, fmt.Errorf("runc state root %q: %w", o.stateRoot, err)
	}
	return o, nil
}

// New returns the runtime of the given kind (KindAuto, KindRunc or KindDocker; "" means
// KindAuto). The error wraps ErrUnavailable when the runtime cannot be used here, and says what
// to install or set.
func New(kind string, opts ...Option) (Runtime, error) {
	switch kind {
	case KindRunc:
		return NewRunc(opts...)
	case KindDocker:
		return NewDocker(opts...)
	case KindAuto, "":
		o, err := makeOptions(opts)
		if err != nil {
			return nil, err
		}
		if o.dockerHost != "" {
			return NewDocker(opts...)
		}
		rt, err := NewRunc(opts...)
		if err != nil {
			return nil, fmt.Errorf("%w; or set DOCKER_HOST to a Docker Engine or Podman socket", err)
		}
		return rt, nil
	default:
		return nil, fmt.Errorf("unknown container runtime %q (want %s, %s or %s)", kind, KindAuto, KindRunc, KindDocker)
	}
}

// unavailable returns an error wrapping ErrUnavailable (and any error among args, with %w).
func unavailable(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrUnavailable}, args...)...)
}

// cliProcess is the runtime CLI (runc run, docker run) that waits for a container in the
// foreground: its exit is the container's, unless the CLI itself was killed.
type cliProcess struct {
	pg *procgroup.Process
}

// PID is the process ID of the runtime CLI.
func (p cliProcess) PID() int { return p.pg.PID() }

// Done is closed when the CLI has exited: when the container has, unless the CLI was killed.
func (p cliProcess) Done() <-chan struct{} { return p.pg.Done() }

// Err is the CLI's outcome once Done is closed: nil when the container exited with status 0.
func (p cliProcess) Err() error { return p.pg.Err() }

// ExitCode is the CLI's exit code: the container's (128+n when killed by signal n; docker: 125
// to 127 when it could not run it); -1 when the CLI was killed or has not exited.
func (p cliProcess) ExitCode() int { return p.pg.ExitCode() }
