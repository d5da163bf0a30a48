package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/spf13/pflag"
	"golang.org/x/term"

	"github.com/convoy-ci/convoy/pipeline"
	"github.com/convoy-ci/convoy/pipeline/affected"
	"github.com/convoy-ci/convoy/pipeline/config"
	"github.com/convoy-ci/convoy/pipeline/report"
)

// Exit codes (the CLI contract scripts rely on).
const (
	exitPassed      = 0
	exitFailed      = 1
	exitUsage       = 2
	exitInterrupted = 130 // SIGINT
	exitTerminated  = 143 // SIGTERM
)

// signals remembers which signal stopped the run, for the exit code.
type signals struct {
	mu  sync.Mutex
	sig os.Signal
}

func (s *signals) set(sig os.Signal) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.sig == nil {
		s.sig = sig
	}
}

// received reports whether a signal has stopped convoy.
func (s *signals) received() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.sig != nil
}

func (s *signals) exitCode() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.sig == syscall.SIGTERM {
		return exitTerminated
	}
	return exitInterrupted
}

// options are the flags every command shares.
type options struct {
	file     string
	repo     string
	engine   string
	jobs     int
	only     []string
	failFast bool
	output   string
	progress string
	cacheDir string
	junit    string
	ci       string
	trace    string
	since    string
}

// command is one subcommand: its flags and what it does.
type command struct {
	name    string
	summary string
	usage   string
	flags   func(fs *pflag.FlagSet)
	run     func(ctx context.Context, c *cli) int
}

// cli is the state of one invocation.
type cli struct {
	opts   options
	stdout io.Writer
	stderr io.Writer
	sigs   *signals
	fs     *pflag.FlagSet
	args   []string
}

var commands []*command

func register(c *command) { commands = append(commands, c) }

func findCommand(name string) *command {
	for _, c := range commands {
		if c.name == name {
			return c
		}
	}
	return nil
}

// Main runs convoy with args (without the program name) and returns the exit code.
func Main(ctx context.Context, args []string, stdout, stderr io.Writer, sigs *signals) int {
	if sigs == nil {
		sigs = &signals{}
	}
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		topUsage(stdout)
		if len(args) == 0 {
			return exitUsage
		}
		return exitPassed
	}
	cmd := findCommand(args[0])
	if cmd == nil {
		fmt.Fprintf(stderr, "convoy: unknown command %q (expected one of: %s)\n", args[0], commandNames())
		return exitUsage
	}
	c := &cli{stdout: stdout, stderr: stderr, sigs: sigs}
	fs := pflag.NewFlagSet("convoy "+cmd.name, pflag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVarP(&c.opts.file, "file", "f", config.FileName, "manifest to read, relative to the repository")
	fs.StringVarP(&c.opts.repo, "repo", "C", ".", "repository to run on")
	fs.StringVar(&c.opts.engine, "engine", "local", "engine: local | dagger")
	fs.IntVarP(&c.opts.jobs, "jobs", "j", runtime.NumCPU(), "most stages running at once")
	fs.StringSliceVar(&c.opts.only, "only", nil, "run only these services (comma-separated)")
	fs.StringVar(&c.opts.since, "since", "", "run only the services whose inputs changed since this git revision, and those that depend on them (with --only: the services both select)")
	fs.BoolVar(&c.opts.failFast, "fail-fast", false, "cancel everything at the first failure")
	fs.StringVar(&c.opts.output, "output", "text", "output: text | json (NDJSON events, summary last)")
	fs.StringVar(&c.opts.progress, "progress", "auto", "text progress: auto | tty | plain")
	fs.StringVar(&c.opts.junit, "junit", "", "also write a JUnit XML report (a suite per service, a case per stage) to this file")
	fs.StringVar(&c.opts.ci, "ci", report.CIAuto, "CI-native output: github (groups, annotations, step summary) | gitlab (collapsible sections) | none | auto (github when GITHUB_ACTIONS=true, gitlab when GITLAB_CI=true)")
	fs.StringVar(&c.opts.trace, "trace", "", "also write the run's stages as a Chrome trace-event file (open it in ui.perfetto.dev)")
	fs.StringVar(&c.opts.cacheDir, "cache-dir", os.Getenv("CONVOY_CACHE_DIR"), "where virtualenvs and layers are cached (default <repo>/.convoy/cache; env CONVOY_CACHE_DIR)")
	if cmd.flags != nil {
		cmd.flags(fs)
	}
	fs.Usage = func() {
		fmt.Fprintf(stdout, "Usage: convoy %s %s\n\n%s\n\nFlags:\n%s", cmd.name, cmd.usage, cmd.summary, fs.FlagUsages())
	}
	c.fs = fs
	if err := fs.Parse(args[1:]); err != nil {
		if errors.Is(err, pflag.ErrHelp) {
			return exitPassed
		}
		fmt.Fprintf(stderr, "convoy %s: %v (see convoy %s --help)\n", cmd.name, err, cmd.name)
		return exitUsage
	}
	c.args = fs.Args()
	if err := c.checkCommon(); err != nil {
		fmt.Fprintf(stderr, "convoy %s: %v\n", cmd.name, err)
		return exitUsage
	}
	return cmd.run(ctx, c)
}

