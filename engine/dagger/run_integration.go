package dagger

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
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

// runIntegration runs r, filling rs and sending its events as each step happens: the Postgres
// server started with one database per service; every service prepared (prepare, when not nil:
// its image waited for and exported), then its migrate and populate (at most WithJobs services
// at once, each logged to its log in the report); the services started as Dagger
// services in start order, each bound to the server and to the services it depends on by
// hostname; then the suite's container bound to every service, its set-up, one health check per
// service and the suite (suite.log and junit.xml in the report's log directory). Everything is
// stopped at the end, whatever happened. A shadow service that does not come up stops nothing
// (runState.serviceFailed): the others start and the suite runs without it. The error says why
// the run did not pass: the *model.ServiceError (wrapping the *engine.StageError) of the first
// service that did not come up, or the suite's (model.SuiteVerdict).
func (e *Engine) runIntegration(ctx context.Context, r *integrationRecipe, rs *runState, prepare prepareFunc) error {
	t0 := time.Now()
	defer func() { rs.rep.Duration = time.Since(t0) }()
	if r.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, r.Timeout)
		defer cancel()
	}
	if err := os.MkdirAll(rs.rep.LogDir, 0o755); err != nil {
		return fmt.Errorf("creating integration log directory: %w", err)
	}
	svcs := map[string]*dagger.Service{} // by hostname, once started
	defer stopAll(ctx, r, svcs)
	pg, err := e.postgres(r.Postgres)
	if err != nil {
		return e.stageErr(ctx, fmt.Errorf("setting up Postgres: %w", err))
	}
	if pg, err = pg.Start(ctx); err != nil {
		return e.stageErr(ctx, fmt.Errorf("starting Postgres (%s): %w", r.Postgres.Base.Ref, err))
	}
	svcs[postgresHostname] = pg
	rs.postgresReady(postgresURL(r.Postgres))

	rs.setPhase("setting up the services")
	setups, err := e.setUpServices(ctx, r, rs, pg, prepare)
	if err != nil {
		return err
	}
	if err := e.startServices(ctx, r, rs, setups, svcs); err != nil {
		return err
	}
	rs.setPhase("setting up the suite and checking the services' health")
	return withLog(rs.rep.Suite.LogPath, func(log io.Writer) error { return e.runSuite(ctx, r, rs, svcs, log) })
}

// stopAll stops the services of svcs (by hostname) in the reverse of their start order, the
// server last, bounded by stopGrace even when ctx has ended.
func stopAll(ctx context.Context, r *integrationRecipe, svcs map[string]*dagger.Service) {
	stopCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), stopGrace)
	defer cancel()
	order := []string{postgresHostname}
	for _, sr := range r.Services {
		order = append(order, sr.Hostname)
	}
	for i := len(order) - 1; i >= 0; i-- {
		if svc, ok := svcs[order[i]]; ok {
			_, _ = svc.Stop(stopCtx)
		}
	}
}

