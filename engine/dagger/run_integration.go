package dagger

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"dagger.io/dagger"
	"golang.org/x/sync/errgroup"

	"github.com/convoy-ci/convoy/engine"
	"github.com/convoy-ci/convoy/integration/model"
	"github.com/convoy-ci/convoy/python"
)

// stopGrace bounds stopping the run's services once it is over.
const stopGrace = 30 * time.Second

// integrationReport is how an integration run on the engine went. runIntegration fills it as
// far as the run got; convertIntegration turns it into an model.Report.
type integrationReport struct {
	// RunID is the run's id.
	RunID string
	// Postgres is the server's URL as the services reach it, password redacted; "" until the
	// server started.
	Postgres string
	// LogDir holds the run's logs.
	LogDir string
	// Timeout is the whole stage's timeout (the recipe's; 0 for none).
	Timeout time.Duration
	// Services are in start order.
	Services []serviceOutcome
	// SuiteArgv is the suite's command as run (with --junitxml added for pytest).
	SuiteArgv []string
	// SuiteRan says the suite's command was started: every service came up and answered its
	// health check.
	SuiteRan bool
	// SuiteExitCode is the suite command's exit code, or -1 when it did not run or exit by itself.
	SuiteExitCode int
	// SuiteDuration is how long the suite's command ran.
	SuiteDuration time.Duration
	// SuiteLog is the suite's log: its set-up, the health checks and the suite's output.
	SuiteLog string
	// JUnit is the JUnit XML the suite wrote, copied into the log directory ("" when none).
	JUnit string
	// Tests are the test results read from JUnit.
	Tests []model.TestResult
	// JUnitErr is why JUnit could not be read, when it could not.
	JUnitErr error
	// Duration is how long the run took, teardown included.
	Duration time.Duration
}

// serviceOutcome is one service of an integration run.
type serviceOutcome struct {
	Name     string
	URL      string
	Port     int
	Database string
	// Log holds its migrate and populate output (its serve output stays in the engine's
	// progress output: Dagger gives no handle on a service's logs).
	Log string
	// SetUp says its set-up (migrate, then populate) started.
	SetUp bool
	// Started says it got as far as serving.
	Started bool
	// Healthy says its health path answered 2xx.
	Healthy bool
	// Err is why it failed: a *model.ServiceError naming the step ("migrate", "populate",
	// "serve" or "health"). nil when it did not fail (or was never reached).
	Err error
}

