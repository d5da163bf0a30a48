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
// (runIntegration) with req.LogDir as the log directory, each service once its image is built
// (req.Image). The run fills the report and sends
// req.Events as it goes, the values integration.Run fills on the local engine: postgres.ready,
// service.migrate when a service's set-up starts, service.healthy or service.failed,
// suite.started, then one suite.test per test and suite.finished. The error is nil only when
// every service came up (a shadow service need not) and the suite passed; it wraps
// model.ErrInterrupted (and context.Cause(ctx)) when ctx was cancelled, model.ErrSuiteFailed
// when the suite ran and did not pass, and is the *model.ServiceError of the first service
// that did not come up.
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
	var prepare prepareFunc
	if o.images, prepare, err = e.serviceImages(req); err != nil {
		return rep, err
	}
	r, err := tr.integrationRun(req.Config, req.Services, o)
	if err != nil {
		return rep, fmt.Errorf("%w: %w", model.ErrInvalidSpec, err)
	}
	rs := newRunState(&r, req.LogDir, req.Events)
	return rs.rep, rs.outcome(ctx, e.runIntegration(ctx, &r, rs, prepare))
}

// prepareFunc readies what service's set-up starts from before the set-up runs: its image,
// waiting until the run has built it. An error is the service's "prepare" step failing.
type prepareFunc func(ctx context.Context, service string) error

// serviceImages are the images req's services start from, by name, as docker-archive:FILE:TAG
// references to single-image tarballs of what the WithImages builder builds — what ships is what
// integration tests —, and the prepareFunc that writes a service's tarball once req.Image has
// its image (each service waits for its own, as integration.Run's launchers do). None, and no
// prepareFunc, when req starts services from their gated containers (engine.FromVenv, or no
// req.Image with no From).
func (e *Engine) serviceImages(req engine.IntegrationRequest) (map[string]string, prepareFunc, error) {
	switch {
	case req.From == engine.FromVenv || (req.From == "" && req.Image == nil):
		return nil, nil, nil
	case req.Image == nil || e.o.images == nil:
		return nil, nil, fmt.Errorf("%w: integration starts the services from their images, and this run has none (the dagger engine was created without WithImages, or the request has no Image)", model.ErrInvalidSpec)
	}
	e.mu.Lock()
	dir, err := e.scratchLocked("images-")
	e.mu.Unlock()
	if err != nil {
		return nil, nil, err
	}
	refs, tags := map[string]string{}, map[string]name.Tag{}
	for _, svc := range req.Services {
		tag, err := name.NewTag("convoy.invalid/" + svc.Name + ":integration")
		if err != nil {
			return nil, nil, fmt.Errorf("%w: naming the image of %q: %w", model.ErrInvalidSpec, svc.Name, err)
		}
		tags[svc.Name] = tag
		refs[svc.Name] = "docker-archive:" + imageTarball(dir, svc.Name) + ":" + tag.String()
	}
	prepare := func(ctx context.Context, service string) error {
		ref, err := req.Image(ctx, service)
		if err != nil {
			return fmt.Errorf("waiting for the image of %q: %w", service, err)
		}
		img, err := e.o.images.Image(ctx, ref)
		if err != nil {
			return fmt.Errorf("reading the image of %q (%s): %w", service, ref, err)
		}
		if err := tarball.WriteToFile(imageTarball(dir, service), tags[service], img); err != nil {
			return fmt.Errorf("exporting the image of %q (%s): %w", service, ref, err)
		}
		return nil
	}
	return refs, prepare, nil
}

// imageTarball is the tarball in dir of the image service starts from.
func imageTarball(dir, service string) string { return filepath.Join(dir, service+".tar") }

// postgresImage is the Postgres server's image reference Integrate uses for cfg.
func (e *Engine) postgresImage(cfg *config.Config) string {
	for _, ref := range []string{e.o.integration.Postgres, cfg.Integration.PostgresImage} {
		if ref != "" {
			return ref
		}
	}
	return defaultPostgresImage
}

// runState is one integration run on the engine as it goes: the report it fills, what it is
// doing (for an interruption's message), which services failed, and the receiver of its events.
// Its methods are the run's steps as package integration reports them; runIntegration calls
// them, set-ups from several goroutines.
type runState struct {
	rep  *model.Report
	send func(model.Event)
	// timeout is the whole stage's (the recipe's; 0 for none), for the suite's verdict.
	timeout time.Duration
	// shadow says, by service index, which services are shadows: their failure stops nothing.
	shadow []bool

	mu     sync.Mutex // guards what follows, and sends one event at a time
	phase  string
	failed []error // by service index: why it did not come up
	down   []bool  // by service index: it did not come up and the run goes on without it
}

