// Package local is convoy's default engine: every stage is a host process in the service's own
// virtualenv, with a controlled environment, in its own process group.
package local

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/convoy-ci/convoy/engine"
	"github.com/convoy-ci/convoy/integration/container"
	"github.com/convoy-ci/convoy/internal/procgroup"
	"github.com/convoy-ci/convoy/pipeline/config"
	"github.com/convoy-ci/convoy/pipeline/images"
	"github.com/convoy-ci/convoy/python"
	"github.com/convoy-ci/convoy/stages"
)

// Name is the engine's name for --engine.
const Name = "local"

// DefaultGrace is how long a stage's processes get between SIGTERM and SIGKILL.
const DefaultGrace = 5 * time.Second

// Engine runs stages as host processes. Create it with New.
type Engine struct {
	stateDir string
	cacheDir string
	dbDir    string
	grace    time.Duration
	notify   func(string)
	hostEnv  func(string) (string, bool)

	netOnce sync.Once
	netErr  error

	pyMu    sync.Mutex
	pythons map[string]string // version → interpreter path

	images  *images.Builder
	tools   *python.Tools
	runtime container.Runtime

	venvMu sync.Mutex
	venvs  map[string]string // service dir → virtualenv its deps stage used in this run
}

var _ engine.Engine = (*Engine)(nil)

// Option configures an Engine.
type Option func(*Engine)

// WithCacheDir keeps virtualenvs under dir (default: <state dir>/venvs' parent, .convoy/cache).
// Virtualenvs are keyed by their dependency spec only, so a cache may be shared between
// repositories.
func WithCacheDir(dir string) Option { return func(e *Engine) { e.cacheDir = dir } }

// WithDBDir keeps the scratch SQLite databases of unit and populate stages under dir (default
// <state dir>/db); each run gives its own (pipeline.RunDir.DB), so that concurrent runs never
// share a database file.
func WithDBDir(dir string) Option { return func(e *Engine) { e.dbDir = dir } }

// WithGrace sets the time between SIGTERM and SIGKILL when a stage is stopped.
func WithGrace(d time.Duration) Option { return func(e *Engine) { e.grace = d } }

// WithNotify receives one-off notices, e.g. that network isolation is unavailable.
func WithNotify(f func(string)) Option { return func(e *Engine) { e.notify = f } }

// WithImages lets the engine run image stages, assembling images with b.
func WithImages(b *images.Builder) Option { return func(e *Engine) { e.images = b } }

// WithRuntime lets Integrate start services from their images with rt.
func WithRuntime(rt container.Runtime) Option { return func(e *Engine) { e.runtime = rt } }

// WithTools sets the Python tools (uv) that resolve images' runtime requirements (default: the
// WithImages builder's, else tools kept in the cache directory).
func WithTools(t *python.Tools) Option { return func(e *Engine) { e.tools = t } }

// WithHostEnv replaces os.LookupEnv as the source of the host variables a stage may inherit.
func WithHostEnv(f func(string) (string, bool)) Option { return func(e *Engine) { e.hostEnv = f } }

// New returns an engine keeping its state (logs, databases) under stateDir, usually
// <repo>/.convoy.
func New(stateDir string, opts ...Option) *Engine {
	e := &Engine{
		stateDir: stateDir,
		cacheDir: filepath.Join(stateDir, "cache"),
		dbDir:    filepath.Join(stateDir, "db"),
		grace:    DefaultGrace,
		notify:   func(string) {},
		hostEnv:  os.LookupEnv,
		pythons:  map[string]string{},
		venvs:    map[string]string{},
	}
	for _, o := range opts {
		o(e)
	}
	if e.tools == nil && e.images != nil {
		e.tools = e.images.Tools()
	}
	if e.tools == nil {
		e.tools = python.NewTools(e.cacheDir)
	}
	return e
}

// Name returns "local".
func (e *Engine) Name() string { return Name }

// Close releases nothing: the local engine holds no connection.
func (e *Engine) Close() error { return nil }

