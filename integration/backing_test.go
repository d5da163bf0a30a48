package integration_test

import (
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/convoy-ci/convoy/integration"
	"github.com/convoy-ci/convoy/integration/model"
)

// TestRunBackingAndProcesses: a service that declares Redis gets a throwaway server and its URL,
// and runs a worker beside its web process (ready by a log line) and a scheduler (ready by a
// command); the suite reaches the same Redis. Then workers that crash or never say they are ready
// fail the run naming <service>/<process>. Every time, nothing is left.
func TestRunBackingAndProcesses(t *testing.T) {
	f := newFixture(t)
	server := serverCluster(t)
	orders := func(env ...string) integration.Service {
		s := f.service("orders", env...)
		s.Backing = []string{"redis"}
		s.Processes = []integration.Proc{
			{Name: "worker", Argv: []string{"python", "manage.py", "worker"}, ReadyLog: "^worker ready$", ReadyTimeout: 20 * time.Second},
			{Name: "beat", Argv: []string{"python", "manage.py", "idle"},
				ReadyCommand: []string{"python", "-c", "import os, manage; assert manage.redis(os.environ['REDIS_URL'])('PING') == 'PONG'"}},
		}
		return s
	}
	tests := []struct {
		name    string
		env     []string
		timeout time.Duration
		step    string // the worker's failing step; "" = the run passes
		want    []string
	}{
		{name: "worker and scheduler beside the web process"},
		{name: "worker crashes", env: []string{"WORKER_CRASH=1"}, step: "serve",
			want: []string{`service "orders/worker" exited (exit status 1)`, `before a line of its output matching "^worker ready$"`, "worker: cannot import tasks", "orders.worker.log"}},
		{name: "worker never ready", env: []string{"WORKER_MUTE=1"}, timeout: time.Second, step: "health",
			want: []string{`service "orders/worker" never became healthy`, `a line of its output matching "^worker ready$"`}},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := orders(tt.env...)
			if tt.timeout != 0 {
				s.Processes[0].ReadyTimeout = tt.timeout
			}
			spec := f.spec("test_worker.py", s)
			spec.Postgres, spec.RunID = server.URL(), fmt.Sprintf("backing%d", i)
			rec := &recorder{}
			rep, err := integration.Run(t.Context(), spec, integration.WithEvents(rec.record))
			assertCleanedUp(t, rec)
			assertDatabasesDropped(t, server.URL(), spec.RunID)
			ready := rec.of(model.EventBackingReady)
			if len(ready) != 1 || ready[0].Backing != "redis" || !strings.HasPrefix(ready[0].URL, "redis://127.0.0.1:") {
				t.Fatalf("backing.ready events = %+v, want one for redis", ready)
			}
			if _, err := os.Stat(ready[0].Dir); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("redis's directory %s is left (%v)", ready[0].Dir, err)
			}
			if tt.step == "" {
				if err != nil {
					t.Fatalf("Run: %v", err)
				}
				if rep.Suite.Passed != 2 {
					t.Errorf("suite passed %d tests, want 2", rep.Suite.Passed)
				}
				var names []string
				for _, p := range rep.Services[0].Processes {
					if p.Ready && p.PID != 0 {
						names = append(names, p.Name)
					}
				}
				if !slices.Equal(names, []string{"orders/worker", "orders/beat"}) {
					t.Errorf("ready processes = %v, want orders/worker, orders/beat", names)
				}
				if n := len(rec.of(model.EventProcessReady)); n != 2 {
					t.Errorf("%d process.ready events, want 2", n)
				}
				return
			}
			var se *model.ServiceError
			if !errors.As(err, &se) || se.Service != "orders/worker" || se.Step != tt.step {
				t.Fatalf("err = %v, want a ServiceError of orders/worker at %s", err, tt.step)
			}
			for _, want := range tt.want {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error lacks %q:\n%v", want, err)
				}
			}
		})
	}
}

// TestRunRabbitMQ: a service declaring RabbitMQ and Redis gets both, with RabbitMQ as its Celery
// broker; both servers are gone afterwards.
func TestRunRabbitMQ(t *testing.T) {
	if testing.Short() {
		t.Skip("RabbitMQ takes seconds to start; skipped with -short")
	}
	f := newFixture(t)
	s := f.service("events")
	s.Backing = []string{"rabbitmq", "redis"}
	spec := f.spec("test_rabbitmq.py", s)
	rec := &recorder{}
	rep, err := integration.Run(t.Context(), spec, integration.WithEvents(rec.record))
	assertCleanedUp(t, rec)
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	if rep.Suite.Passed != 1 || len(rep.Backing) != 2 {
		t.Errorf("suite passed %d tests (want 1); backing %+v (want rabbitmq and redis)", rep.Suite.Passed, rep.Backing)
	}
	for _, e := range rec.of(model.EventBackingReady) {
		if _, err := os.Stat(e.Dir); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s's directory %s is left (%v)", e.Backing, e.Dir, err)
		}
	}
}
