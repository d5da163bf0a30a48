package integration_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/convoy-ci/convoy/integration"
	"github.com/convoy-ci/convoy/integration/internal/freeport"
	"github.com/convoy-ci/convoy/integration/model"
	"github.com/convoy-ci/convoy/integration/pgcluster"
)

// TestRun is the happy path: a throwaway cluster, web depending on api through API_URL, a passing suite.
func TestRun(t *testing.T) {
	f := newFixture(t)
	spec := f.spec("test_pass.py", f.service("api"), f.service("web", "NEEDS=API_URL"))
	spec.RunID = "happy"
	rec := &recorder{}
	rep, err := integration.Run(t.Context(), spec, integration.WithEvents(rec.record))
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	defer assertCleanedUp(t, rec)

	if s := rep.Suite; s.Passed != 3 || s.Failed+s.Errors+s.Skipped != 0 || s.ExitCode != 0 {
		t.Errorf("suite: %d passed, %d failed, %d errors, %d skipped, exit %d; want 3 passed, exit 0",
			s.Passed, s.Failed, s.Errors, s.Skipped, s.ExitCode)
	}
	if n := len(rec.of(model.EventTestResult)); n != 3 {
		t.Errorf("%d suite.test events, want 3", n)
	}
	if !rep.Throwaway || rep.Postgres == "" || strings.Contains(rep.Postgres, rep.RunID+"@") {
		t.Errorf("report postgres = %q (throwaway %v)", rep.Postgres, rep.Throwaway)
	}
	for i, want := range []string{"api", "web"} {
		s := rep.Services[i]
		if s.Name != want || !s.Healthy || s.Database != want+"_happy" || s.PID == 0 ||
			s.URL != fmt.Sprintf("http://127.0.0.1:%d", s.Port) {
			t.Errorf("service %d: %+v", i, s)
		}
	}
	if rep.Services[0].Port == rep.Services[1].Port {
		t.Errorf("both services on port %d", rep.Services[0].Port)
	}

	// Order: api up (migrated, populated, healthy) before web starts; the suite after both.
	want := []model.EventKind{
		model.EventPostgresReady,
		model.EventDatabaseCreated, model.EventDatabaseCreated,
		model.EventServiceMigrate, model.EventServicePopulate, model.EventServiceStart, model.EventServiceHealthy,
		model.EventServiceMigrate, model.EventServicePopulate, model.EventServiceStart, model.EventServiceHealthy,
		model.EventSuiteStarted,
		model.EventTestResult, model.EventTestResult, model.EventTestResult,
		model.EventSuiteFinished,
		model.EventTeardownFinished, // a throwaway cluster goes whole: no database dropped first
	}
	if got := rec.kinds(); !slices.Equal(got, want) {
		t.Errorf("events:\n got %v\nwant %v", got, want)
	}
	if a := rec.of(model.EventServicePopulate)[0].Argv; !slices.Equal(a, []string{"python", "manage.py", "populate", "--scenario", "default"}) {
		t.Errorf("populate argv = %q", a)
	}

	for _, name := range []string{"api.log", "web.log", "suite.log", "postgres.log", "junit.xml"} {
		if fi, err := os.Stat(filepath.Join(spec.LogDir, name)); err != nil || fi.Size() == 0 {
			t.Errorf("log %s missing or empty (%v)", name, err)
		}
	}
	log, _ := os.ReadFile(filepath.Join(spec.LogDir, "web.log"))
	for _, want := range []string{"migrated web_happy", "populated scenario default", "GET /healthz"} {
		if !strings.Contains(string(log), want) {
			t.Errorf("web.log lacks %q:\n%s", want, log)
		}
	}
}