func (c *cli) checkCommon() error {
	switch {
	case c.opts.jobs < 1:
		return fmt.Errorf("--jobs %d: expected at least 1", c.opts.jobs)
	case c.opts.output != "text" && c.opts.output != "json":
		return fmt.Errorf("--output %q: expected text or json", c.opts.output)
	case c.opts.progress != "auto" && c.opts.progress != "tty" && c.opts.progress != "plain":
		return fmt.Errorf("--progress %q: expected auto, tty or plain", c.opts.progress)
	case c.opts.engine != "local" && c.opts.engine != "dagger":
		return fmt.Errorf("--engine %q: expected local or dagger", c.opts.engine)
	case c.opts.ci != report.CIAuto && c.opts.ci != report.CIGitHub && c.opts.ci != report.CIGitLab && c.opts.ci != report.CINone:
		return fmt.Errorf("--ci %q: expected auto, github, gitlab or none", c.opts.ci)
	}
	return nil
}

func topUsage(w io.Writer) {
	fmt.Fprintf(w, "convoy — gates, images, integration and releases for a monorepo of services\n\nUsage: convoy COMMAND [flags]\n\nCommands:\n")
	sorted := append([]*command(nil), commands...)
	sort.Slice(sorted, func(i, j int) bool { return sorted[i].name < sorted[j].name })
	for _, c := range sorted {
		fmt.Fprintf(w, "  %-12s %s\n", c.name, c.summary)
	}
	fmt.Fprintf(w, "\nRun convoy COMMAND --help for a command's flags.\nExit codes: 0 passed, 1 a stage failed, 2 usage or configuration error, 130/143 interrupted.\n")
}

func commandNames() string {
	names := make([]string, len(commands))
	for i, c := range commands {
		names[i] = c.name
	}
	sort.Strings(names)
	return strings.Join(names, ", ")
}

// load reads and validates the manifest; problems are printed and reported as exit code 2.
func (c *cli) load() (*config.Config, int) {
	cfg, err := config.Load(c.opts.file, c.opts.repo)
	if err != nil {
		return nil, c.refuseManifest(err)
	}
	return cfg, exitPassed
}

// refuseManifest reports a manifest that cannot be used (every problem of a *config.Error at
// its position) and returns the usage exit code: nothing ran.
func (c *cli) refuseManifest(err error) int {
	var ce *config.Error
	if errors.As(err, &ce) {
		for _, p := range ce.Problems {
			fmt.Fprintln(c.stderr, p.String())
		}
		fmt.Fprintf(c.stderr, "convoy: %d problem(s) in %s; nothing was run\n", len(ce.Problems), c.opts.file)
	} else {
		fmt.Fprintf(c.stderr, "convoy: %v\n", err)
	}
	return exitUsage
}

// stateDir is the repository's .convoy directory.
func stateDir(cfg *config.Config) string { return filepath.Join(cfg.Root, pipeline.StateDirName) }

// cacheDir is where virtualenvs and layers are cached.
func (c *cli) cacheDir(cfg *config.Config) string {
	if c.opts.cacheDir != "" {
		if abs, err := filepath.Abs(c.opts.cacheDir); err == nil {
			return abs
		}
		return c.opts.cacheDir
	}
	return filepath.Join(stateDir(cfg), "cache")
}

// layerCache is where runc keeps the repository's image layers unpacked: <cache dir>/rootfs (the
// base images' are in container.DefaultLayerCache(), the machine's).
func (c *cli) layerCache(cfg *config.Config) string {
	return filepath.Join(c.cacheDir(cfg), "rootfs")
}

// bus builds the event bus for the chosen output (and the CI-native output, the JUnit report
// and the trace, when asked for). Its close writes what the summary did not (a trace of a run
// that ended without one).
func (c *cli) bus() (bus *pipeline.Bus, close func()) {
	var sinks []pipeline.Sink
	tty := c.opts.progress == "tty"
	if c.opts.progress == "auto" {
		f, ok := c.stdout.(*os.File)
		tty = ok && term.IsTerminal(int(f.Fd())) && os.Getenv("CI") != "true"
	}
	switch {
	case c.opts.output == "json":
		sinks = append(sinks, report.NewJSON(c.stdout))
	case tty:
		sinks = append(sinks, report.NewTTY(c.stdout, 250*time.Millisecond))
	default:
		sinks = append(sinks, report.NewPlain(c.stdout))
	}
	sinks = append(sinks, c.ciSinks()...)
	if c.opts.junit != "" {
		j := report.NewJUnit(c.opts.junit)
		sinks = append(sinks, j, c.reportErr(j.Err))
	}
	close = func() {}
	if c.opts.trace != "" {
		tr := report.NewTrace(c.opts.trace)
		sinks = append(sinks, tr, c.reportErr(tr.Err))
		close = func() {
			if err := tr.Close(); err != nil {
				fmt.Fprintf(c.stderr, "convoy: %v\n", err)
			}
		}
	}
	return pipeline.NewBus(sinks...), close
}