// runIntegration runs r, telling ev (which may be nil) of each step as it happens: the Postgres server started with one database per service; every
// service's migrate and populate (at most WithJobs at once, each logged to
// logDir/<service>.log); the services started as Dagger services in start order, each bound to
// the server and to the services it depends on by hostname; then the suite's container bound to
// every service, its set-up, one health check per service and the suite (logDir/suite.log,
// logDir/junit.xml). Everything is stopped at the end, whatever happened. The report is never
// nil. The error says why the run did not pass: a *model.ServiceError (wrapping the
// *engine.StageError) when a service did not come up, a *engine.StageError wrapping
// model.ErrSuiteFailed when the suite exited non-zero. A suite that exited 0 passed
// here; convertIntegration also holds its JUnit results against it, as integration.Run does.
func (e *Engine) runIntegration(ctx context.Context, r *integrationRecipe, logDir string, ev *integrationEvents) (rep *integrationReport, err error) {
	t0 := time.Now()
	rep = newIntegrationReport(r, logDir)
	defer func() { rep.Duration = time.Since(t0) }()
	if r.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, r.Timeout)
		defer cancel()
	}
	if err := os.MkdirAll(logDir, 0o755); err != nil {
		return rep, fmt.Errorf("creating integration log directory: %w", err)
	}
	// A service that failed because the run was cancelled did not fail by itself.
	cancelled := func() bool { return errors.Is(ctx.Err(), context.Canceled) }

	var started []*dagger.Service
	defer func() {
		stopCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), stopGrace)
		defer cancel()
		for i := len(started) - 1; i >= 0; i-- {
			_, _ = started[i].Stop(stopCtx)
		}
	}()

	pg, err := e.postgres(r.Postgres)
	if err != nil {
		return rep, e.stageErr(ctx, fmt.Errorf("setting up Postgres: %w", err))
	}
	if pg, err = pg.Start(ctx); err != nil {
		return rep, e.stageErr(ctx, fmt.Errorf("starting Postgres (%s): %w", r.Postgres.Base.Ref, err))
	}
	started = append(started, pg)
	rep.Postgres = postgresURL(r.Postgres)
	ev.postgresReady(rep)

	// Set-up: migrate and populate, every service at once (bounded).
	setups := make([]*dagger.Container, len(r.Services))
	var g errgroup.Group
	g.SetLimit(e.o.jobs)
	for i := range r.Services {
		g.Go(func() error {
			sr, s := &r.Services[i], &rep.Services[i]
			s.SetUp = true
			ev.serviceSetUp(s, sr)
			t1 := time.Now()
			err := withLog(s.Log, func(log io.Writer) error {
				ctr, err := e.container(ctx, &sr.Setup)
				if err != nil {
					return e.failure(ctx, log, nil, err)
				}
				ctr = ctr.WithServiceBinding(postgresHostname, pg)
				setups[i], err = e.execs(ctx, ctr, &sr.Setup, log)
				return err
			})
			if err != nil {
				step, argv := setupStep(sr, err)
				s.Err = serviceError(sr, step, argv, s.Log, time.Since(t1), "", err)
				if !cancelled() {
					ev.serviceFailed(s)
				}
			}
			return err
		})
	}
	if err := g.Wait(); err != nil {
		return rep, firstServiceErr(rep, err)
	}

	// Start in dependency order, each bound to what it depends on.
	svcs := map[string]*dagger.Service{postgresHostname: pg}
	for i, sr := range r.Services {
		s := &rep.Services[i]
		ctr := setups[i]
		for _, b := range sr.Bindings {
			if b == postgresHostname {
				continue // bound for the set-up already
			}
			dep, ok := svcs[b]
			if !ok {
				err := fmt.Errorf("%q is bound to %q, which has not started: the recipe's services are not in start order", sr.Name, b)
				s.Err = serviceError(&sr, "serve", sr.Serve, s.Log, 0, "", err)
				return rep, s.Err
			}
			ctr = ctr.WithServiceBinding(b, dep)
		}
		t1 := time.Now()
		svc, err := ctr.WithExposedPort(sr.Port).AsService(dagger.ContainerAsServiceOpts{Args: sr.Serve}).Start(ctx)
		if err != nil {
			err = e.stageErrArgv(ctx, sr.Serve, fmt.Errorf("starting %q: %w", sr.Name, err))
			appendLog(s.Log, fmt.Sprintf("$ %s\nconvoy: %v\n", python.QuoteArgv(sr.Serve), err))
			s.Err = serviceError(&sr, "serve", sr.Serve, s.Log, time.Since(t1), "", err)
			if !cancelled() {
				ev.serviceFailed(s)
			}
			return rep, s.Err
		}
		s.Started = true
		started = append(started, svc)
		svcs[sr.Hostname] = svc
	}

	// The suite.
	rep.SuiteArgv = append([]string(nil), r.Suite.Command.Argv...)
	err = withLog(rep.SuiteLog, func(log io.Writer) error {
		ctr, err := e.container(ctx, &r.Suite.Setup)
		if err != nil {
			return e.failure(ctx, log, nil, err)
		}
		for _, b := range r.Suite.Bindings {
			dep, ok := svcs[b]
			if !ok {
				return fmt.Errorf("the suite is bound to %q, which has not started", b)
			}
			ctr = ctr.WithServiceBinding(b, dep)
		}
		if ctr, err = e.execs(ctx, ctr, &r.Suite.Setup, log); err != nil {
			return err
		}
		for i, hc := range r.Suite.HealthChecks {
			s := &rep.Services[i]
			var out bytes.Buffer
			t1 := time.Now()
			if _, err := e.exec(ctx, ctr, "", hc, io.MultiWriter(log, &out)); err != nil {
				sr := &r.Services[i]
				s.Err = serviceError(sr, "health", hc.Argv, rep.SuiteLog, time.Since(t1), lastProbe(out.String()), err)
				if !cancelled() {
					ev.serviceFailed(s)
				}
				return s.Err
			}
			s.Healthy = true
			ev.serviceHealthy(s)
		}
		rep.SuiteRan = true
		ev.suiteStarted(rep)
		t1 := time.Now()
		after, err := e.exec(ctx, ctr, "", r.Suite.Command, log)
		rep.SuiteDuration = time.Since(t1)
		var se *engine.StageError
		switch {
		case err == nil:
			rep.SuiteExitCode = 0
		case errors.As(err, &se) && se.ExitCode >= 0:
			rep.SuiteExitCode = se.ExitCode
			se.Err = fmt.Errorf("%w: %w", model.ErrSuiteFailed, se.Err)
		}
		if after != nil && r.Suite.JUnit != "" {
			dst := filepath.Join(logDir, "junit.xml")
			_ = os.Remove(dst) // never report a previous run's results
			if _, xerr := after.File(r.Suite.JUnit).Export(ctx, dst); xerr == nil {
				rep.JUnit = dst
				rep.Tests, rep.JUnitErr = model.ParseJUnitFile(dst)
			}
		}
		return err
	})
	return rep, err
}

