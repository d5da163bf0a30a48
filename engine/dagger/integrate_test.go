package dagger

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/convoy-ci/convoy/engine"
	"github.com/convoy-ci/convoy/integration"
	"github.com/convoy-ci/convoy/integration/model"
	"github.com/convoy-ci/convoy/pipeline"
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

// passedRun is a hand-made report of a run where api and web came up and the suite passed.
func passedRun(dir string) *integrationReport {
	svc := func(name string, port int) serviceOutcome {
		return serviceOutcome{Name: name, URL: fmt.Sprintf("http://%s:%d", name, port), Port: port, Database: name + "_r1",
			Log: filepath.Join(dir, name+".log"), SetUp: true, Started: true, Healthy: true}
	}
	return &integrationReport{
		RunID: "r1", Postgres: "postgres://convoy:xxxxx@postgres:5432/convoy", LogDir: dir, Timeout: 5 * time.Minute,
		Services:  []serviceOutcome{svc("api", 9000), svc("web", 8000)},
		SuiteArgv: []string{"python", "-m", "pytest", "-q", "tests", "--junitxml=/convoy/junit.xml"},
		SuiteRan:  true, SuiteExitCode: 0, SuiteDuration: 3 * time.Second,
		SuiteLog: filepath.Join(dir, "suite.log"), JUnit: filepath.Join(dir, "junit.xml"),
		Tests: []model.TestResult{
			{Name: "tests.test_flow::test_login", Status: model.TestPassed, Duration: time.Second},
			{Name: "tests.test_flow::test_refund", Status: model.TestSkipped, Message: "not live yet"},
		},
		Duration: 10 * time.Second,
	}
}

func TestConvertIntegrationPassed(t *testing.T) {
	dir := t.TempDir()
	rep := passedRun(dir)
	var rec recorder
	out, err := convertIntegration(context.Background(), rep, nil, newIntegrationEvents(rec.add))
	if err != nil {
		t.Fatalf("ConvertIntegration: %v", err)
	}
	same(t, "report", out, &model.Report{
		RunID: "r1", Postgres: "postgres://convoy:xxxxx@postgres:5432/convoy", Throwaway: true, LogDir: dir, Duration: 10 * time.Second,
		Services: []model.ServiceReport{
			{Name: "api", Database: "api_r1", URL: "http://api:9000", Port: 9000, LogPath: filepath.Join(dir, "api.log"), Healthy: true},
			{Name: "web", Database: "web_r1", URL: "http://web:8000", Port: 8000, LogPath: filepath.Join(dir, "web.log"), Healthy: true},
		},
		Suite: model.SuiteReport{Ran: true, Argv: rep.SuiteArgv, ExitCode: 0, Duration: 3 * time.Second,
			LogPath: filepath.Join(dir, "suite.log"), JUnitPath: filepath.Join(dir, "junit.xml"), Passed: 1, Skipped: 1, Tests: rep.Tests},
	})
	same(t, "events", rec.kinds(), []string{
		"postgres.ready",
		"service.migrate api", "service.healthy api",
		"service.migrate web", "service.healthy web",
		"suite.started", "suite.test", "suite.test", "suite.finished",
	})
	for _, e := range rec.events {
		if e.Time.IsZero() {
			t.Errorf("%s has no time", e.Kind)
		}
	}
	if e := rec.find(model.EventServiceHealthy, "web"); e.URL != "http://web:8000" || e.LogPath != filepath.Join(dir, "web.log") {
		t.Errorf("web healthy = %+v", e)
	}
	fin := rec.find(model.EventSuiteFinished, "")
	if fin.Err != nil || fin.Suite == nil || fin.Suite.Passed != 1 || fin.Duration != 3*time.Second || fin.LogPath != rep.SuiteLog {
		t.Errorf("suite.finished = %+v", fin)
	}
	if e := rec.events[6]; e.Test == nil || e.Test.Name != "tests.test_flow::test_login" {
		t.Errorf("first suite.test = %+v", e)
	}
	// No receiver: nothing to send, same outcome.
	if _, err := convertIntegration(context.Background(), rep, nil, newIntegrationEvents(nil)); err != nil {
		t.Errorf("without events: %v", err)
	}
}

