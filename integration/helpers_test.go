package integration_test

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/convoy-ci/convoy/integration"
	"github.com/convoy-ci/convoy/integration/internal/pgtest"
	"github.com/convoy-ci/convoy/integration/model"
	"github.com/convoy-ci/convoy/integration/pgcluster"
	"github.com/convoy-ci/convoy/internal/procgroup"
)

// fixture is a copy of testdata/ with the environment its stand-in services and suites run in.
type fixture struct {
	root  string
	env   []string
	pgBin string
}

// newFixture copies testdata into a temporary directory and prepares an environment whose PATH has
// python (the host's interpreter, which has pytest), psql and the basic tools, and nothing else.
func newFixture(t *testing.T) *fixture {
	t.Helper()
	pgBin, err := pgcluster.FindBinDir()
	if err != nil {
		pgtest.Missing(t, err)
	}
	python, err := exec.Command("python3", "-c", "import sys; print(sys.executable)").Output()
	if err != nil {
		t.Fatalf("finding the Python interpreter: %v", err)
	}
	if err := exec.Command(strings.TrimSpace(string(python)), "-c", "import pytest").Run(); err != nil {
		t.Fatalf("%s cannot import pytest (python3 -m pip install pytest): %v", strings.TrimSpace(string(python)), err)
	}
	root := t.TempDir()
	if err := os.CopyFS(root, os.DirFS("testdata")); err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(root, "bin")
	if err := os.Mkdir(bin, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(strings.TrimSpace(string(python)), filepath.Join(bin, "python")); err != nil {
		t.Fatal(err)
	}
	return &fixture{
		root:  root,
		pgBin: pgBin,
		env: []string{
			"PATH=" + bin + ":" + pgBin + ":/usr/bin:/bin",
			"HOME=" + root,
			"PYTHONDONTWRITEBYTECODE=1",
			"PYTHONUNBUFFERED=1",
		},
	}
}

// service describes a fixture service (testdata/svc/manage.py) with extra environment entries.
func (f *fixture) service(name string, env ...string) integration.Service {
	return integration.Service{
		Name:          name,
		Dir:           "svc",
		Env:           append(slices.Clone(f.env), env...),
		Scenario:      "default",
		Serve:         []string{"python", "manage.py", "runserver", "${HOST}:${PORT}"},
		Health:        "/healthz",
		HealthTimeout: 30 * time.Second,
	}
}

// spec describes a run of testdata/suite/<suiteFile> against services.
func (f *fixture) spec(suiteFile string, services ...integration.Service) integration.Spec {
	return integration.Spec{
		Repo:     f.root,
		LogDir:   filepath.Join(f.root, "logs"),
		Env:      map[string]string{"JWT_SECRET": "shared-secret"},
		Services: services,
		Suite: integration.Suite{
			Argv:    []string{"python", "-m", "pytest", "-q", suiteFile},
			Dir:     "suite",
			Env:     append(slices.Clone(f.env), "CONVOY_FIXTURE_SUITE=1"),
			Timeout: 2 * time.Minute,
		},
	}
}

// recorder keeps a run's events.
type recorder struct {
	mu     sync.Mutex
	events []model.Event
	on     func(model.Event) // called for every event, if set
}

func (r *recorder) record(e model.Event) {
	r.mu.Lock()
	r.events = append(r.events, e)
	r.mu.Unlock()
	if r.on != nil {
		r.on(e)
	}
}

// of returns the events of kind.
func (r *recorder) of(kind model.EventKind) []model.Event {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []model.Event
	for _, e := range r.events {
		if e.Kind == kind {
			out = append(out, e)
		}
	}
	return out
}

// pids returns every process ID the run reported starting.
func (r *recorder) pids() []int {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []int
	for _, e := range r.events {
		if e.PID != 0 && !slices.Contains(out, e.PID) {
			out = append(out, e.PID)
		}
	}
	return out
}

// kinds returns the kinds of the events, in order.
func (r *recorder) kinds() []model.EventKind {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []model.EventKind
	for _, e := range r.events {
		out = append(out, e.Kind)
	}
	return out
}

// assertCleanedUp checks that every process the run started is gone, with its whole process group,
// and that the throwaway cluster (if any) was stopped and its directory removed.
func assertCleanedUp(t *testing.T, rec *recorder) {
	t.Helper()
	pids := rec.pids()
	if len(pids) == 0 {
		t.Error("the run reported no process at all")
	}
	for _, pid := range pids {
		if procgroup.ProcessAlive(pid) {
			t.Errorf("process %d is still alive after Run returned", pid)
		}
		if alive, err := procgroup.Alive(pid); err != nil || len(alive) > 0 {
			t.Errorf("process group %d still has live processes %v after Run returned (%v)", pid, alive, err)
		}
	}
	for _, e := range rec.of(model.EventPostgresReady) {
		if e.Dir == "" {
			continue // an existing server
		}
		if _, err := os.Stat(e.Dir); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("throwaway cluster directory %q still exists after Run returned (stat: %v)", e.Dir, err)
		}
	}
	if n := len(rec.of(model.EventTeardownFinished)); n != 1 {
		t.Errorf("%d teardown.finished events, want 1", n)
	}
}

// serverCluster starts a PostgreSQL cluster owned by the test, standing for an existing server
// (--postgres URL), so that the test can look at it after Run.
func serverCluster(t *testing.T) *pgcluster.Cluster {
	t.Helper()
	c, err := pgcluster.Start(t.Context())
	if err != nil {
		t.Fatalf("starting the test's PostgreSQL cluster: %v", err)
	}
	t.Cleanup(func() {
		if err := c.Stop(context.Background()); err != nil {
			t.Errorf("stopping the test's cluster: %v", err)
		}
	})
	return c
}

// assertDatabasesDropped checks that no database of run runID is left on the server at url.
func assertDatabasesDropped(t *testing.T, url, runID string) {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatalf("connecting to %s: %v", url, err)
	}
	defer conn.Close(ctx)
	rows, err := conn.Query(ctx, "SELECT datname FROM pg_database WHERE datname LIKE '%' || $1", "_"+runID)
	if err != nil {
		t.Fatal(err)
	}
	left, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	if len(left) > 0 {
		t.Errorf("databases of run %s still on the server: %v", runID, left)
	}
}