// setUpServices prepares every service (prepare, when not nil) and runs its set-up (migrate,
// populate, pre-start) in a container bound to the server pg, at most WithJobs services at once,
// and returns the containers after it, by service index (nil for a service that did not come
// up).
func (e *Engine) setUpServices(ctx context.Context, r *integrationRecipe, rs *runState, pg *dagger.Service, prepare prepareFunc) ([]*dagger.Container, error) {
	setups := make([]*dagger.Container, len(r.Services))
	var g errgroup.Group
	g.SetLimit(e.o.jobs)
	for i := range r.Services {
		g.Go(func() error {
			sr, logPath := &r.Services[i], rs.rep.Services[i].LogPath
			t1 := time.Now()
			err := withLog(logPath, func(log io.Writer) error {
				if prepare != nil {
					if err := prepare(ctx, sr.Name); err != nil {
						fmt.Fprintf(log, "convoy: %v\n", err)
						return err
					}
				}
				var argv []string
				if len(sr.Setup.Execs) > 0 && sr.Setup.Execs[0].Step == "migrate" {
					argv = sr.Setup.Execs[0].Argv
				}
				rs.setUpStarted(i, argv)
				ctr, err := e.container(ctx, &sr.Setup)
				if err != nil {
					return e.failure(ctx, log, nil, err)
				}
				setups[i], err = e.execs(ctx, ctr.WithServiceBinding(postgresHostname, pg), &sr.Setup, log)
				return err
			})
			if err != nil {
				step, argv := setupStep(sr, err)
				return rs.serviceFailed(ctx, i, serviceError(sr, step, argv, logPath, time.Since(t1), "", err))
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return nil, rs.firstFailure(err)
	}
	return setups, nil
}

// startServices starts the services that were set up, in start order, and adds them to svcs
// by hostname.
func (e *Engine) startServices(ctx context.Context, r *integrationRecipe, rs *runState, setups []*dagger.Container, svcs map[string]*dagger.Service) error {
	for i := range r.Services {
		sr := &r.Services[i]
		if rs.isDown(i) {
			continue
		}
		rs.setPhase(fmt.Sprintf("starting service %q", sr.Name))
		t1 := time.Now()
		svc, err := e.startService(ctx, sr, setups[i], svcs)
		if err != nil {
			logPath := rs.rep.Services[i].LogPath
			appendLog(logPath, fmt.Sprintf("$ %s\nconvoy: %v\n", python.QuoteArgv(sr.Serve), err))
			if err := rs.serviceFailed(ctx, i, serviceError(sr, "serve", sr.Serve, logPath, time.Since(t1), "", err)); err != nil {
				return err
			}
			continue
		}
		svcs[sr.Hostname] = svc
	}
	return nil
}

// startService starts sr from its set-up container ctr as a Dagger service, bound to the
// services it depends on (by hostname in svcs).
func (e *Engine) startService(ctx context.Context, sr *serviceRecipe, ctr *dagger.Container, svcs map[string]*dagger.Service) (*dagger.Service, error) {
	for _, b := range sr.Bindings {
		if b == postgresHostname {
			continue // bound for the set-up already
		}
		dep, ok := svcs[b]
		if !ok {
			return nil, fmt.Errorf("%q is bound to %q, which has not started: the recipe's services are not in start order", sr.Name, b)
		}
		ctr = ctr.WithServiceBinding(b, dep)
	}
	svc, err := ctr.WithExposedPort(sr.Port).AsService(dagger.ContainerAsServiceOpts{Args: sr.Serve}).Start(ctx)
	if err != nil {
		return nil, e.stageErrArgv(ctx, sr.Serve, fmt.Errorf("starting %q: %w", sr.Name, err))
	}
	return svc, nil
}

// runSuite sets up the suite's container, bound to the services that started, checks each
// one's health from it, and runs the suite, logging to log.
func (e *Engine) runSuite(ctx context.Context, r *integrationRecipe, rs *runState, svcs map[string]*dagger.Service, log io.Writer) error {
	ctr, err := e.container(ctx, &r.Suite.Setup)
	if err != nil {
		return e.failure(ctx, log, nil, err)
	}
	for _, b := range suiteBindings(r, rs) {
		dep, ok := svcs[b]
		if !ok {
			return fmt.Errorf("the suite is bound to %q, which has not started", b)
		}
		ctr = ctr.WithServiceBinding(b, dep)
	}
	if ctr, err = e.execs(ctx, ctr, &r.Suite.Setup, log); err != nil {
		return err
	}
	if err := e.checkHealth(ctx, r, rs, ctr, log); err != nil {
		return err
	}
	rs.setPhase("running the suite")
	rs.suiteStarted(append([]string(nil), r.Suite.Command.Argv...))
	t1 := time.Now()
	after, err := e.exec(ctx, ctr, "", r.Suite.Command, log)
	d := time.Since(t1)
	if err != nil && errors.Is(ctx.Err(), context.Canceled) {
		rs.rep.Suite.Duration = d
		return err // interrupted: integration.Run reports it by its error alone
	}
	junit := ""
	if after != nil && r.Suite.JUnit != "" {
		dst := filepath.Join(rs.rep.LogDir, "junit.xml")
		_ = os.Remove(dst) // never report a previous run's results
		if _, xerr := after.File(r.Suite.JUnit).Export(ctx, dst); xerr == nil {
			junit = dst
		}
	}
	return rs.suiteEnded(d, err, junit)
}

// checkHealth runs, in the suite's container ctr, the health check of every service that
// started, in start order.
func (e *Engine) checkHealth(ctx context.Context, r *integrationRecipe, rs *runState, ctr *dagger.Container, log io.Writer) error {
	for i, hc := range r.Suite.HealthChecks {
		if rs.isDown(i) {
			continue
		}
		var out bytes.Buffer
		t1 := time.Now()
		if _, err := e.exec(ctx, ctr, "", hc, io.MultiWriter(log, &out)); err != nil {
			se := serviceError(&r.Services[i], "health", hc.Argv, rs.rep.Suite.LogPath, time.Since(t1), lastProbe(out.String()), err)
			if err := rs.serviceFailed(ctx, i, se); err != nil {
				return err
			}
			continue
		}
		rs.healthy(i)
	}
	return nil
}

// suiteBindings are the hostnames the suite's container is bound to: r's, less the services the
// run goes on without.
func suiteBindings(r *integrationRecipe, rs *runState) []string {
	down := map[string]bool{}
	for i, sr := range r.Services {
		if rs.isDown(i) {
			down[sr.Hostname] = true
		}
	}
	var out []string
	for _, b := range r.Suite.Bindings {
		if !down[b] {
			out = append(out, b)
		}
	}
	return out
}

// postgresURL is the server's URL as the services reach it, password redacted.
func postgresURL(p postgresRecipe) string {
	return fmt.Sprintf("postgresql://%s:xxxxx@%s:%d/%s", postgresUser, p.Hostname, p.Port, postgresUser)
}

// setupStep names the set-up step err stopped at, with its argv: the exec whose command failed
// (migrate, populate or prestart), else "prepare" and none — the container could not be
// prepared (its image or gated environment) and no command of the set-up ran.
func setupStep(sr *serviceRecipe, err error) (string, []string) {
	var se *engine.StageError
	if errors.As(err, &se) && len(se.Command) > 0 {
		for _, x := range sr.Setup.Execs {
			if x.Step != "" && slices.Equal(se.Command, x.Argv) {
				return x.Step, x.Argv
			}
		}
	}
	return "prepare", nil
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
