package dagger

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/tarball"

	"github.com/convoy-ci/convoy/engine"
	"github.com/convoy-ci/convoy/integration/model"
	"github.com/convoy-ci/convoy/pipeline/config"
)

var _ engine.Integrator = (*Engine)(nil)

// Integrate runs the integration stage on the engine (engine.Integrator): req's services are
// translated (translator.integrationRun, with the WithIntegration options) and run
// (runIntegration) with req.LogDir as the log directory, and the outcome is converted
// (convertIntegration) into the report and error integration.Run gives on the local engine.
// req.Events receives the same kinds of events as they happen: postgres.ready, service.migrate
// when a service's set-up starts, service.healthy or service.failed, suite.started, then one
// suite.test per test and suite.finished.
//
// The engine always runs its own Postgres server as a Dagger service: a request naming an
// existing server (req.Postgres: --postgres or integration.postgres) fails, wrapping
// model.ErrInvalidSpec, before anything starts.
func (e *Engine) Integrate(ctx context.Context, req engine.IntegrationRequest) (*model.Report, error) {
	rep := &model.Report{LogDir: req.LogDir, Throwaway: true, Suite: model.SuiteReport{ExitCode: -1}}
	if req.Config == nil {
		return rep, fmt.Errorf("%w: no configuration", model.ErrInvalidSpec)
	}
	if req.Postgres != "" {
		return rep, fmt.Errorf("%w: the dagger engine always runs its own Postgres server (a Dagger service from %s) and cannot use the existing server %s given by --postgres or integration.postgres: leave both unset with --engine dagger, or use --engine local",
			model.ErrInvalidSpec, e.postgresImage(req.Config), model.Redact(req.Postgres))
	}
	tr, err := e.hostTranslator(ctx)
	if err != nil {
		return rep, err
	}
	o := e.o.integration
	if o.RunID == "" {
		o.RunID = req.RunID
	}
	if _, err := tr.integrationRun(req.Config, req.Services, o); err != nil {
		return rep, fmt.Errorf("%w: %w", model.ErrInvalidSpec, err)
	}
	if o.images, err = e.serviceImages(ctx, req); err != nil {
		return rep, err
	}
	r, err := tr.integrationRun(req.Config, req.Services, o)
	if err != nil {
		return rep, fmt.Errorf("%w: %w", model.ErrInvalidSpec, err)
	}
	rep.RunID = r.RunID
	ev := newIntegrationEvents(req.Events)
	drep, err := e.runIntegration(ctx, &r, req.LogDir, ev)
	return convertIntegration(ctx, drep, err, ev)
}

// serviceImages are the images req's services start from, by name, as docker-archive:FILE:TAG
// references to single-image tarballs of what the WithImages builder built (req.Image waits for
// each): what ships is what integration tests. None when req starts services from their gated
// containers (engine.FromVenv, or no req.Image with no From).
func (e *Engine) serviceImages(ctx context.Context, req engine.IntegrationRequest) (map[string]string, error) {
	switch {
	case req.From == engine.FromVenv || (req.From == "" && req.Image == nil):
		return nil, nil
	case req.Image == nil || e.o.images == nil:
		return nil, fmt.Errorf("%w: integration starts the services from their images, and this run has none (the dagger engine was created without WithImages, or the request has no Image)", model.ErrInvalidSpec)
	}
	e.mu.Lock()
	dir, err := e.scratchLocked("images-")
	e.mu.Unlock()
	if err != nil {
		return nil, err
	}
	out := map[string]string{}
	for _, svc := range req.Services {
		ref, err := req.Image(ctx, svc.Name)
		if err != nil {
			return nil, fmt.Errorf("waiting for the image of %q: %w", svc.Name, err)
		}
		img, err := e.o.images.Image(ctx, ref)
		if err != nil {
			return nil, fmt.Errorf("reading the image of %q: %w", svc.Name, err)
		}
		tag, err := name.NewTag("convoy.invalid/" + svc.Name + ":integration")
		if err != nil {
			return nil, fmt.Errorf("naming the image of %q: %w", svc.Name, err)
		}
		file := filepath.Join(dir, svc.Name+".tar")
		if err := tarball.WriteToFile(file, tag, img); err != nil {
			return nil, fmt.Errorf("exporting the image of %q (%s): %w", svc.Name, ref, err)
		}
		out[svc.Name] = "docker-archive:" + file + ":" + tag.String()
	}
	return out, nil
}