// TestRunFailures covers services that do not come up and a failing suite, against a server the test
// owns (as with --postgres URL), so that it can check the databases are gone afterwards.
func TestRunFailures(t *testing.T) {
	f := newFixture(t)
	server := serverCluster(t)
	tests := []struct {
		name     string
		suite    string
		web      []string // web's extra environment
		timeout  time.Duration
		check    func(t *testing.T, rep *model.Report, err error)
		suiteRan bool
	}{
		{
			name: "service crashes at start",
			web:  []string{"CRASH_AT_START=1"},
			check: func(t *testing.T, rep *model.Report, err error) {
				var se *model.ServiceError
				if !errors.As(err, &se) || se.Service != "web" || se.Step != "serve" || se.ExitCode != 3 {
					t.Fatalf("err = %v, want a ServiceError for web's serve step, exit code 3", err)
				}
				for _, want := range []string{`service "web" exited`, "exit status 3", "boom: ImproperlyConfigured", "web.log"} {
					if !strings.Contains(err.Error(), want) {
						t.Errorf("error lacks %q:\n%v", want, err)
					}
				}
			},
		},
		{
			name:    "service never healthy",
			web:     []string{"UNHEALTHY=1"},
			timeout: 1500 * time.Millisecond,
			check: func(t *testing.T, rep *model.Report, err error) {
				var se *model.ServiceError
				if !errors.As(err, &se) || se.Service != "web" || se.Step != "health" || !se.TimedOut {
					t.Fatalf("err = %v, want a ServiceError for web's health check", err)
				}
				if se.Waited < 1500*time.Millisecond {
					t.Errorf("waited %s, less than the health timeout", se.Waited)
				}
				// How long it waited is in the message too; its exact digits depend on scheduling, so
				// the check above (Waited ≥ the timeout) is what pins it.
				for _, want := range []string{`service "web" never became healthy`, "waited ", "503 Service Unavailable", "GET /healthz"} {
					if !strings.Contains(err.Error(), want) {
						t.Errorf("error lacks %q:\n%v", want, err)
					}
				}
			},
		},
		{
			name: "migration fails",
			web:  []string{"FAIL_MIGRATE=1"},
			check: func(t *testing.T, rep *model.Report, err error) {
				var se *model.ServiceError
				if !errors.As(err, &se) || se.Service != "web" || se.Step != "migrate" || se.ExitCode != 1 {
					t.Fatalf("err = %v, want a ServiceError for web's migrate step", err)
				}
				if !strings.Contains(err.Error(), `relation "nope" does not exist`) {
					t.Errorf("error lacks the log's last lines:\n%v", err)
				}
			},
		},
		{
			name:     "failing integration test",
			suite:    "test_fail.py",
			suiteRan: true,
			check: func(t *testing.T, rep *model.Report, err error) {
				if !errors.Is(err, model.ErrSuiteFailed) {
					t.Fatalf("err = %v, want ErrSuiteFailed", err)
				}
				s := rep.Suite
				if s.Passed != 1 || s.Failed != 1 || s.ExitCode != 1 {
					t.Errorf("suite: %d passed, %d failed, exit %d; want 1, 1, 1", s.Passed, s.Failed, s.ExitCode)
				}
				fails := s.Failures()
				if len(fails) != 1 || fails[0].Name != "test_fail::test_api_has_the_demo_scenario" ||
					!strings.Contains(fails[0].Message, "scenario demo not loaded") {
					t.Fatalf("failures = %+v", fails)
				}
				if !strings.Contains(err.Error(), "FAILED test_fail::test_api_has_the_demo_scenario: AssertionError: scenario demo not loaded") {
					t.Errorf("error does not name the failure:\n%v", err)
				}
			},
		},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			web := f.service("web", append([]string{"NEEDS=API_URL"}, tt.web...)...)
			if tt.timeout != 0 {
				web.HealthTimeout = tt.timeout
			}
			suite := tt.suite
			if suite == "" {
				suite = "test_pass.py"
			}
			spec := f.spec(suite, f.service("api"), web)
			spec.Postgres = server.URL()
			spec.RunID = fmt.Sprintf("fail%d", i)
			rec := &recorder{}
			rep, err := integration.Run(t.Context(), spec, integration.WithEvents(rec.record))
			t.Logf("Run: %v", err)
			tt.check(t, rep, err)
			assertCleanedUp(t, rec)
			assertDatabasesDropped(t, server.URL(), spec.RunID)
			if ran := len(rec.of(model.EventSuiteStarted)) > 0; ran != tt.suiteRan || rep.Suite.Ran != tt.suiteRan {
				t.Errorf("suite ran = %v, want %v", ran, tt.suiteRan)
			}
			if !tt.suiteRan && len(rec.of(model.EventServiceFailed)) != 1 {
				t.Errorf("want one service.failed event, got %v", rec.kinds())
			}
		})
	}
}