// newRunState is the state of r before anything ran, with its logs in logDir and its events
// sent to send (nil: none).
func newRunState(r *integrationRecipe, logDir string, send func(model.Event)) *runState {
	rs := &runState{send: send, timeout: r.Timeout, phase: "starting Postgres",
		failed: make([]error, len(r.Services)), down: make([]bool, len(r.Services)),
		rep: &model.Report{RunID: r.RunID, Throwaway: true, LogDir: logDir,
			Suite: model.SuiteReport{ExitCode: -1, LogPath: filepath.Join(logDir, "suite.log")}}}
	for _, sr := range r.Services {
		rs.rep.Services = append(rs.rep.Services, model.ServiceReport{Name: sr.Name, Database: sr.Database,
			URL: sr.URL, Port: sr.Port, LogPath: filepath.Join(logDir, sr.Name+".log")})
		rs.shadow = append(rs.shadow, sr.Shadow)
	}
	return rs
}

// emit sends e, stamped with the time.
func (rs *runState) emit(e model.Event) {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	if rs.send != nil {
		e.Time = time.Now()
		rs.send(e)
	}
}

// setPhase says what the run is doing from now on.
func (rs *runState) setPhase(p string) {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	rs.phase = p
}

// postgresReady says the server at url (password redacted) started.
func (rs *runState) postgresReady(url string) {
	rs.rep.Postgres = url
	rs.emit(model.Event{Kind: model.EventPostgresReady, URL: url})
}

// setUpStarted says service i's set-up started: its migration first (argv).
func (rs *runState) setUpStarted(i int, argv []string) {
	s := &rs.rep.Services[i]
	rs.emit(model.Event{Kind: model.EventServiceMigrate, Service: s.Name, LogPath: s.LogPath, Argv: argv})
}

// healthy says service i answered its health check.
func (rs *runState) healthy(i int) {
	s := &rs.rep.Services[i]
	s.Healthy = true
	rs.emit(model.Event{Kind: model.EventServiceHealthy, Service: s.Name, URL: s.URL, LogPath: s.LogPath})
}

// serviceFailed records that service i did not come up (se), and sends service.failed unless
// ctx was cancelled (the service did not fail by itself). It returns what the run stops with:
// nil when the failure is tolerated — a shadow service's, in a run that was not cancelled or
// timed out (integration.Run's rule) — and the run goes on without the service; se otherwise.
func (rs *runState) serviceFailed(ctx context.Context, i int, se *model.ServiceError) error {
	tolerated := rs.shadow[i] && ctx.Err() == nil
	rs.mu.Lock()
	rs.failed[i], rs.down[i] = se, tolerated
	rs.mu.Unlock()
	if !errors.Is(ctx.Err(), context.Canceled) {
		s := &rs.rep.Services[i]
		rs.emit(model.Event{Kind: model.EventServiceFailed, Service: s.Name, Step: se.Step, LogPath: se.LogPath, Err: se})
	}
	if tolerated {
		return nil
	}
	return se
}

// isDown reports whether service i did not come up and the run goes on without it.
func (rs *runState) isDown(i int) bool {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	return rs.down[i]
}

// firstFailure is the error of the first service, in start order, whose failure stops the run;
// else err.
func (rs *runState) firstFailure(err error) error {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	for i, f := range rs.failed {
		if f != nil && !rs.down[i] {
			return f
		}
	}
	return err
}

// suiteStarted says the suite's command (argv) started.
func (rs *runState) suiteStarted(argv []string) {
	su := &rs.rep.Suite
	su.Ran, su.Argv = true, argv
	rs.emit(model.Event{Kind: model.EventSuiteStarted, Argv: argv, LogPath: su.LogPath})
}

// suiteEnded fills the report's suite from how its command ended after d — err is the exec's
// error, a *engine.StageError with its exit code — and from the JUnit XML at junit ("" when
// the suite left none), judges it as integration.Run does (model.SuiteVerdict), and sends one
// suite.test per test, then suite.finished. It returns the suite's error.
func (rs *runState) suiteEnded(d time.Duration, err error, junit string) error {
	su := &rs.rep.Suite
	su.Duration = d
	var se *engine.StageError
	timedOut := ""
	switch {
	case err == nil:
		su.ExitCode = 0
	case errors.As(err, &se) && se.ExitCode >= 0:
		su.ExitCode = se.ExitCode
	case errors.As(err, &se) && se.Reason == engine.TimedOut:
		timedOut = fmt.Sprintf("the integration stage timed out after %s", rs.timeout)
	}
	var junitErr error
	if junit != "" {
		su.JUnitPath = junit
		su.Tests, junitErr = model.ParseJUnitFile(junit)
	}
	su.Tally()
	for i := range su.Tests {
		rs.emit(model.Event{Kind: model.EventTestResult, Test: &su.Tests[i]})
	}
	verdict := model.SuiteVerdict(su, timedOut, junitErr)
	rs.emit(model.Event{Kind: model.EventSuiteFinished, Argv: su.Argv, LogPath: su.LogPath, Duration: d, Suite: su, Err: verdict})
	return verdict
}

// outcome is the error of the run that ended with err under ctx: err, or when ctx was
// cancelled, an interruption saying what the run was doing (model.ErrInterrupted, and
// context.Cause(ctx)).
func (rs *runState) outcome(ctx context.Context, err error) error {
	if err == nil || ctx.Err() == nil {
		return err
	}
	rs.mu.Lock()
	defer rs.mu.Unlock()
	return fmt.Errorf("%w while %s: %w", model.ErrInterrupted, rs.phase, context.Cause(ctx))
}