// Run carries out one stage of one service.
func (e *Engine) Run(ctx context.Context, req engine.Request) (engine.Result, error) {
	if req.JUnit != "" { // the stage runs on this host: its runner writes where convoy reads
		req.Stage = engine.WithJUnit(req.Stage, req.JUnit)
	}
	svc, st := req.Service, req.Stage
	var venv string
	var err error
	if st.Kind == stages.KindDeps {
		// Later stages of this run use the virtualenv this deps stage installs.
		venv, err = e.venvFor(svc, st)
		if err == nil {
			e.venvMu.Lock()
			e.venvs[svc.Dir] = venv
			e.venvMu.Unlock()
		}
	} else {
		venv, err = e.Venv(svc)
	}
	if err != nil {
		return engine.Result{}, &engine.StageError{Reason: engine.Failed, ExitCode: -1, Err: err}
	}
	ctx, cancel := context.WithTimeout(ctx, st.Timeout)
	defer cancel()
	switch st.Kind {
	case stages.KindDeps:
		return e.deps(ctx, req, venv)
	case stages.KindProcess:
		env, err := e.environ(req, venv)
		if err != nil {
			return engine.Result{}, &engine.StageError{Reason: engine.Failed, ExitCode: -1, Err: err}
		}
		return engine.Result{}, e.runAll(ctx, req, st.Commands, env)
	case stages.KindImage:
		return e.image(ctx, req, venv)
	case stages.KindLayer:
		return e.layer(ctx, req, venv)
	}
	return engine.Result{}, &engine.StageError{Reason: engine.Failed, ExitCode: -1,
		Err: fmt.Errorf("stage %q of %q: the local engine runs no stage of this kind", st.Name, svc.Name)}
}

// runAll runs commands in order and stops at the first that does not pass.
func (e *Engine) runAll(ctx context.Context, req engine.Request, cmds [][]string, env []string) error {
	for _, argv := range cmds {
		if err := e.run(ctx, req, argv, env); err != nil {
			return err
		}
	}
	return nil
}

// run starts argv in the service directory in a process group of its own and waits for it.
// On cancellation or timeout the whole group gets SIGTERM, then SIGKILL after the grace period;
// run returns only when the group's leader has been reaped and the group signalled empty.
func (e *Engine) run(ctx context.Context, req engine.Request, argv []string, env []string) error {
	return e.runTo(ctx, req, argv, env, req.Log)
}

// runIn is run with dir as the command's working directory instead of the service's.
func (e *Engine) runIn(ctx context.Context, req engine.Request, dir string, argv []string, env []string) error {
	svc := *req.Service
	svc.Dir = dir
	req.Service = &svc
	return e.run(ctx, req, argv, env)
}

// runTo is run with the command's standard output sent to stdout (its errors still go to the
// stage's log).
func (e *Engine) runTo(ctx context.Context, req engine.Request, argv []string, env []string, stdout io.Writer) error {
	if err := ctx.Err(); err != nil {
		return stopped(ctx, argv)
	}
	fmt.Fprintf(req.Log, "$ %s\n", python.QuoteArgv(argv))
	path, err := lookPath(argv[0], env)
	if err != nil {
		fmt.Fprintf(req.Log, "convoy: %v\n", err)
		return &engine.StageError{Reason: engine.Failed, ExitCode: -1, Command: argv, Err: err}
	}
	cmd := exec.Command(path, argv[1:]...)
	cmd.Args[0] = argv[0]
	cmd.Dir = req.Service.Dir
	cmd.Env = env
	cmd.Stdout, cmd.Stderr = stdout, req.Log
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if req.Stage.Offline {
		if e.offlineSupported() {
			isolate(cmd, e.ownPaths(req, env))
		}
	}
	if err := procgroup.StartDying(cmd); err != nil {
		fmt.Fprintf(req.Log, "convoy: starting %s: %v\n", argv[0], err)
		return &engine.StageError{Reason: engine.Failed, ExitCode: -1, Command: argv, Err: err}
	}
	pgid := cmd.Process.Pid
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	var werr error
	select {
	case werr = <-done:
	case <-ctx.Done():
		_ = syscall.Kill(-pgid, syscall.SIGTERM)
		select {
		case werr = <-done:
		case <-time.After(e.grace):
			_ = syscall.Kill(-pgid, syscall.SIGKILL)
			werr = <-done
		}
	}
	// Children that outlived their parent belong to the stage too: the stage ends when its
	// whole group is gone.
	if err := procgroup.Kill(pgid, e.grace+5*time.Second); err != nil {
		fmt.Fprintf(req.Log, "convoy: %v\n", err)
	}
	if ctx.Err() != nil {
		fmt.Fprintf(req.Log, "convoy: %s\n", stopped(ctx, argv))
		return stopped(ctx, argv)
	}
	if werr != nil {
		se := &engine.StageError{Reason: engine.Failed, ExitCode: -1, Command: argv, Err: werr}
		var ee *exec.ExitError
		if errors.As(werr, &ee) {
			se.ExitCode = ee.ExitCode()
		}
		fmt.Fprintf(req.Log, "convoy: %v\n", se)
		return se
	}
	return nil
}