// TestRunInterrupted interrupts the run in the middle of the suite, once with a real SIGINT (through
// signal.NotifyContext, as convoy's main does) and a throwaway cluster, once by cancelling the context
// with an existing server.
func TestRunInterrupted(t *testing.T) {
	f := newFixture(t)
	tests := []struct {
		name   string
		sigint bool
		server bool
	}{
		{name: "SIGINT, throwaway cluster", sigint: true},
		{name: "cancel, existing server", server: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			spec := f.spec("test_block.py", f.service("api"), f.service("web", "NEEDS=API_URL"))
			spec.RunID = "interrupted"
			if tt.server {
				spec.Postgres = serverCluster(t).URL()
			}
			ctx, cancel := context.WithCancel(t.Context())
			defer cancel()
			interrupt := cancel
			if tt.sigint {
				var stop context.CancelFunc
				ctx, stop = signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
				defer stop()
				interrupt = func() { _ = syscall.Kill(os.Getpid(), syscall.SIGINT) }
			}
			var interrupted time.Time
			rec := &recorder{on: func(e model.Event) {
				if e.Kind == model.EventSuiteStarted {
					interrupted = time.Now()
					interrupt()
				}
			}}
			rep, err := integration.Run(ctx, spec, integration.WithEvents(rec.record))
			took := time.Since(interrupted)
			if interrupted.IsZero() {
				t.Fatalf("the suite never started: %v", err)
			}
			if !errors.Is(err, model.ErrInterrupted) || !errors.Is(err, context.Canceled) ||
				!strings.Contains(err.Error(), "interrupted while running the suite") {
				t.Errorf("err = %v, want an interruption while running the suite", err)
			}
			if took > 20*time.Second {
				t.Errorf("Run returned %s after the interruption", took)
			}
			t.Logf("Run returned %s after the interruption", took.Round(time.Millisecond))
			if !rep.Suite.Ran || rep.Suite.PID == 0 {
				t.Errorf("suite report: %+v", rep.Suite)
			}
			assertCleanedUp(t, rec)
			if tt.server {
				assertDatabasesDropped(t, spec.Postgres, spec.RunID)
			}
			if n, want := len(rec.of(model.EventDatabaseDropped)), map[bool]int{true: 2, false: 0}[tt.server]; n != want {
				t.Errorf("%d database.dropped events, want %d (a throwaway cluster goes whole)", n, want)
			}
		})
	}
}

// TestRunSkipsTakenPort hands out a port that is already taken, once before the service starts and
// once while it starts (taken right after it was launched, before it could bind): either way it must
// come up on another port, and the other services and the suite must see the new URL.
func TestRunSkipsTakenPort(t *testing.T) {
	f := newFixture(t)
	server := serverCluster(t)
	tests := []struct {
		name          string
		takeAtPick    bool // the picker hands out a port that is already bound
		takeWhenStart bool // the port is bound the moment the service is launched
	}{
		{name: "taken before start", takeAtPick: true},
		{name: "taken while starting", takeWhenStart: true},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var listeners []net.Listener
			defer func() {
				for _, l := range listeners {
					l.Close()
				}
			}()
			take := func(port int) bool {
				l, err := net.Listen("tcp", net.JoinHostPort(freeport.Host, fmt.Sprint(port)))
				if err != nil {
					return false
				}
				listeners = append(listeners, l)
				return true
			}
			firstPort := 0
			pick := func() (int, error) {
				port, err := freeport.Pick()
				if firstPort == 0 {
					firstPort = port
					if tt.takeAtPick && !take(port) {
						t.Fatalf("could not take port %d", port)
					}
				}
				return port, err
			}
			taken := false
			rec := &recorder{on: func(e model.Event) {
				if tt.takeWhenStart && e.Kind == model.EventServiceStart && e.Service == "api" && !taken {
					taken = take(e.Port)
				}
			}}
			spec := f.spec("test_pass.py", f.service("api"), f.service("web", "NEEDS=API_URL"))
			spec.Postgres = server.URL()
			spec.RunID = fmt.Sprintf("port%d", i)
			rep, err := integration.Run(t.Context(), spec, integration.WithEvents(rec.record), integration.WithPortPicker(pick))
			if tt.takeWhenStart && !taken {
				t.Skip("the service bound its port before the test could take it")
			}
			if err != nil {
				t.Fatalf("Run: %v", err)
			}
			moved := rec.of(model.EventServicePortMoved)
			if len(moved) != 1 || moved[0].Service != "api" || !strings.Contains(moved[0].Message, fmt.Sprintf("port %d was taken", firstPort)) {
				t.Errorf("port_moved events = %+v, want one for api's port %d", moved, firstPort)
			}
			if rep.Services[0].Port == firstPort || !rep.Services[0].Healthy {
				t.Errorf("api: %+v; port %d was taken", rep.Services[0], firstPort)
			}
			if rep.Suite.Passed != 3 {
				t.Errorf("suite passed %d tests, want 3 (web and the suite must see api's new URL)", rep.Suite.Passed)
			}
			assertCleanedUp(t, rec)
			assertDatabasesDropped(t, server.URL(), spec.RunID)
		})
	}
}

