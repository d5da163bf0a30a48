// Package backing starts the throwaway backing services of an integration run — Redis and
// RabbitMQ, from the machine's Debian packages — each as a process group of convoy's (that dies
// with convoy) on free 127.0.0.1 ports, with its data in a directory of its own, no persistence
// beyond the run, and readiness checked with the server's own protocol.
package backing

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"syscall"
	"time"

	"github.com/convoy-ci/convoy/integration/internal/freeport"
	"github.com/convoy-ci/convoy/internal/procgroup"
)

// The kinds of backing service Start knows.
const (
	Redis    = "redis"
	RabbitMQ = "rabbitmq"
)

// kinds describes every kind: the Debian package that provides it and how to start it.
var kinds = map[string]struct {
	pkg     string
	timeout time.Duration
	start   func(ctx context.Context, s *Server, pick func() (int, error)) error
}{
	Redis:    {pkg: "redis-server", timeout: 30 * time.Second, start: startRedis},
	RabbitMQ: {pkg: "rabbitmq-server", timeout: 2 * time.Minute, start: startRabbitMQ},
}

// Kinds returns the kinds Start knows, sorted.
func Kinds() []string {
	out := make([]string, 0, len(kinds))
	for k := range kinds {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// Known reports whether Start knows kind.
func Known(kind string) bool {
	_, ok := kinds[kind]
	return ok
}

// Server is a started backing service.
type Server struct {
	kind  string
	pkg   string // the Debian package that provides it
	dir   string
	log   *os.File
	port  int
	url   string
	procs []*procgroup.Process
}

// Start starts a server of kind with its data in dir (created; removed by Stop) and its output in
// logPath, on ports pick hands out, and returns once it answers its protocol. On error nothing it
// started is left running.
func Start(ctx context.Context, kind, dir, logPath string, pick func() (int, error)) (*Server, error) {
	k, ok := kinds[kind]
	if !ok {
		return nil, fmt.Errorf("unknown backing service %q (expected one of %v)", kind, Kinds())
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("creating the directory of %s: %w", kind, err)
	}
	log, err := os.Create(logPath)
	if err != nil {
		return nil, fmt.Errorf("creating the log of %s: %w", kind, err)
	}
	s := &Server{kind: kind, pkg: k.pkg, dir: dir, log: log}
	sctx, cancel := context.WithTimeout(ctx, k.timeout)
	defer cancel()
	if err := k.start(sctx, s, pick); err != nil {
		err = fmt.Errorf("starting %s (log: %s): %w", kind, logPath, err)
		return nil, errors.Join(err, s.Stop(time.Second))
	}
	return s, nil
}

// Kind is the server's kind.
func (s *Server) Kind() string { return s.kind }

// URL is the server's URL, for its clients.
func (s *Server) URL() string { return s.url }

// Port is the port clients connect to.
func (s *Server) Port() int { return s.port }

// Dir is the server's data directory.
func (s *Server) Dir() string { return s.dir }

// PIDs are the process groups the server runs in.
func (s *Server) PIDs() []int {
	out := make([]int, len(s.procs))
	for i, p := range s.procs {
		out[i] = p.PID()
	}
	return out
}

// Stop stops the server's process groups (SIGTERM, SIGKILL after grace), last started first, and
// removes its directory. It may be called more than once.
func (s *Server) Stop(grace time.Duration) error {
	var errs []error
	for _, p := range slices.Backward(s.procs) {
		if err := p.Stop(syscall.SIGTERM, grace); err != nil {
			errs = append(errs, fmt.Errorf("stopping %s (pid %d): %w", s.kind, p.PID(), err))
		}
	}
	if s.log != nil {
		_ = s.log.Close()
	}
	if err := os.RemoveAll(s.dir); err != nil {
		errs = append(errs, fmt.Errorf("removing the directory of %s: %w", s.kind, err))
	}
	return errors.Join(errs...)
}

// run starts argv with env (over a minimal environment) in s's directory, its output to s's log.
func (s *Server) run(argv []string, env ...string) (*procgroup.Process, error) {
	path, err := exec.LookPath(argv[0])
	if err != nil {
		return nil, fmt.Errorf("%s is not installed (apt-get install -y %s, or scripts/setup.sh integration): %w", argv[0], s.pkg, err)
	}
	cmd := &exec.Cmd{Path: path, Args: argv, Dir: s.dir, Stdout: s.log, Stderr: s.log,
		Env: append([]string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin", "HOME=" + s.dir, "LANG=C.UTF-8"}, env...)}
	p, err := procgroup.Start(cmd)
	if err != nil {
		return nil, fmt.Errorf("starting %s: %w", argv[0], err)
	}
	s.procs = append(s.procs, p)
	return p, nil
}

// await repeats ready until it succeeds, p exits or ctx ends; it returns the last error then.
func await(ctx context.Context, p *procgroup.Process, ready func(ctx context.Context) error) error {
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		err := ready(ctx)
		if err == nil {
			return nil
		}
		select {
		case <-p.Done():
			return fmt.Errorf("it exited (%v) before it was ready: %w", p.Err(), err)
		case <-ctx.Done():
			return fmt.Errorf("not ready in time: %w", err)
		case <-tick.C:
		}
	}
}

// pickPort is a free port from pick, or freeport.Pick when pick is nil.
func pickPort(pick func() (int, error)) (int, error) {
	if pick == nil {
		return freeport.Pick()
	}
	return pick()
}

// inDir is name in s's directory.
func (s *Server) inDir(name string) string { return filepath.Join(s.dir, name) }
