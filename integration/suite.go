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
)

// maxListedFailures bounds the failures named in the suite's error.
const maxListedFailures = 10

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
		err = fmt.Errorf("%w: %w", ErrSuiteFailed, err)
		r.emit(Event{Kind: EventSuiteFinished, Argv: argv, LogPath: rep.LogPath, Suite: rep, Err: err})
		return err
	}
	rep.Ran, rep.PID = true, p.PID()
	r.emit(Event{Kind: EventSuiteStarted, PID: p.PID(), Argv: argv, LogPath: rep.LogPath})

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
		if tests, err := ParseJUnitFile(junit); err == nil {
			rep.JUnitPath, rep.Tests = junit, tests
		} else if !errors.Is(err, os.ErrNotExist) {
			parseErr = err
		}
	}
	rep.Tally()
	for i := range rep.Tests {
		r.emit(Event{Kind: EventTestResult, Test: &rep.Tests[i]})
	}

	err = suiteError(rep, sctx.Err() != nil, su.Timeout)
	if err == nil && parseErr != nil {
		err = fmt.Errorf("%w: %w", ErrSuiteFailed, parseErr)
	}
	r.emit(Event{Kind: EventSuiteFinished, PID: p.PID(), Argv: argv, LogPath: rep.LogPath, Duration: rep.Duration, Suite: rep, Err: err})
	return err
}

// suiteError says why the suite did not pass, nil if it did.
func suiteError(rep *SuiteReport, timedOut bool, timeout time.Duration) error {
	counts := fmt.Sprintf("%d passed, %d failed, %d skipped, %d errors", rep.Passed, rep.Failed, rep.Skipped, rep.Errors)
	var why string
	switch {
	case timedOut:
		why = fmt.Sprintf("timed out after %s (%s so far)", timeout, counts)
	case rep.ExitCode == 5 && rep.Total() == 0:
		why = "no tests were collected (exit status 5)"
	case rep.ExitCode != 0:
		why = fmt.Sprintf("%s (exit status %d)", counts, rep.ExitCode)
	case rep.Failed+rep.Errors > 0:
		why = fmt.Sprintf("%s (exit status 0)", counts)
	default:
		return nil
	}
	return SuiteFailure(rep, why)
}

// SuiteFailure is the error of a suite that did not pass for the reason why: it wraps
// ErrSuiteFailed and lists the failed tests (the first few) and the suite's log.
func SuiteFailure(rep *SuiteReport, why string) error {
	var b strings.Builder
	fmt.Fprintf(&b, "%s: %s", ErrSuiteFailed.Error(), why)
	for i, t := range rep.Failures() {
		if i == maxListedFailures {
			fmt.Fprintf(&b, "\n  … and %d more", len(rep.Failures())-i)
			break
		}
		fmt.Fprintf(&b, "\n  %s %s", strings.ToUpper(string(t.Status)), t.Name)
		if t.Message != "" {
			fmt.Fprintf(&b, ": %s", firstLine(t.Message))
		}
	}
	fmt.Fprintf(&b, "\nsee %s", rep.LogPath)
	return &suiteErr{msg: b.String()}
}

// suiteErr is an error whose message is prepared and that wraps ErrSuiteFailed.
type suiteErr struct{ msg string }

func (e *suiteErr) Error() string { return e.msg }
func (e *suiteErr) Unwrap() error { return ErrSuiteFailed }
