package dagger

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"dagger.io/dagger"

	"github.com/convoy-ci/convoy/engine"
	"github.com/convoy-ci/convoy/integration"
	"github.com/convoy-ci/convoy/integration/model"
	"github.com/convoy-ci/convoy/pipeline"
	"github.com/convoy-ci/convoy/pipeline/config"
)

// recorder keeps the events it is sent.
type recorder struct{ events []model.Event }

func (r *recorder) add(e model.Event) { r.events = append(r.events, e) }

// kinds lists the events as "kind" or "kind service".
func (r *recorder) kinds() []string {
	var out []string
	for _, e := range r.events {
		s := string(e.Kind)
		if e.Service != "" {
			s += " " + e.Service
		}
		out = append(out, s)
	}
	return out
}

func (r *recorder) find(kind model.EventKind, service string) *model.Event {
	for i := range r.events {
		if r.events[i].Kind == kind && r.events[i].Service == service {
			return &r.events[i]
		}
	}
	return nil
}

// twoServices is the recipe of a run of api and web, logging to dir, with a 5-minute timeout;
// web is a shadow service when shadow is set.
func twoServices(dir string, shadow bool) *integrationRecipe {
	svc := func(name string, port int) serviceRecipe {
		return serviceRecipe{Name: name, Hostname: name, Port: port, URL: fmt.Sprintf("http://%s:%d", name, port), Database: name + "_r1",
			Setup: recipe{Execs: []execStep{{Step: "migrate", Argv: []string{"python", "manage.py", "migrate", "--noinput"}}, {Step: "populate", Argv: []string{"python", "manage.py", "populate"}}}}}
	}
	r := &integrationRecipe{RunID: "r1", Timeout: 5 * time.Minute, Services: []serviceRecipe{svc("api", 9000), svc("web", 8000)}}
	r.Services[1].Shadow = shadow
	r.Suite = suiteRecipe{Command: execStep{Argv: []string{"python", "-m", "pytest", "-q", "tests", "--junitxml=/convoy/junit.xml"}},
		Bindings: []string{"api", "web"}}
	return r
}