// newIntegrationReport is the report of r before anything ran.
func newIntegrationReport(r *integrationRecipe, logDir string) *integrationReport {
	rep := &integrationReport{RunID: r.RunID, LogDir: logDir, Timeout: r.Timeout, SuiteExitCode: -1,
		SuiteLog: filepath.Join(logDir, "suite.log")}
	for _, sr := range r.Services {
		rep.Services = append(rep.Services, serviceOutcome{Name: sr.Name, URL: sr.URL, Port: sr.Port,
			Database: sr.Database, Log: filepath.Join(logDir, sr.Name+".log")})
	}
	return rep
}

// postgresURL is the server's URL as the services reach it, password redacted.
func postgresURL(p postgresRecipe) string {
	return fmt.Sprintf("postgresql://%s:xxxxx@%s:%d/%s", postgresUser, p.Hostname, p.Port, postgresUser)
}

// setupStep names the set-up step err stopped at, "migrate" or "populate", with its argv: the
// failing exec's, or migrate when the container could not even be prepared.
func setupStep(sr *serviceRecipe, err error) (string, []string) {
	var se *engine.StageError
	if errors.As(err, &se) && len(sr.Setup.Execs) > 1 && equalArgv(se.Command, sr.Setup.Execs[1].Argv) {
		return "populate", sr.Setup.Execs[1].Argv
	}
	if len(sr.Setup.Execs) > 0 {
		return "migrate", sr.Setup.Execs[0].Argv
	}
	return "migrate", nil
}

func equalArgv(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// serviceError describes sr failing at step as package integration does, with the last lines of
// the log that holds the step's output.
func serviceError(sr *serviceRecipe, step string, argv []string, logPath string, waited time.Duration, probe string, err error) *model.ServiceError {
	se := &model.ServiceError{Service: sr.Name, Step: step, Argv: argv, Waited: waited, ExitCode: -1,
		LastProbe: probe, LogPath: logPath, LogTail: model.LogTail(logPath, model.LogTailLines), Err: err}
	if step == "serve" || step == "health" {
		se.URL = sr.URL + sr.Health
	}
	var st *engine.StageError
	if errors.As(err, &st) {
		se.ExitCode, se.TimedOut = st.ExitCode, st.Reason == engine.TimedOut
	}
	if step == "health" && se.ExitCode > 0 {
		se.TimedOut = true // the health script gave up after the health timeout
	}
	return se
}

// lastProbe is the health script's last line of output: the last answer or error it got.
func lastProbe(out string) string {
	lines := strings.Split(strings.TrimSpace(out), "\n")
	for i := len(lines) - 1; i >= 0; i-- {
		if l := strings.TrimSpace(lines[i]); l != "" && !strings.HasPrefix(l, "$ ") && !strings.HasPrefix(l, "convoy: ") {
			return l
		}
	}
	return "no answer"
}

// postgres returns the server's service: its image, environment, database init file and port.
func (e *Engine) postgres(p postgresRecipe) (*dagger.Service, error) {
	ctr, err := e.base(p.Base)
	if err != nil {
		return nil, err
	}
	for _, v := range p.Env {
		ctr = ctr.WithEnvVariable(v.Name, v.Value)
	}
	ctr = ctr.WithNewFile(p.InitFile, p.InitSQL).WithExposedPort(p.Port)
	return ctr.AsService(dagger.ContainerAsServiceOpts{UseEntrypoint: true}), nil
}

// stageErr is stageErrArgv without a command.
func (e *Engine) stageErr(ctx context.Context, err error) error { return e.stageErrArgv(ctx, nil, err) }

// stageErrArgv classifies err as the local engine would: timed out or interrupted when ctx ended.
func (e *Engine) stageErrArgv(ctx context.Context, argv []string, err error) error {
	switch {
	case errors.Is(ctx.Err(), context.DeadlineExceeded):
		return &engine.StageError{Reason: engine.TimedOut, ExitCode: -1, Command: argv, Err: err}
	case ctx.Err() != nil:
		return &engine.StageError{Reason: engine.Interrupted, ExitCode: -1, Command: argv, Err: err}
	}
	return &engine.StageError{Reason: engine.Failed, ExitCode: -1, Command: argv, Err: err}
}

// firstServiceErr is the error of the first service, in start order, that failed; else err.
func firstServiceErr(rep *integrationReport, err error) error {
	for _, s := range rep.Services {
		if s.Err != nil {
			return s.Err
		}
	}
	return err
}

var logMu sync.Mutex

// withLog creates the log file at p and runs f with it.
func withLog(p string, f func(io.Writer) error) error {
	file, err := os.Create(p)
	if err != nil {
		return fmt.Errorf("creating log %q: %w", p, err)
	}
	defer file.Close()
	return f(file)
}

// appendLog adds text to the log at p.
func appendLog(p, text string) {
	logMu.Lock()
	defer logMu.Unlock()
	f, err := os.OpenFile(p, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		return
	}
	defer f.Close()
	_, _ = io.WriteString(f, text)
}
