package dagger

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
	"time"

	"dagger.io/dagger"
	"golang.org/x/sync/errgroup"

	"github.com/convoy-ci/convoy/engine"
	"github.com/convoy-ci/convoy/integration"
)

// stopGrace bounds stopping the run's services once it is over.
const stopGrace = 30 * time.Second

// IntegrationReport is how an integration run on the engine went.
type IntegrationReport struct {
	// RunID is the run's id.
	RunID string
	// Services are in start order.
	Services []IntegrationService
	// SuiteExitCode is the suite command's exit code, or -1 when it did not run or exit by itself.
	SuiteExitCode int
	// SuiteLog is the suite's log: its set-up, the health checks and the suite's output.
	SuiteLog string
	// JUnit is the JUnit XML the suite wrote, copied into the log directory ("" when none).
	JUnit string
}

// IntegrationService is one service of an integration run.
type IntegrationService struct {
	Name     string
	URL      string
	Database string
	// Log holds its migrate and populate output (its serve output stays in the engine's
	// progress output: Dagger gives no handle on a service's logs).
	Log string
	// Started says it got as far as serving.
	Started bool
	// Err is why it failed; nil when it did not (or was never reached).
	Err error
}

// Integrate runs r: the Postgres server started with one database per service; every service's
// migrate and populate (at most WithJobs at once, each logged to logDir/<service>.log); the
// services started as Dagger services in start order, each bound to the server and to the
// services it depends on by hostname; then the suite's container bound to every service, its
// set-up, one health check per service and the suite (logDir/suite.log, logDir/junit.xml).
// Everything is stopped at the end, whatever happened. The error says why the stage did not
// pass: a *engine.StageError wrapping integration.ErrSuiteFailed when the suite failed.
func (e *Engine) Integrate(ctx context.Context, r *IntegrationRecipe, logDir string) (*IntegrationReport, error) {
	if r.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, r.Timeout)
		defer cancel()
	}
	rep := &IntegrationReport{RunID: r.RunID, SuiteExitCode: -1, SuiteLog: filepath.Join(logDir, "suite.log")}
	for _, sr := range r.Services {
		rep.Services = append(rep.Services, IntegrationService{Name: sr.Name, URL: sr.URL, Database: sr.Database,
			Log: filepath.Join(logDir, sr.Name+".log")})
	}
	if err := os.MkdirAll(logDir, 0o755); err != nil {
		return rep, fmt.Errorf("creating integration log directory: %w", err)
	}

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
		return rep, e.stageErr(ctx, fmt.Errorf("integration: Postgres: %w", err))
	}
	if pg, err = pg.Start(ctx); err != nil {
		return rep, e.stageErr(ctx, fmt.Errorf("integration: starting Postgres (%s): %w", r.Postgres.Base.Ref, err))
	}
	started = append(started, pg)

	// Set-up: migrate and populate, every service at once (bounded).
	setups := make([]*dagger.Container, len(r.Services))
	var g errgroup.Group
	g.SetLimit(e.o.jobs)
	for i := range r.Services {
		g.Go(func() error {
			sr := &r.Services[i]
			err := withLog(rep.Services[i].Log, func(log io.Writer) error {
				ctr, err := e.Container(ctx, &sr.Setup)
				if err != nil {
					return e.failure(ctx, log, nil, err)
				}
				ctr = ctr.WithServiceBinding(PostgresHostname, pg)
				setups[i], err = e.execs(ctx, ctr, sr.Setup.Execs, log)
				return err
			})
			rep.Services[i].Err = err
			return err
		})
	}
	if err := g.Wait(); err != nil {
		return rep, fmt.Errorf("integration: setting up services: %w", firstServiceErr(rep))
	}

	// Start in dependency order, each bound to what it depends on.
	svcs := map[string]*dagger.Service{PostgresHostname: pg}
	for i, sr := range r.Services {
		ctr := setups[i]
		for _, b := range sr.Bindings {
			if b == PostgresHostname {
				continue // bound for the set-up already
			}
			dep, ok := svcs[b]
			if !ok {
				err := fmt.Errorf("integration: %q is bound to %q, which has not started: the recipe's services are not in start order", sr.Name, b)
				rep.Services[i].Err = err
				return rep, err
			}
			ctr = ctr.WithServiceBinding(b, dep)
		}
		s := ctr.WithExposedPort(sr.Port).AsService(dagger.ContainerAsServiceOpts{Args: sr.Serve})
		s, err := s.Start(ctx)
		if err != nil {
			err = e.stageErrArgv(ctx, sr.Serve, fmt.Errorf("starting %q: %w", sr.Name, err))
			rep.Services[i].Err = err
			appendLog(rep.Services[i].Log, fmt.Sprintf("$ %s\nconvoy: %v\n", quoteArgv(sr.Serve), err))
			return rep, fmt.Errorf("integration: %w", err)
		}
		rep.Services[i].Started = true
		started = append(started, s)
		svcs[sr.Hostname] = s
	}

	// The suite.
	err = withLog(rep.SuiteLog, func(log io.Writer) error {
		ctr, err := e.Container(ctx, &r.Suite.Setup)
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
		if ctr, err = e.execs(ctx, ctr, r.Suite.Setup.Execs, log); err != nil {
			return err
		}
		for i, hc := range r.Suite.HealthChecks {
			if _, err := e.execs(ctx, ctr, []Exec{hc}, log); err != nil {
				rep.Services[i].Err = fmt.Errorf("health check of %q: %w", r.Services[i].Name, err)
				return rep.Services[i].Err
			}
		}
		after, err := e.exec(ctx, ctr, r.Suite.Command, log)
		var se *engine.StageError
		switch {
		case err == nil:
			rep.SuiteExitCode = 0
		case errors.As(err, &se) && se.ExitCode >= 0:
			rep.SuiteExitCode = se.ExitCode
			se.Err = fmt.Errorf("%w: %w", integration.ErrSuiteFailed, se.Err)
		}
		if after != nil && r.Suite.JUnit != "" {
			dst := filepath.Join(logDir, "junit.xml")
			if _, xerr := after.File(r.Suite.JUnit).Export(ctx, dst); xerr == nil {
				rep.JUnit = dst
			}
		}
		return err
	})
	if err != nil {
		return rep, fmt.Errorf("integration: %w", err)
	}
	return rep, nil
}

// postgres returns the server's service: its image, environment, database init file and port.
func (e *Engine) postgres(p PostgresRecipe) (*dagger.Service, error) {
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

func firstServiceErr(rep *IntegrationReport) error {
	for _, s := range rep.Services {
		if s.Err != nil {
			return fmt.Errorf("%q: %w", s.Name, s.Err)
		}
	}
	return errors.New("no service failed")
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