// ciSinks are the renderers of --ci (by default, of the CI system the environment names). They
// write to stdout, or to stderr when stdout carries NDJSON: both are the job's log.
func (c *cli) ciSinks() []pipeline.Sink {
	w := c.stdout
	if c.opts.output == "json" {
		w = c.stderr
	}
	mode := c.opts.ci
	if mode == report.CIAuto {
		mode = report.DetectCI(os.Getenv)
	}
	switch mode {
	case report.CIGitHub:
		g := report.NewGitHub(w, os.Getenv("GITHUB_STEP_SUMMARY"))
		return []pipeline.Sink{g, c.reportErr(g.Err)}
	case report.CIGitLab:
		return []pipeline.Sink{report.NewGitLab(w)}
	}
	return nil
}

// reportErr is a sink that prints err's error, if any, once the summary was rendered.
func (c *cli) reportErr(err func() error) pipeline.Sink {
	return pipeline.SinkFunc(func(e pipeline.Event) {
		if e.Type == pipeline.EventSummary && err() != nil {
			fmt.Fprintf(c.stderr, "convoy: %v\n", err())
		}
	})
}

// planOptions are the plan options the common flags give, with cfg's stage history; a history
// that could not be read is returned as a notice to show (the plan goes on without it).
func (c *cli) planOptions(cfg *config.Config) (pipeline.PlanOptions, error) {
	opts := pipeline.PlanOptions{Engine: c.opts.engine, Jobs: c.opts.jobs, FailFast: c.opts.failFast, Only: c.opts.only}
	// CONVOY_SCHEDULE=fifo runs ready stages first come, first served: the benchmarks' baseline.
	if os.Getenv("CONVOY_SCHEDULE") == "fifo" {
		opts.Order = pipeline.OrderFIFO
	}
	h, err := pipeline.LoadHistory(filepath.Join(stateDir(cfg), pipeline.HistoryFile))
	opts.History = h
	return opts, err
}

// since is what --since selects (nil without it): for a command that runs integration, with
// every service the selected ones depend on. Whatever stops it from selecting — a revision the
// repository does not have, no repository — is a usage error: nothing ran.
func (c *cli) since(cfg *config.Config, integration bool) (*affected.Selection, error) {
	if c.opts.since == "" {
		return nil, nil
	}
	sel, err := affected.Select(cfg, c.opts.since)
	if err != nil {
		return nil, &pipeline.UsageError{Msg: err.Error()}
	}
	if integration {
		sel = sel.ForIntegration(cfg)
	}
	return sel, nil
}

// flagString is the value of the string flag name, "" when this command has no such flag.
// A name no command defines is a mistake in convoy itself, and panics (see lookupFlag).
func (c *cli) flagString(name string) string {
	if !c.lookupFlag(name) {
		return ""
	}
	v, err := c.fs.GetString(name)
	if err != nil {
		panic(fmt.Sprintf("convoy: reading flag --%s: %v", name, err))
	}
	return v
}

// flagBool is the value of the bool flag name, false when this command has no such flag.
func (c *cli) flagBool(name string) bool {
	if !c.lookupFlag(name) {
		return false
	}
	v, err := c.fs.GetBool(name)
	if err != nil {
		panic(fmt.Sprintf("convoy: reading flag --%s: %v", name, err))
	}
	return v
}

// flagDuration is the value of the duration flag name, 0 when this command has no such flag.
func (c *cli) flagDuration(name string) time.Duration {
	if !c.lookupFlag(name) {
		return 0
	}
	v, err := c.fs.GetDuration(name)
	if err != nil {
		panic(fmt.Sprintf("convoy: reading flag --%s: %v", name, err))
	}
	return v
}

// lookupFlag reports whether this command has the flag name. A name that no command defines is
// a typo in convoy's own code: it panics instead of reading as the zero value, which would hide
// it (a dropped --insecure, say).
func (c *cli) lookupFlag(name string) bool {
	if c.fs.Lookup(name) != nil {
		return true
	}
	if !flagDefined(name) {
		panic(fmt.Sprintf("convoy: no command has a flag --%s", name))
	}
	return false
}

// flagDefined reports whether any command (or the common flags) defines the flag name.
func flagDefined(name string) bool {
	for _, cmd := range commands {
		fs := pflag.NewFlagSet(cmd.name, pflag.ContinueOnError)
		if cmd.flags != nil {
			cmd.flags(fs)
		}
		if fs.Lookup(name) != nil {
			return true
		}
	}
	return false
}

// fail prints err and returns exit code 2 when it is a usage error, else exit code 1 — or,
// once a signal has stopped convoy, that signal's code: what failed then failed because it was
// stopped (a registry check cancelled half-way is no precondition that failed).
func (c *cli) fail(err error) int {
	fmt.Fprintf(c.stderr, "convoy: %v\n", err)
	if c.sigs.received() {
		return c.sigs.exitCode()
	}
	var ue *pipeline.UsageError
	if errors.As(err, &ue) {
		return exitUsage
	}
	return exitFailed
}