// ownPaths are the files an offline stage keeps when the host's sockets are hidden from it: its
// service and repository, convoy's state and caches, its scratch databases, its virtualenv and
// home, and where its JUnit report goes.
func (e *Engine) ownPaths(req engine.Request, env []string) []string {
	paths := []string{req.Service.Dir, e.stateDir, e.cacheDir, e.dbDir}
	if req.Config != nil {
		paths = append(paths, req.Config.Root)
	}
	if req.JUnit != "" {
		paths = append(paths, filepath.Dir(req.JUnit))
	}
	for _, kv := range env {
		k, v, _ := strings.Cut(kv, "=")
		if k == "VIRTUAL_ENV" || k == "HOME" {
			paths = append(paths, v)
		}
	}
	return paths
}

func stopped(ctx context.Context, argv []string) error {
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return &engine.StageError{Reason: engine.TimedOut, ExitCode: -1, Command: argv, Err: ctx.Err()}
	}
	return &engine.StageError{Reason: engine.Interrupted, ExitCode: -1, Command: argv, Err: ctx.Err()}
}

// lookPath resolves a program against the stage's own PATH, not convoy's.
func lookPath(prog string, env []string) (string, error) {
	if strings.Contains(prog, "/") {
		return prog, nil
	}
	for _, kv := range env {
		if p, ok := strings.CutPrefix(kv, "PATH="); ok {
			for _, dir := range filepath.SplitList(p) {
				cand := filepath.Join(dir, prog)
				if st, err := os.Stat(cand); err == nil && !st.IsDir() && st.Mode()&0o111 != 0 {
					return cand, nil
				}
			}
		}
	}
	return "", fmt.Errorf("%q not found in the stage's PATH", prog)
}

// environ builds a stage's whole environment — config.ReservedEnv and LANG: PATH with the
// virtualenv first, HOME, VIRTUAL_ENV, PYTHONPATH (the service's directory, then each lib's import root: the lib, or its
// parent when it is a package — config.Lib.ImportRoot), the manifest's env and the stage's —
// nothing else from the host
// (but the package-download variables for stages that ask for them).
func (e *Engine) environ(req engine.Request, venv string) ([]string, error) {
	svc, st := req.Service, req.Stage
	hostPath, _ := e.hostEnv("PATH")
	if hostPath == "" {
		hostPath = "/usr/local/bin:/usr/bin:/bin"
	}
	home, _ := e.hostEnv("HOME")
	pyPath := append([]string{svc.Dir}, svc.ImportRoots(func(l config.Lib) string { return l.Dir })...)
	env := python.StageEnv(venv, home, hostPath, pyPath)
	env["CONVOY_SERVICE"], env["CONVOY_STAGE"] = svc.Name, st.Name
	if st.HostNetEnv {
		for _, k := range python.HostNetVars {
			if v, ok := e.hostEnv(k); ok {
				env[k] = v
			}
		}
		for _, kv := range os.Environ() {
			k, _, _ := strings.Cut(kv, "=")
			if strings.HasPrefix(k, "PIP_") {
				if v, ok := e.hostEnv(k); ok {
					env[k] = v
				}
			}
		}
	}
	if st.FreshDB {
		url, err := e.freshDB(svc, st.Name)
		if err != nil {
			return nil, err
		}
		env[svc.DatabaseEnv()] = url
	}
	for k, v := range svc.Env {
		env[k] = v
	}
	for k, v := range st.Env {
		env[k] = v
	}
	out := make([]string, 0, len(env))
	for k, v := range env {
		out = append(out, k+"="+v)
	}
	sort.Strings(out)
	return out, nil
}

// freshDB removes any earlier database of this service and stage and returns the URL of a new
// SQLite file for it.
func (e *Engine) freshDB(svc *config.Service, stage string) (string, error) {
	dir := filepath.Join(e.dbDir, svc.Name)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("creating database directory for %q: %w", svc.Name, err)
	}
	file := filepath.Join(dir, stage+".sqlite3")
	if err := os.Remove(file); err != nil && !os.IsNotExist(err) {
		return "", fmt.Errorf("removing old database of %q: %w", svc.Name, err)
	}
	abs, err := filepath.Abs(file)
	if err != nil {
		return "", err
	}
	return "sqlite:///" + abs, nil
}

// Environ returns the environment a process of svc would get for stage st — used to start
// services for integration from the environment that passed their gates.
func (e *Engine) Environ(cfg *config.Config, svc *config.Service, st stages.Stage) ([]string, error) {
	venv, err := e.Venv(svc)
	if err != nil {
		return nil, err
	}
	return e.environ(engine.Request{Config: cfg, Service: svc, Stage: st, Log: io.Discard}, venv)
}