func TestConvertIntegrationSuiteFailed(t *testing.T) {
	failed := model.TestResult{Name: "tests.test_flow::test_order", Status: model.TestFailed, Message: "assert 201 == 200\nmore"}
	errored := model.TestResult{Name: "tests.test_flow::test_report", Status: model.TestError, Message: "ConnectionError"}
	passed := model.TestResult{Name: "tests.test_flow::test_login", Status: model.TestPassed}
	for _, tc := range []struct {
		name   string
		change func(*integrationReport)
		runErr error
		want   []string
	}{
		{"exit 1", func(r *integrationReport) { r.SuiteExitCode, r.Tests = 1, []model.TestResult{passed, failed} },
			&engine.StageError{Reason: engine.Failed, ExitCode: 1, Err: fmt.Errorf("%w: exit status 1", model.ErrSuiteFailed)},
			[]string{"integration suite failed: 1 passed, 1 failed, 0 skipped, 0 errors (exit status 1)", "\n  FAILED tests.test_flow::test_order: assert 201 == 200\n"}},
		{"exit 0 with an error", func(r *integrationReport) { r.Tests = []model.TestResult{passed, errored} }, nil,
			[]string{"1 passed, 0 failed, 0 skipped, 1 errors (exit status 0)", "ERROR tests.test_flow::test_report: ConnectionError"}},
		{"no tests", func(r *integrationReport) { r.SuiteExitCode, r.Tests = 5, nil },
			&engine.StageError{Reason: engine.Failed, ExitCode: 5}, []string{"no tests were collected (exit status 5)"}},
		{"timed out", func(r *integrationReport) { r.SuiteExitCode, r.Tests = -1, nil },
			&engine.StageError{Reason: engine.TimedOut, ExitCode: -1, Err: context.DeadlineExceeded},
			[]string{"the integration stage timed out after 5m0s (0 passed, 0 failed, 0 skipped, 0 errors so far)"}},
		{"unreadable JUnit", func(r *integrationReport) { r.Tests, r.JUnitErr = nil, errors.New("XML syntax error") }, nil,
			[]string{"reading its JUnit XML: XML syntax error"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rep := passedRun(t.TempDir())
			tc.change(rep)
			var rec recorder
			out, err := convertIntegration(context.Background(), rep, tc.runErr, newIntegrationEvents(rec.add))
			if !errors.Is(err, model.ErrSuiteFailed) {
				t.Fatalf("error %v; want one wrapping ErrSuiteFailed", err)
			}
			for _, w := range append(tc.want, "see "+rep.SuiteLog) {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
			fin := rec.find(model.EventSuiteFinished, "")
			if fin == nil || fin.Err != err {
				t.Errorf("suite.finished = %+v; want the suite's error", fin)
			}
			if !out.Suite.Ran || out.Suite.ExitCode != rep.SuiteExitCode {
				t.Errorf("suite = %+v", out.Suite)
			}
		})
	}
}

func TestConvertIntegrationServiceFailed(t *testing.T) {
	dir := t.TempDir()
	rep := passedRun(dir)
	rep.SuiteRan, rep.SuiteExitCode, rep.Tests, rep.JUnit = false, -1, nil, ""
	for i := range rep.Services {
		rep.Services[i].Started, rep.Services[i].Healthy = false, false
	}
	cause := &engine.StageError{Reason: engine.Failed, ExitCode: 2, Command: []string{"python", "manage.py", "populate"}}
	se := &model.ServiceError{Service: "web", Step: "populate", Argv: cause.Command, ExitCode: 2,
		LogPath: rep.Services[1].Log, LogTail: []string{"Traceback", "KeyError: 'demo'"}, Err: cause}
	rep.Services[1].Err = se
	var rec recorder
	out, err := convertIntegration(context.Background(), rep, se, newIntegrationEvents(rec.add))
	var got *model.ServiceError
	if !errors.As(err, &got) || got != se {
		t.Fatalf("error %v; want the service's *model.ServiceError", err)
	}
	same(t, "events", rec.kinds(), []string{"postgres.ready", "service.migrate api", "service.migrate web", "service.failed web"})
	if f := rec.find(model.EventServiceFailed, "web"); f.Step != "populate" || f.Err != se || f.LogPath != rep.Services[1].Log {
		t.Errorf("service.failed = %+v", f)
	}
	if out.Suite.Ran || out.Suite.ExitCode != -1 || out.Services[1].Healthy {
		t.Errorf("report = %+v", out)
	}
}

func TestConvertIntegrationInterrupted(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	stopped := &engine.StageError{Reason: engine.Interrupted, ExitCode: -1, Err: context.Canceled}

	t.Run("suite", func(t *testing.T) {
		rep := passedRun(t.TempDir())
		rep.SuiteExitCode, rep.Tests = -1, nil
		var rec recorder
		_, err := convertIntegration(ctx, rep, stopped, newIntegrationEvents(rec.add))
		if !errors.Is(err, model.ErrInterrupted) || !errors.Is(err, context.Canceled) || errors.Is(err, model.ErrSuiteFailed) {
			t.Fatalf("error %v; want an interruption, not a failure", err)
		}
		if !strings.Contains(err.Error(), "while running the suite") {
			t.Errorf("error %q does not say what was interrupted", err)
		}
		// As integration.Run: the suite started, and its end is the error alone.
		if rec.find(model.EventSuiteStarted, "") == nil || rec.find(model.EventSuiteFinished, "") != nil {
			t.Errorf("events %q", rec.kinds())
		}
	})
	t.Run("set-up", func(t *testing.T) {
		rep := passedRun(t.TempDir())
		rep.SuiteRan = false
		for i := range rep.Services {
			rep.Services[i].Started, rep.Services[i].Healthy = false, false
			rep.Services[i].Err = &model.ServiceError{Service: rep.Services[i].Name, Step: "migrate", Err: stopped}
		}
		var rec recorder
		_, err := convertIntegration(ctx, rep, stopped, newIntegrationEvents(rec.add))
		if !errors.Is(err, model.ErrInterrupted) || !strings.Contains(err.Error(), "while setting up the services") {
			t.Fatalf("error %v", err)
		}
		same(t, "events", rec.kinds(), []string{"postgres.ready", "service.migrate api", "service.migrate web"})
	})
	t.Run("finished before the cancellation", func(t *testing.T) {
		if _, err := convertIntegration(ctx, passedRun(t.TempDir()), nil, newIntegrationEvents(nil)); err != nil {
			t.Errorf("a run that passed: %v", err)
		}
	})
}

// TestIntegrationEventsSentOnce: the events sent while the run went on are not sent again at
// its end, and keep what only the run knew (the migrate argv).
func TestIntegrationEventsSentOnce(t *testing.T) {
	rep := passedRun(t.TempDir())
	sr := &serviceRecipe{Name: "api", Setup: recipe{Execs: []execStep{{Argv: integration.DefaultMigrate}, {Argv: integration.DefaultPopulate}}}}
	var rec recorder
	ev := newIntegrationEvents(rec.add)
	ev.postgresReady(rep)
	ev.serviceSetUp(&rep.Services[0], sr)
	ev.serviceSetUp(&rep.Services[1], sr)
	ev.serviceHealthy(&rep.Services[0])
	ev.serviceFailed(&rep.Services[0]) // too late: api is healthy
	if _, err := convertIntegration(context.Background(), rep, nil, ev); err != nil {
		t.Fatal(err)
	}
	same(t, "events", rec.kinds(), []string{
		"postgres.ready", "service.migrate api", "service.migrate web", "service.healthy api",
		"service.healthy web", "suite.started", "suite.test", "suite.test", "suite.finished",
	})
	same(t, "migrate argv", rec.find(model.EventServiceMigrate, "api").Argv, integration.DefaultMigrate)
	var nilEvents *integrationEvents
	nilEvents.serviceHealthy(&rep.Services[0]) // a nil receiver sends nothing and does not panic
}

// integratorFunc is an engine.Integrator made of a function.
type integratorFunc func(context.Context, engine.IntegrationRequest) (*model.Report, error)

func (f integratorFunc) Integrate(ctx context.Context, req engine.IntegrationRequest) (*model.Report, error) {
	return f(ctx, req)
}

// TestIntegrationEventsRender feeds converted reports through pipeline.Integrate, which every
// renderer reads: each service's start is its "integration" stage, the suite is a stage, its
// tests are test events — as with the local engine.
func TestIntegrationEventsRender(t *testing.T) {
	run := func(rep *integrationReport, runErr error) ([]pipeline.Event, *pipeline.IntegrationSummary) {
		var events []pipeline.Event
		bus := pipeline.NewBus(pipeline.SinkFunc(func(e pipeline.Event) { events = append(events, e) }))
		in := integratorFunc(func(ctx context.Context, req engine.IntegrationRequest) (*model.Report, error) {
			return convertIntegration(ctx, rep, runErr, newIntegrationEvents(req.Events))
		})
		sum, _ := pipeline.Integrate(context.Background(), in, engine.IntegrationRequest{}, bus)
		return events, sum
	}
	describe := func(events []pipeline.Event) []string {
		var out []string
		for _, e := range events {
			s := fmt.Sprintf("%s %s/%s", e.Type, e.Service, e.Stage)
			if e.Status != "" {
				s += " " + string(e.Status)
			}
			out = append(out, s)
		}
		return out
	}

	t.Run("passed", func(t *testing.T) {
		events, sum := run(passedRun(t.TempDir()), nil)
		same(t, "events", describe(events), []string{
			"notice integration/",
			"stage.start api/integration running", "stage.finish api/integration passed",
			"stage.start web/integration running", "stage.finish web/integration passed",
			"stage.start integration/suite running",
			"test integration/tests.test_flow::test_login passed", "test integration/tests.test_flow::test_refund skipped",
			"stage.finish integration/suite passed",
		})
		if sum.Status != pipeline.StatusPassed || sum.Passed != 1 || sum.Skipped != 1 {
			t.Errorf("summary = %+v", sum)
		}
	})

	t.Run("service failed", func(t *testing.T) {
		rep := passedRun(t.TempDir())
		rep.SuiteRan, rep.SuiteExitCode, rep.Tests = false, -1, nil
		rep.Services[1].Started, rep.Services[1].Healthy = false, false
		se := &model.ServiceError{Service: "web", Step: "serve", LogPath: rep.Services[1].Log, ExitCode: -1,
			LogTail: []string{"Error: That port is already in use."}, Err: errors.New("exit status 1")}
		rep.Services[1].Err = se
		events, sum := run(rep, se)
		var webFinish *pipeline.Event
		for i := range events {
			if events[i].Type == pipeline.EventStageFinish && events[i].Service == "web" {
				webFinish = &events[i]
			}
		}
		headline, _, _ := strings.Cut(se.Error(), "\n")
		if webFinish == nil || webFinish.Status != pipeline.StatusFailed || webFinish.Message != headline ||
			strings.Join(webFinish.Tail, "\n") != "Error: That port is already in use." || webFinish.ExitCode != nil {
			t.Errorf("web's stage finish = %+v", webFinish)
		}
		if sum.Status != pipeline.StatusFailed {
			t.Errorf("summary status %s", sum.Status)
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
		Setup: recipe{Execs: []execStep{{Argv: integration.DefaultMigrate}, {Argv: []string{"python", "manage.py", "populate", "--scenario", "demo"}}}}}

	populate := &engine.StageError{Reason: engine.Failed, ExitCode: 2, Command: sr.Setup.Execs[1].Argv}
	step, argv := setupStep(sr, populate)
	if step != "populate" || !equalArgv(argv, sr.Setup.Execs[1].Argv) {
		t.Errorf("setupStep(populate failed) = %s %q", step, argv)
	}
	for _, err := range []error{
		&engine.StageError{Reason: engine.TimedOut, ExitCode: -1, Command: integration.DefaultMigrate},
		errors.New("preparing the container"),
	} {
		if step, _ := setupStep(sr, err); step != "migrate" {
			t.Errorf("setupStep(%v) = %s, want migrate", err, step)
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

func TestParseJUnit(t *testing.T) {
	tests, err := model.ParseJUnitFile(filepath.Join("testdata", "junit.xml"))
	if err != nil {
		t.Fatal(err)
	}
	same(t, "tests", tests, []model.TestResult{
		{Name: "tests.test_flow::test_login", Classname: "tests.test_flow", Case: "test_login", File: "tests/test_flow.py",
			Status: model.TestPassed, Duration: 250 * time.Millisecond},
		{Name: "tests.test_flow::test_order", Classname: "tests.test_flow", Case: "test_order", File: "tests/test_flow.py",
			Status: model.TestFailed, Duration: 500 * time.Millisecond, Message: "assert 201 == 200",
			Details: "def test_order():\n>       assert resp.status == 200\nE       assert 201 == 200"},
		{Name: "tests.test_flow::test_refund", Classname: "tests.test_flow", Case: "test_refund",
			Status: model.TestSkipped, Duration: 10 * time.Millisecond, Message: "refunds are not live yet",
			Details: "tests/test_flow.py:40: refunds are not live yet"},
		{Name: "tests.test_flow::test_report", Classname: "tests.test_flow", Case: "test_report",
			Status: model.TestError, Duration: 100 * time.Millisecond, Message: "ConnectionError: api refused",
			Details: "ConnectionError: api refused\nsecond line"},
	})
	if _, err := model.ParseJUnit(strings.NewReader("<testsuite><testcase")); err == nil {
		t.Error("truncated XML parsed")
	}
}

func TestPhase(t *testing.T) {
	rep := passedRun("/logs")
	for _, tc := range []struct {
		change func(*integrationReport)
		want   string
	}{
		{func(r *integrationReport) {}, "running the suite"},
		{func(r *integrationReport) { r.SuiteRan = false }, "setting up the suite and checking the services' health"},
		{func(r *integrationReport) { r.SuiteRan, r.Services[1].Started = false, false }, `starting service "web"`},
		{func(r *integrationReport) { r.SuiteRan, r.Services[0].Started = false, false }, "setting up the services"},
		{func(r *integrationReport) { r.SuiteRan, r.Postgres = false, "" }, "starting Postgres"},
	} {
		r := *rep
		r.Services = append([]serviceOutcome(nil), rep.Services...)
		tc.change(&r)
		if got := phase(&r); got != tc.want {
			t.Errorf("phase = %q, want %q", got, tc.want)
		}
	}
}