// TestRunWithoutPostgres: no PostgreSQL programs and no --postgres URL must say how to get one or the other.
func TestRunWithoutPostgres(t *testing.T) {
	root := t.TempDir()
	spec := integration.Spec{
		Repo:     root,
		Services: []integration.Service{{Name: "api", Serve: []string{"python", "manage.py", "runserver", "${HOST}:${PORT}"}}},
		Suite:    integration.Suite{Argv: []string{"python", "-m", "pytest"}},
	}
	rec := &recorder{}
	_, err := integration.Run(t.Context(), spec, integration.WithEvents(rec.record), integration.WithPostgresBinDir(t.TempDir()))
	if !errors.Is(err, pgcluster.ErrNoBinaries) {
		t.Fatalf("err = %v, want ErrNoBinaries", err)
	}
	for _, want := range []string{"apt-get install -y postgresql", "--postgres URL"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error does not say %q:\n%v", want, err)
		}
	}
	if got := rec.kinds(); !slices.Equal(got, []model.EventKind{model.EventTeardownFinished}) {
		t.Errorf("events = %v, want only teardown.finished", got)
	}
}

// TestRunParallel: with WithParallel, services with no dependency between them start at once —
// api's and other's migrations meet at a FIFO, which one at a time could never do — and web,
// which depends on api, is migrated and populated meanwhile (api's populate waits for web's
// migration at another FIFO) but started only once api is healthy.
func TestRunParallel(t *testing.T) {
	f := newFixture(t)
	fifo, early := filepath.Join(t.TempDir(), "meet"), filepath.Join(t.TempDir(), "early")
	for _, p := range []string{fifo, early} {
		if err := syscall.Mkfifo(p, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	a, b, c := f.service("api"), f.service("web", "NEEDS=API_URL"), f.service("other")
	a.Migrate = []string{"sh", "-c", "cat " + fifo + " >/dev/null && python manage.py migrate --noinput"}
	c.Migrate = []string{"sh", "-c", "echo met > " + fifo + " && python manage.py migrate --noinput"}
	a.Populate = []string{"sh", "-c", "cat " + early + " >/dev/null && python manage.py populate --scenario default"}
	b.Migrate = []string{"sh", "-c", "echo migrating > " + early + " && python manage.py migrate --noinput"}
	a.Timeout, b.Timeout, c.Timeout = time.Minute, time.Minute, time.Minute
	b.DependsOn = []string{"api", "not-in-this-run"}
	spec := f.spec("test_pass.py", a, b, c)
	rec := &recorder{}
	rep, err := integration.Run(t.Context(), spec, integration.WithEvents(rec.record), integration.WithParallel(3))
	defer assertCleanedUp(t, rec)
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	for _, s := range rep.Services {
		if !s.Healthy {
			t.Errorf("%s not healthy", s.Name)
		}
	}
	at := map[string]int{}
	for i, e := range rec.events {
		if e.Kind == model.EventServiceHealthy || e.Kind == model.EventServiceStart {
			at[e.Service+" "+string(e.Kind)] = i
		}
	}
	if at["web "+string(model.EventServiceStart)] < at["api "+string(model.EventServiceHealthy)] {
		t.Errorf("web started before api was healthy: %v", rec.kinds())
	}
}

// TestSuiteReady: Suite.Ready runs once every service is healthy, right before the suite; its
// error fails the suite, which then never starts.
func TestSuiteReady(t *testing.T) {
	f := newFixture(t)
	for _, fail := range []bool{false, true} {
		spec := f.spec("test_pass.py", f.service("api"), f.service("web", "NEEDS=API_URL"))
		rec := &recorder{}
		var healthyAtReady int
		spec.Suite.Ready = func(context.Context) error {
			healthyAtReady = len(rec.of(model.EventServiceHealthy))
			if fail {
				return errors.New("no bytecode today")
			}
			return nil
		}
		rep, err := integration.Run(t.Context(), spec, integration.WithEvents(rec.record))
		assertCleanedUp(t, rec)
		if healthyAtReady != 2 {
			t.Errorf("fail=%v: Ready ran with %d services healthy, want 2", fail, healthyAtReady)
		}
		switch {
		case !fail && (err != nil || rep.Suite.Passed != 3):
			t.Errorf("Ready passing: err %v, %d passed", err, rep.Suite.Passed)
		case fail && (!errors.Is(err, model.ErrSuiteFailed) || !strings.Contains(err.Error(), "no bytecode today") || rep.Suite.Ran):
			t.Errorf("Ready failing: err %v, suite ran %v", err, rep.Suite.Ran)
		}
	}
}