// writeJUnit writes JUnit XML of the test cases (each a <testcase> element) to dir/junit.xml.
func writeJUnit(t *testing.T, dir string, cases ...string) string {
	t.Helper()
	p := filepath.Join(dir, "junit.xml")
	xml := "<testsuites><testsuite name=\"pytest\">" + strings.Join(cases, "") + "</testsuite></testsuites>"
	if err := os.WriteFile(p, []byte(xml), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

const (
	loginPassed   = `<testcase classname="tests.test_flow" name="test_login" time="1"/>`
	refundSkipped = `<testcase classname="tests.test_flow" name="test_refund"><skipped message="not live yet"/></testcase>`
)

// upToSuite drives rs as runIntegration does up to the suite: the server, every service's
// set-up, then their health checks.
func upToSuite(rs *runState, r *integrationRecipe) {
	rs.postgresReady(postgresURL(postgresRecipe{Hostname: postgresHostname, Port: postgresPort}))
	for i := range r.Services {
		rs.setUpStarted(i, r.Services[i].Setup.Execs[0].Argv)
	}
	for i := range r.Services {
		rs.healthy(i)
	}
}

// TestRunStatePassed: a run driven through its steps fills the report integration.Run gives and
// sends its events in integration.Run's order, each stamped with the time.
func TestRunStatePassed(t *testing.T) {
	dir := t.TempDir()
	r := twoServices(dir, false)
	var rec recorder
	rs := newRunState(r, dir, rec.add)
	upToSuite(rs, r)
	rs.suiteStarted(r.Suite.Command.Argv)
	junit := writeJUnit(t, dir, loginPassed, refundSkipped)
	err := rs.outcome(context.Background(), rs.suiteEnded(3*time.Second, nil, junit))
	if err != nil {
		t.Fatalf("a passing run: %v", err)
	}
	rs.rep.Duration = 0
	same(t, "report", rs.rep, &model.Report{
		RunID: "r1", Postgres: "postgresql://convoy:xxxxx@postgres:5432/convoy", Throwaway: true, LogDir: dir,
		Services: []model.ServiceReport{
			{Name: "api", Database: "api_r1", URL: "http://api:9000", Port: 9000, LogPath: filepath.Join(dir, "api.log"), Healthy: true},
			{Name: "web", Database: "web_r1", URL: "http://web:8000", Port: 8000, LogPath: filepath.Join(dir, "web.log"), Healthy: true},
		},
		Suite: model.SuiteReport{Ran: true, Argv: r.Suite.Command.Argv, ExitCode: 0, Duration: 3 * time.Second,
			LogPath: filepath.Join(dir, "suite.log"), JUnitPath: junit, Passed: 1, Skipped: 1, Tests: []model.TestResult{
				{Name: "tests.test_flow::test_login", Classname: "tests.test_flow", Case: "test_login", Status: model.TestPassed, Duration: time.Second},
				{Name: "tests.test_flow::test_refund", Classname: "tests.test_flow", Case: "test_refund", Status: model.TestSkipped, Message: "not live yet"},
			}},
	})
	same(t, "events", rec.kinds(), []string{
		"postgres.ready", "service.migrate api", "service.migrate web", "service.healthy api", "service.healthy web",
		"suite.started", "suite.test", "suite.test", "suite.finished",
	})
	for _, e := range rec.events {
		if e.Time.IsZero() {
			t.Errorf("%s has no time", e.Kind)
		}
	}
	same(t, "migrate argv", rec.find(model.EventServiceMigrate, "api").Argv, r.Services[0].Setup.Execs[0].Argv)
	if e := rec.find(model.EventServiceHealthy, "web"); e.URL != "http://web:8000" || e.LogPath != filepath.Join(dir, "web.log") {
		t.Errorf("web healthy = %+v", e)
	}
	fin := rec.find(model.EventSuiteFinished, "")
	if fin.Err != nil || fin.Suite != &rs.rep.Suite || fin.Duration != 3*time.Second || fin.LogPath != rs.rep.Suite.LogPath {
		t.Errorf("suite.finished = %+v", fin)
	}
	if e := rec.events[6]; e.Test == nil || e.Test.Name != "tests.test_flow::test_login" {
		t.Errorf("first suite.test = %+v", e)
	}
	// No receiver: nothing to send, same outcome.
	quiet := newRunState(r, dir, nil)
	upToSuite(quiet, r)
	quiet.suiteStarted(r.Suite.Command.Argv)
	if err := quiet.suiteEnded(time.Second, nil, junit); err != nil {
		t.Errorf("without events: %v", err)
	}
}

func TestRunStateSuiteFailed(t *testing.T) {
	failed := `<testcase classname="tests.test_flow" name="test_order"><failure message="assert 201 == 200">more</failure></testcase>`
	errored := `<testcase classname="tests.test_flow" name="test_report"><error message="ConnectionError"/></testcase>`
	for _, tc := range []struct {
		name  string
		err   error
		cases []string // nil: no JUnit XML
		junit string   // instead of cases
		exit  int
		want  []string
	}{
		{"exit 1", &engine.StageError{Reason: engine.Failed, ExitCode: 1, Err: errors.New("exit status 1")},
			[]string{loginPassed, failed}, "", 1,
			[]string{"integration suite failed: 1 passed, 1 failed, 0 skipped, 0 errors (exit status 1)", "\n  FAILED tests.test_flow::test_order: assert 201 == 200\n"}},
		{"exit 0 with an error", nil, []string{loginPassed, errored}, "", 0,
			[]string{"1 passed, 0 failed, 0 skipped, 1 errors (exit status 0)", "ERROR tests.test_flow::test_report: ConnectionError"}},
		{"no tests", &engine.StageError{Reason: engine.Failed, ExitCode: 5}, nil, "", 5,
			[]string{"no tests were collected (exit status 5)"}},
		{"timed out", &engine.StageError{Reason: engine.TimedOut, ExitCode: -1, Err: context.DeadlineExceeded}, nil, "", -1,
			[]string{"the integration stage timed out after 5m0s (0 passed, 0 failed, 0 skipped, 0 errors so far)"}},
		{"unreadable JUnit", nil, nil, "<testsuites><testsuite>", 0, []string{"reading its JUnit XML: parsing JUnit XML"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			r := twoServices(dir, false)
			var rec recorder
			rs := newRunState(r, dir, rec.add)
			upToSuite(rs, r)
			rs.suiteStarted(r.Suite.Command.Argv)
			junit := ""
			switch {
			case tc.cases != nil:
				junit = writeJUnit(t, dir, tc.cases...)
			case tc.junit != "":
				junit = filepath.Join(dir, "junit.xml")
				if err := os.WriteFile(junit, []byte(tc.junit), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			err := rs.outcome(context.Background(), rs.suiteEnded(time.Second, tc.err, junit))
			if !errors.Is(err, model.ErrSuiteFailed) {
				t.Fatalf("error %v; want one wrapping ErrSuiteFailed", err)
			}
			for _, w := range append(tc.want, "see "+rs.rep.Suite.LogPath) {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
			if fin := rec.find(model.EventSuiteFinished, ""); fin == nil || fin.Err != err {
				t.Errorf("suite.finished = %+v; want the suite's error", fin)
			}
			if !rs.rep.Suite.Ran || rs.rep.Suite.ExitCode != tc.exit {
				t.Errorf("suite = %+v, want exit code %d", rs.rep.Suite, tc.exit)
			}
		})
	}
}

// populateFailed is web's populate failing with exit code 2, as runIntegration describes it.
func populateFailed(r *integrationRecipe, dir string) *model.ServiceError {
	sr := &r.Services[1]
	cause := &engine.StageError{Reason: engine.Failed, ExitCode: 2, Command: sr.Setup.Execs[1].Argv}
	step, argv := setupStep(sr, cause)
	return serviceError(sr, step, argv, filepath.Join(dir, "web.log"), time.Second, "", cause)
}

func TestRunStateServiceFailed(t *testing.T) {
	dir := t.TempDir()
	r := twoServices(dir, false)
	var rec recorder
	rs := newRunState(r, dir, rec.add)
	rs.postgresReady("postgresql://convoy:xxxxx@postgres:5432/convoy")
	rs.setUpStarted(0, nil)
	rs.setUpStarted(1, nil)
	se := populateFailed(r, dir)
	stop := rs.serviceFailed(context.Background(), 1, se)
	err := rs.outcome(context.Background(), rs.firstFailure(stop))
	var got *model.ServiceError
	if !errors.As(err, &got) || got != se {
		t.Fatalf("error %v; want web's *model.ServiceError", err)
	}
	same(t, "events", rec.kinds(), []string{"postgres.ready", "service.migrate api", "service.migrate web", "service.failed web"})
	if f := rec.find(model.EventServiceFailed, "web"); f.Step != "populate" || f.Err != se || f.LogPath != filepath.Join(dir, "web.log") {
		t.Errorf("service.failed = %+v", f)
	}
	if rs.rep.Suite.Ran || rs.rep.Suite.ExitCode != -1 || rs.rep.Services[1].Healthy || rs.isDown(1) {
		t.Errorf("report = %+v", rs.rep)
	}
}

// TestRunStateShadow: a shadow service that does not come up stops nothing — the run goes on
// without it (no binding to it, no health check) and passes when the suite does — unless the run
// was cancelled or timed out, as integration.Run decides. Its failure is sent as service.failed
// unless the run was cancelled; a service that is not a shadow stops the run.
func TestRunStateShadow(t *testing.T) {
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	timedOut, cancel2 := context.WithTimeout(context.Background(), 0)
	defer cancel2()
	for _, tc := range []struct {
		name      string
		shadow    bool
		ctx       context.Context
		tolerated bool
		event     bool
	}{
		{"shadow", true, context.Background(), true, true},
		{"shadow, run cancelled", true, cancelled, false, false},
		{"shadow, run timed out", true, timedOut, false, true},
		{"not a shadow", false, context.Background(), false, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			r := twoServices(dir, tc.shadow)
			var rec recorder
			rs := newRunState(r, dir, rec.add)
			se := populateFailed(r, dir)
			stop := rs.serviceFailed(tc.ctx, 1, se)
			if got := stop == nil; got != tc.tolerated {
				t.Fatalf("serviceFailed = %v; tolerated %v, want %v", stop, got, tc.tolerated)
			}
			if got := rec.find(model.EventServiceFailed, "web") != nil; got != tc.event {
				t.Errorf("service.failed sent: %v, want %v", got, tc.event)
			}
			if rs.isDown(1) != tc.tolerated || rs.isDown(0) {
				t.Errorf("down = %v", rs.down)
			}
			wantBindings := []string{"api", "web"}
			if tc.tolerated {
				wantBindings = []string{"api"}
			}
			same(t, "suite bindings", suiteBindings(r, rs), wantBindings)
			var stopErr error = se
			if tc.tolerated {
				stopErr = nil
			}
			if got := rs.firstFailure(nil); got != stopErr {
				t.Errorf("firstFailure = %v, want %v", got, stopErr)
			}
			if !tc.tolerated {
				return
			}
			rs.healthy(0)
			rs.suiteStarted(r.Suite.Command.Argv)
			if err := rs.outcome(tc.ctx, rs.suiteEnded(time.Second, nil, writeJUnit(t, dir, loginPassed))); err != nil {
				t.Errorf("the run with its shadow down: %v; want it to pass", err)
			}
			if !rs.rep.Services[0].Healthy || rs.rep.Services[1].Healthy {
				t.Errorf("services = %+v", rs.rep.Services)
			}
		})
	}
}

// TestSetUpImageMissing: a service whose image will not come (its gates failed, say) fails its
// "prepare" step before any container is made, with the reason in its log — which stops the
// run, unless the service is a shadow: then the run goes on without it.
func TestSetUpImageMissing(t *testing.T) {
	noImage := func(ctx context.Context, service string) error {
		return fmt.Errorf("waiting for the image of %q: %w", service, errors.New("its gates failed"))
	}
	t.Run("shadow", func(t *testing.T) {
		dir := t.TempDir()
		r := twoServices(dir, true)
		r.Services = r.Services[1:] // web alone: api would need an engine
		var rec recorder
		rs := newRunState(r, dir, rec.add)
		setups, err := New(nil).setUpServices(context.Background(), r, rs, nil, noImage)
		if err != nil || len(setups) != 1 || setups[0] != nil || !rs.isDown(0) {
			t.Fatalf("setUpServices = %v, %v; want no error and web down", setups, err)
		}
		f := rec.find(model.EventServiceFailed, "web")
		var se *model.ServiceError
		if f == nil || f.Step != "prepare" || !errors.As(f.Err, &se) || !strings.Contains(se.Error(), "its gates failed") {
			t.Fatalf("events %q, failure %+v", rec.kinds(), f)
		}
		if rec.find(model.EventServiceMigrate, "web") != nil {
			t.Error("web's set-up started without its image")
		}
		same(t, "log tail", se.LogTail, []string{`convoy: waiting for the image of "web": its gates failed`})
	})
	t.Run("not a shadow", func(t *testing.T) {
		dir := t.TempDir()
		r := twoServices(dir, true)
		var rec recorder
		rs := newRunState(r, dir, rec.add)
		_, err := New(nil).setUpServices(context.Background(), r, rs, nil, noImage)
		var se *model.ServiceError
		if !errors.As(err, &se) || se.Service != "api" || se.Step != "prepare" || len(se.Argv) != 0 {
			t.Fatalf("setUpServices: %v; want api's prepare failure", err)
		}
		if !strings.HasPrefix(se.Error(), `service "api": prepare failed after `) {
			t.Errorf("message %q", se.Error())
		}
		same(t, "events", len(rec.events), 2) // both failed; web's is tolerated, api's stops the run
	})
}

// TestStartServicesGoesOnWithoutShadow: a shadow service that cannot be started does not end
// the starts: the next service is still started (here it cannot be either, and stops the run).
func TestStartServicesGoesOnWithoutShadow(t *testing.T) {
	dir := t.TempDir()
	r := twoServices(dir, true)
	r.Services[0], r.Services[1] = r.Services[1], r.Services[0] // web, the shadow, first
	for i := range r.Services {
		r.Services[i].Bindings = []string{postgresHostname, "ghost"} // never started: fails before any engine call
	}
	var rec recorder
	rs := newRunState(r, dir, rec.add)
	err := New(nil).startServices(context.Background(), r, rs, make([]*dagger.Container, 2), map[string]*dagger.Service{})
	var se *model.ServiceError
	if !errors.As(err, &se) || se.Service != "api" || se.Step != "serve" {
		t.Fatalf("startServices: %v; want api's serve failure after web's was tolerated", err)
	}
	same(t, "events", rec.kinds(), []string{"service.failed web", "service.failed api"})
	if !rs.isDown(0) || rs.isDown(1) {
		t.Errorf("down = %v; want web only", rs.down)
	}
	if !strings.Contains(strings.Join(se.LogTail, "\n"), `which has not started`) {
		t.Errorf("api's log tail %q lacks why", se.LogTail)
	}
}

func TestRunStateInterrupted(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	stopped := &engine.StageError{Reason: engine.Interrupted, ExitCode: -1, Err: context.Canceled}
	rs := newRunState(twoServices(t.TempDir(), false), t.TempDir(), nil)
	if err := rs.outcome(ctx, stopped); !errors.Is(err, model.ErrInterrupted) || !errors.Is(err, context.Canceled) ||
		!strings.Contains(err.Error(), "while starting Postgres") {
		t.Errorf("interrupted at once: %v", err)
	}
	rs.setPhase("running the suite")
	err := rs.outcome(ctx, stopped)
	if !errors.Is(err, model.ErrInterrupted) || errors.Is(err, model.ErrSuiteFailed) || !strings.Contains(err.Error(), "while running the suite") {
		t.Errorf("interrupted suite: %v; want an interruption saying what was interrupted", err)
	}
	if err := rs.outcome(ctx, nil); err != nil {
		t.Errorf("a run that passed before the cancellation: %v", err)
	}
	if err := rs.outcome(context.Background(), stopped); err != stopped {
		t.Errorf("a failure without cancellation = %v, want it as it is", err)
	}
}

// integratorFunc is an engine.Integrator made of a function.
type integratorFunc func(context.Context, engine.IntegrationRequest) (*model.Report, error)

func (f integratorFunc) Integrate(ctx context.Context, req engine.IntegrationRequest) (*model.Report, error) {
	return f(ctx, req)
}

// TestIntegrationEventsRender feeds runs driven through runState into pipeline.Integrate, which
// every renderer reads: each service's start is its "integration" stage, the suite is a stage,
// its tests are test events — as with the local engine; a shadow service's failure fails its
// stage only.
func TestIntegrationEventsRender(t *testing.T) {
	run := func(cfg *config.Config, drive func(rs *runState, r *integrationRecipe) error) ([]pipeline.Event, *pipeline.IntegrationSummary) {
		var events []pipeline.Event
		bus := pipeline.NewBus(pipeline.SinkFunc(func(e pipeline.Event) { events = append(events, e) }))
		in := integratorFunc(func(ctx context.Context, req engine.IntegrationRequest) (*model.Report, error) {
			dir := t.TempDir()
			r := twoServices(dir, cfg != nil && cfg.Service("web").Shadow)
			rs := newRunState(r, dir, req.Events)
			return rs.rep, rs.outcome(ctx, drive(rs, r))
		})
		sum, _ := pipeline.Integrate(context.Background(), in, engine.IntegrationRequest{Config: cfg}, bus)
		return events, sum
	}
	describe := func(events []pipeline.Event) []string {
		var out []string
		for _, e := range events {
			s := fmt.Sprintf("%s %s/%s", e.Type, e.Service, e.Stage)
			if e.Status != "" {
				s += " " + string(e.Status)
			}
			if e.Shadow {
				s += " (shadow)"
			}
			out = append(out, s)
		}
		return out
	}
	passSuite := func(rs *runState, r *integrationRecipe) error {
		rs.suiteStarted(r.Suite.Command.Argv)
		return rs.suiteEnded(time.Second, nil, writeJUnit(t, rs.rep.LogDir, loginPassed, refundSkipped))
	}

	t.Run("passed", func(t *testing.T) {
		events, sum := run(nil, func(rs *runState, r *integrationRecipe) error {
			upToSuite(rs, r)
			return passSuite(rs, r)
		})
		same(t, "events", describe(events), []string{
			"notice integration/",
			"stage.start api/integration running", "stage.start web/integration running",
			"stage.finish api/integration passed", "stage.finish web/integration passed",
			"stage.start integration/suite running",
			"test integration/tests.test_flow::test_login passed", "test integration/tests.test_flow::test_refund skipped",
			"stage.finish integration/suite passed",
		})
		if sum.Status != pipeline.StatusPassed || sum.Passed != 1 || sum.Skipped != 1 {
			t.Errorf("summary = %+v", sum)
		}
	})

	failWeb := func(rs *runState, r *integrationRecipe) error {
		rs.postgresReady("postgresql://convoy:xxxxx@postgres:5432/convoy")
		rs.setUpStarted(0, nil)
		rs.setUpStarted(1, nil)
		if err := rs.serviceFailed(context.Background(), 1, populateFailed(r, rs.rep.LogDir)); err != nil {
			return err
		}
		rs.healthy(0)
		return passSuite(rs, r)
	}
	webFinish := func(events []pipeline.Event) *pipeline.Event {
		for i := range events {
			if events[i].Type == pipeline.EventStageFinish && events[i].Service == "web" {
				return &events[i]
			}
		}
		return nil
	}

	t.Run("service failed", func(t *testing.T) {
		events, sum := run(nil, failWeb)
		f := webFinish(events)
		if f == nil || f.Status != pipeline.StatusFailed || !strings.HasPrefix(f.Message, `service "web": populate (python manage.py populate) failed after 1s`) ||
			f.ExitCode == nil || *f.ExitCode != 2 {
			t.Errorf("web's stage finish = %+v", f)
		}
		if sum.Status != pipeline.StatusFailed {
			t.Errorf("summary status %s", sum.Status)
		}
	})

	t.Run("shadow failed", func(t *testing.T) {
		cfg := load(t, "services.yaml")
		cfg.Service("web").Shadow = true
		events, sum := run(cfg, failWeb)
		if f := webFinish(events); f == nil || f.Status != pipeline.StatusFailed || !f.Shadow {
			t.Errorf("web's stage finish = %+v; want a failed shadow stage", f)
		}
		if sum.Status != pipeline.StatusPassed || sum.Passed != 1 {
			t.Errorf("summary = %+v; want the run passed without its shadow", sum)
		}
	})
}

func TestIntegrateRejectsExistingPostgres(t *testing.T) {
	cfg := load(t, "services.yaml")
	req := engine.IntegrationRequest{Config: cfg, Services: cfg.Services, LogDir: t.TempDir(),
		Postgres: "postgres://convoy:hunter2@db.example:5432/postgres"}
	for _, tc := range []struct {
		e     *Engine
		image string
	}{
		{New(nil), "postgres:16"},
		{New(nil, WithIntegration(IntegrationOptions{Postgres: "docker-archive:images/pg.tar"})), "docker-archive:images/pg.tar"},
	} {
		rep, err := tc.e.Integrate(context.Background(), req)
		if rep == nil {
			t.Fatal("no report")
		}
		if !errors.Is(err, model.ErrInvalidSpec) {
			t.Fatalf("error %v; want one wrapping ErrInvalidSpec", err)
		}
		for _, w := range []string{"always runs its own Postgres server", tc.image, "db.example:5432", "--engine local"} {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("error %q lacks %q", err, w)
			}
		}
		if strings.Contains(err.Error(), "hunter2") {
			t.Errorf("error %q shows the password", err)
		}
	}
}

func TestIntegrateInvalidSpec(t *testing.T) {
	cfg := load(t, "services.yaml")
	for _, tc := range []struct {
		name string
		req  engine.IntegrationRequest
		want string
	}{
		{"no config", engine.IntegrationRequest{}, "no configuration"},
		{"no services", engine.IntegrationRequest{Config: cfg}, "no services"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rep, err := New(nil).Integrate(context.Background(), tc.req)
			if rep == nil || !errors.Is(err, model.ErrInvalidSpec) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Integrate = %v, %v; want a report and an invalid spec error containing %q", rep, err, tc.want)
			}
		})
	}
}

func TestServiceError(t *testing.T) {
	dir := t.TempDir()
	log := filepath.Join(dir, "web.log")
	var lines []string
	for i := 1; i <= 30; i++ {
		lines = append(lines, fmt.Sprintf("line %d", i))
	}
	if err := os.WriteFile(log, []byte(strings.Join(lines, "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	sr := &serviceRecipe{Name: "web", URL: "http://web:8000", Health: "/healthz",
		Setup: recipe{Execs: []execStep{{Step: "migrate", Argv: integration.DefaultMigrate},
			{Step: "populate", Argv: []string{"python", "manage.py", "populate", "--scenario", "demo"}},
			{Step: "prestart", Argv: []string{"python", "manage.py", "collectstatic"}}}}}

	populate := &engine.StageError{Reason: engine.Failed, ExitCode: 2, Command: sr.Setup.Execs[1].Argv}
	step, argv := setupStep(sr, populate)
	if step != "populate" || !slices.Equal(argv, sr.Setup.Execs[1].Argv) {
		t.Errorf("setupStep(populate failed) = %s %q", step, argv)
	}
	for _, tc := range []struct {
		err  error
		step string
		argv []string
	}{
		{&engine.StageError{Reason: engine.TimedOut, ExitCode: -1, Command: integration.DefaultMigrate}, "migrate", integration.DefaultMigrate},
		{&engine.StageError{Reason: engine.Failed, ExitCode: 1, Command: sr.Setup.Execs[2].Argv}, "prestart", sr.Setup.Execs[2].Argv},
		{&engine.StageError{Reason: engine.Failed, ExitCode: -1, Err: errors.New("pulling the image")}, "prepare", nil},
		{&engine.StageError{Reason: engine.Failed, ExitCode: 1, Command: []string{"uv", "pip", "install"}}, "prepare", nil}, // rebuilding the gated container
		{errors.New("preparing the container"), "prepare", nil},
	} {
		if step, argv := setupStep(sr, tc.err); step != tc.step || !slices.Equal(argv, tc.argv) {
			t.Errorf("setupStep(%v) = %s %q, want %s %q", tc.err, step, argv, tc.step, tc.argv)
		}
	}

	se := serviceError(sr, "populate", argv, log, 2*time.Second, "", populate)
	if se.Service != "web" || se.ExitCode != 2 || se.TimedOut || se.URL != "" || se.LogPath != log || se.Err != populate {
		t.Errorf("populate error = %+v", se)
	}
	same(t, "tail", se.LogTail, lines[10:])
	if !strings.Contains(se.Error(), `service "web": populate (python manage.py populate --scenario demo) failed after 2s`) {
		t.Errorf("message %q", se.Error())
	}

	timeout := &engine.StageError{Reason: engine.TimedOut, ExitCode: -1}
	if se := serviceError(sr, "migrate", integration.DefaultMigrate, log, time.Second, "", timeout); !se.TimedOut || se.ExitCode != -1 {
		t.Errorf("timed-out migrate = %+v", se)
	}
	probe := lastProbe("$ python -c ...\nhttp://web:8000/healthz is not healthy: HTTP 503\nconvoy: \"python\" exited with code 1\n")
	health := serviceError(sr, "health", []string{"python", "-c", "..."}, log, time.Minute, probe,
		&engine.StageError{Reason: engine.Failed, ExitCode: 1})
	if !health.TimedOut || health.URL != "http://web:8000/healthz" || health.LastProbe != "http://web:8000/healthz is not healthy: HTTP 503" {
		t.Errorf("health error = %+v", health)
	}
	if !strings.Contains(health.Error(), `service "web" never became healthy: waited 1m0s for GET http://web:8000/healthz`) {
		t.Errorf("message %q", health.Error())
	}
	if got := lastProbe(""); got != "no answer" {
		t.Errorf("lastProbe of nothing = %q", got)
	}
	if got := model.LogTail(filepath.Join(dir, "none.log"), 5); got != nil {
		t.Errorf("tail of a missing log = %q", got)
	}
}
