package integration

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"os/exec"
	"strings"
	"syscall"
	"time"

	"github.com/convoy-ci/convoy/internal/procgroup"
)

// Launcher starts the commands of one service (its migration, its populator, its serve command).
// A Service with a nil Launcher runs them as host processes in Service.Dir with Service.Env; a
// container runtime's Launcher runs them inside the service's image instead, with the image's own
// interpreter, site-packages, user, working directory and environment.
type Launcher interface {
	// Start starts cmd and returns at once. The caller waits with Process.Done and always ends the
	// process with Process.Stop, whatever happened.
	Start(cmd Command) (Process, error)
	// Describe names what commands run in, for logs: "host", "runc: auth@sha256:…".
	Describe() string
	// Close releases what the launcher prepared (an unpacked root filesystem, a loaded image). Run
	// calls it once, at teardown, after every process it started has been stopped.
	Close() error
}

// Command is one command a Launcher starts.
type Command struct {
	// Name tells the commands of one service apart ("migrate", "populate", "serve"); a container
	// runtime puts it in the container's name.
	Name string
	// Argv is the command. A container runtime looks argv[0] up in the image's PATH.
	Argv []string
	// Env is what the run adds, "KEY=VALUE": Spec.Env, every service's <NAME>_URL, DATABASE_URL,
	// HOST and PORT. A container runtime puts these over the image's own environment; the host
	// Launcher puts them over Service.Env.
	Env []string
	// Log receives the command's standard output and standard error.
	Log io.Writer
}

// Process is a started command. Stop takes down everything the command started (its process
// group, its container) and may be called more than once.
type Process interface {
	// PID is the process convoy waits for (the command, or the runtime's process that runs it).
	PID() int
	// Done is closed when the command has exited.
	Done() <-chan struct{}
	// Err is the command's outcome once Done is closed (nil for exit status 0).
	Err() error
	// ExitCode is the command's exit code once Done is closed; -1 if it was killed or has not exited.
	ExitCode() int
	// Stop sends sig, waits up to grace for the command to exit, then kills what is left, and
	// returns an error only when something it started is still there at the end.
	Stop(sig syscall.Signal, grace time.Duration) error
}

// Preparer is a Launcher with slow work to do before its first command (unpacking an image, say,
// or waiting for it to be built). Run calls Prepare for every service's Launcher at once, as it
// starts the database server; a service starts once its own Prepare returned.
type Preparer interface {
	Prepare(ctx context.Context) error
}

// hostLauncher runs commands as host processes, each the leader of a process group of its own.
type hostLauncher struct {
	dir string
	env []string // the base environment; nil means convoy's own
}

func (h hostLauncher) Describe() string { return h.dir }

func (h hostLauncher) Close() error { return nil }

func (h hostLauncher) Start(c Command) (Process, error) {
	env := mergeEnv(baseEnv(h.env), c.Env)
	path, err := lookPath(c.Argv[0], env)
	if err != nil {
		return nil, err
	}
	cmd := &exec.Cmd{Path: path, Args: c.Argv, Dir: h.dir, Env: env, Stdout: c.Log, Stderr: c.Log}
	p, err := procgroup.Start(cmd)
	if err != nil {
		return nil, fmt.Errorf("starting %q in %q: %w", strings.Join(c.Argv, " "), h.dir, err)
	}
	return p, nil
}

// NewRunID returns a run id for Spec.RunID: the UTC time and random bits, unique enough for
// database and container names.
func NewRunID() string {
	b := make([]byte, 3)
	_, _ = rand.Read(b)
	return time.Now().UTC().Format("20060102t150405") + "_" + hex.EncodeToString(b)
}