// postgresImage is the Postgres server's image reference Integrate uses for cfg.
func (e *Engine) postgresImage(cfg *config.Config) string {
	for _, ref := range []string{e.o.integration.Postgres, cfg.Integration.PostgresImage} {
		if ref != "" {
			return ref
		}
	}
	return defaultPostgresImage
}

// convertIntegration turns rep and runErr — what runIntegration returned for a run under ctx —
// into the report and error integration.Run would return, and sends through ev (those not sent
// while the run went on), in integration.Run's order, the events of the run that package pipeline renders:
// postgres.ready; service.migrate for every service whose set-up started, then service.healthy
// or service.failed; suite.started, one suite.test per test and suite.finished when the suite
// ran. The error is nil only when every service came up and the suite passed — exited 0 with
// no failed or errored test —; it wraps model.ErrInterrupted (and context.Cause(ctx))
// when ctx was cancelled, model.ErrSuiteFailed when the suite ran and did not pass, and
// is runErr otherwise (a *model.ServiceError when a service did not come up).
func convertIntegration(ctx context.Context, rep *integrationReport, runErr error, ev *integrationEvents) (*model.Report, error) {
	out := &model.Report{RunID: rep.RunID, Postgres: rep.Postgres, Throwaway: true, LogDir: rep.LogDir, Duration: rep.Duration}
	for _, s := range rep.Services {
		out.Services = append(out.Services, model.ServiceReport{Name: s.Name, Database: s.Database, URL: s.URL,
			Port: s.Port, LogPath: s.Log, Healthy: s.Healthy})
	}
	su := model.SuiteReport{Ran: rep.SuiteRan, Argv: rep.SuiteArgv, ExitCode: rep.SuiteExitCode,
		Duration: rep.SuiteDuration, LogPath: rep.SuiteLog, JUnitPath: rep.JUnit, Tests: rep.Tests}
	if !su.Ran {
		su.ExitCode = -1
	}
	su.Tally()
	out.Suite = su
	interrupted := runErr != nil && ctx.Err() != nil
	var err, suiteErr error
	switch {
	case interrupted:
		err = fmt.Errorf("%w while %s: %w", model.ErrInterrupted, phase(rep), context.Cause(ctx))
	case su.Ran:
		suiteErr = suiteVerdict(rep, &out.Suite, runErr)
		err = suiteErr
		if err == nil {
			err = runErr
		}
	default:
		err = runErr
	}
	ev.finish(rep, &out.Suite, suiteErr, interrupted)
	return out, err
}

// phase says what the run was doing when it stopped, for an interruption's message.
func phase(rep *integrationReport) string {
	switch {
	case rep.SuiteRan:
		return "running the suite"
	case rep.Postgres == "":
		return "starting Postgres"
	}
	for i, s := range rep.Services {
		if !s.Started {
			if i == 0 {
				return "setting up the services"
			}
			return fmt.Sprintf("starting service %q", s.Name)
		}
	}
	return "setting up the suite and checking the services' health"
}

// suiteVerdict says why the suite (which ran) did not pass, nil if it did: as integration.Run
// judges it, from its exit code and its tests (model.SuiteVerdict).
func suiteVerdict(rep *integrationReport, su *model.SuiteReport, runErr error) error {
	timedOut := ""
	if se := (*engine.StageError)(nil); errors.As(runErr, &se) && se.Reason == engine.TimedOut {
		timedOut = fmt.Sprintf("the integration stage timed out after %s", rep.Timeout)
	}
	return model.SuiteVerdict(su, timedOut, rep.JUnitErr)
}

