package integration

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/convoy-ci/convoy/integration/model"
)

// runSuite runs the suite and fills the report's suite section.
func (r *runner) runSuite(ctx context.Context) error {
	su := r.spec.Suite
	rep := &r.report.Suite
	argv := append([]string(nil), su.Argv...)
	junit := ""
	if p, ok := JUnitArg(argv); ok {
		junit = p
		if !filepath.IsAbs(junit) {
			junit = filepath.Join(su.Dir, junit)
		}
	} else if IsPytest(argv) {
		junit = filepath.Join(r.spec.LogDir, "junit.xml")
		argv = append(argv, "--junitxml="+junit)
	}
	if junit != "" {
		_ = os.Remove(junit) // never report a previous run's results
	}
	base := baseEnv(su.Env)
	env := mergeEnv(r.backingEnv(r.backingKinds()), envList(r.spec.Env), r.urlEnv())
	if su.BinDir != "" {
		path := su.BinDir
		if old := getenv(base, "PATH"); old != "" {
			path += string(os.PathListSeparator) + old
		}
		env = mergeEnv(env, []string{"PATH=" + path})
	}

	rep.LogPath = filepath.Join(r.spec.LogDir, "suite.log")
	rep.Argv, rep.ExitCode = argv, -1
	log, err := os.OpenFile(rep.LogPath, os.O_CREATE|os.O_TRUNC|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return fmt.Errorf("creating suite log %q: %w", rep.LogPath, err)
	}
	r.logs = append(r.logs, log)
	fmt.Fprintf(log, "=== convoy: suite: %s (in %s)\n", strings.Join(argv, " "), su.Dir)

	t0 := time.Now()
	if su.Ready != nil {
		if err = su.Ready(ctx); err != nil {
			err = fmt.Errorf("preparing the suite: %w", err)
		}
	}
	var p Process
	if err == nil {
		p, err = r.start("suite", hostLauncher{dir: su.Dir, env: base}, Command{Name: "suite", Argv: argv, Env: env, Log: log})
	}
	if err != nil {
		err = fmt.Errorf("%w: %w", model.ErrSuiteFailed, err)
		r.emit(model.Event{Kind: model.EventSuiteFinished, Argv: argv, LogPath: rep.LogPath, Suite: rep, Err: err})
		return err
	}
	rep.Ran, rep.PID = true, p.PID()
	r.emit(model.Event{Kind: model.EventSuiteStarted, PID: p.PID(), Argv: argv, LogPath: rep.LogPath})

	sctx, cancel := context.WithTimeout(ctx, su.Timeout)
	defer cancel()
	select {
	case <-p.Done():
	case <-sctx.Done():
	}
	_ = p.Stop(syscall.SIGTERM, r.grace())
	rep.Duration, rep.ExitCode = time.Since(t0), p.ExitCode()
	if ctx.Err() != nil {
		return ctx.Err()
	}

	var parseErr error
	if junit != "" {
		if tests, err := model.ParseJUnitFile(junit); err == nil {
			rep.JUnitPath, rep.Tests = junit, tests
		} else if !errors.Is(err, os.ErrNotExist) {
			parseErr = err
		}
	}
	rep.Tally()
	for i := range rep.Tests {
		r.emit(model.Event{Kind: model.EventTestResult, Test: &rep.Tests[i]})
	}

	timedOut := ""
	if sctx.Err() != nil {
		timedOut = fmt.Sprintf("timed out after %s", su.Timeout)
	}
	err = model.SuiteVerdict(rep, timedOut, parseErr)
	r.emit(model.Event{Kind: model.EventSuiteFinished, PID: p.PID(), Argv: argv, LogPath: rep.LogPath, Duration: rep.Duration, Suite: rep, Err: err})
	return err
}