// integrationEvents sends one run's integration.Events: each at most once, one at a time
// (set-ups run concurrently; the receiver need not be safe for concurrent use), stamped with
// the time. A nil *integrationEvents, or one without a receiver, sends nothing.
type integrationEvents struct {
	mu   sync.Mutex
	send func(model.Event)
	sent map[string]bool
}

func newIntegrationEvents(send func(model.Event)) *integrationEvents {
	return &integrationEvents{send: send, sent: map[string]bool{}}
}

// emit sends e unless an event with the same key was sent ("" keys are never deduplicated).
func (ev *integrationEvents) emit(key string, e model.Event) {
	if ev == nil || ev.send == nil {
		return
	}
	ev.mu.Lock()
	defer ev.mu.Unlock()
	if key != "" {
		if ev.sent[key] {
			return
		}
		ev.sent[key] = true
	}
	e.Time = time.Now()
	ev.send(e)
}

func (ev *integrationEvents) postgresReady(rep *integrationReport) {
	ev.emit("postgres", model.Event{Kind: model.EventPostgresReady, URL: rep.Postgres})
}

// serviceSetUp says s's set-up started: its migration first (Argv is sr's, when known).
func (ev *integrationEvents) serviceSetUp(s *serviceOutcome, sr *serviceRecipe) {
	e := model.Event{Kind: model.EventServiceMigrate, Service: s.Name, LogPath: s.Log}
	if sr != nil && len(sr.Setup.Execs) > 0 {
		e.Argv = sr.Setup.Execs[0].Argv
	}
	ev.emit("migrate/"+s.Name, e)
}

// serviceHealthy and serviceFailed end a service's start: only the first of them is sent.
func (ev *integrationEvents) serviceHealthy(s *serviceOutcome) {
	ev.emit("up/"+s.Name, model.Event{Kind: model.EventServiceHealthy, Service: s.Name, URL: s.URL, LogPath: s.Log})
}

func (ev *integrationEvents) serviceFailed(s *serviceOutcome) {
	e := model.Event{Kind: model.EventServiceFailed, Service: s.Name, LogPath: s.Log, Err: s.Err}
	var se *model.ServiceError
	if errors.As(s.Err, &se) {
		e.Step = se.Step
	}
	ev.emit("up/"+s.Name, e)
}

func (ev *integrationEvents) suiteStarted(rep *integrationReport) {
	ev.emit("suite.started", model.Event{Kind: model.EventSuiteStarted, Argv: rep.SuiteArgv, LogPath: rep.SuiteLog})
}

// finish sends, at the end of the run, what rep says happened and was not sent yet, then the
// suite's test results and its end — unless the run was interrupted, which integration.Run
// reports by its error alone.
func (ev *integrationEvents) finish(rep *integrationReport, su *model.SuiteReport, suiteErr error, interrupted bool) {
	if rep.Postgres != "" {
		ev.postgresReady(rep)
	}
	for i := range rep.Services {
		s := &rep.Services[i]
		if !s.SetUp {
			continue
		}
		ev.serviceSetUp(s, nil)
		switch {
		case s.Healthy:
			ev.serviceHealthy(s)
		case s.Err != nil && !interrupted:
			ev.serviceFailed(s)
		}
	}
	if !su.Ran {
		return
	}
	ev.suiteStarted(rep)
	if interrupted {
		return
	}
	for i := range su.Tests {
		ev.emit("", model.Event{Kind: model.EventTestResult, Test: &su.Tests[i]})
	}
	ev.emit("suite.finished", model.Event{Kind: model.EventSuiteFinished, Argv: su.Argv, LogPath: su.LogPath,
		Duration: su.Duration, Suite: su, Err: suiteErr})
}
