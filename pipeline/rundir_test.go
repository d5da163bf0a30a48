package pipeline

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/convoy-ci/convoy/internal/procgroup"
)

// deadOwner is the owner record of a process that has exited.
func deadOwner(t *testing.T) []byte {
	t.Helper()
	cmd := exec.Command("true")
	if err := cmd.Run(); err != nil {
		t.Fatal(err)
	}
	b, err := json.Marshal(procgroup.Owner{PID: cmd.Process.Pid, Start: 1})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestStartRun: every run gets its own directory with its owner recorded, <state>/logs links to
// the last one started, and a log directory of convoy before per-run logs is moved aside, not
// lost.
func TestStartRun(t *testing.T) {
	state := t.TempDir()
	if err := os.MkdirAll(filepath.Join(state, "logs", "api"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(state, "logs", "api", "unit.log"), []byte("old\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	a, b := NewRun(state), NewRun(state)
	for _, r := range []*RunDir{a, b} {
		if _, err := r.Start(); err != nil {
			t.Fatal(err)
		}
	}
	if a.Dir == b.Dir {
		t.Fatalf("two runs share %s", a.Dir)
	}
	for _, r := range []*RunDir{a, b} {
		if _, alive := runOwner(r.Dir); !alive {
			t.Errorf("run %s does not record this process as its owner", r.ID)
		}
	}
	if got, err := filepath.EvalSymlinks(filepath.Join(state, LatestLogs)); err != nil || got != b.Logs() {
		t.Errorf("%s links to %s (%v), want %s", LatestLogs, got, err, b.Logs())
	}
	if data, err := os.ReadFile(filepath.Join(state, RunsDirName, "logs-before-"+a.ID, "api", "unit.log")); string(data) != "old\n" {
		t.Errorf("the old log directory was not kept: %q, %v", data, err)
	}
}

// TestPruneRuns: of runs whose owner is gone, the scratch databases are removed and only the
// newest keep directories stay; a live run is never touched, however old.
func TestPruneRuns(t *testing.T) {
	state := t.TempDir()
	runs := filepath.Join(state, RunsDirName)
	live, err := procgroup.Self()
	if err != nil {
		t.Fatal(err)
	}
	liveRec, _ := json.Marshal(live)
	dead := deadOwner(t)
	ids := []string{"20260101t000000_000001", "20260101t000000_000002", "20260101t000000_000003", "20260101t000000_000004"}
	for i, id := range ids {
		rec := dead
		if i == 0 { // the oldest still runs
			rec = liveRec
		}
		for _, f := range []string{"logs/web/unit.log", "db/web/populate.sqlite3"} {
			p := filepath.Join(runs, id, f)
			if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(p, []byte("x"), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		if err := os.WriteFile(filepath.Join(runs, id, runOwnerFile), rec, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	removed, err := PruneRuns(state, 2)
	if err != nil {
		t.Fatal(err)
	}
	exists := func(p string) bool { _, err := os.Stat(filepath.Join(runs, p)); return err == nil }
	for _, c := range []struct {
		path string
		want bool
	}{
		{ids[0] + "/db/web/populate.sqlite3", true}, // live
		{ids[1], false}, // dead, beyond the newest 2
		{ids[2] + "/logs/web/unit.log", true},
		{ids[2] + "/db", false},
		{ids[3] + "/logs/web/unit.log", true},
		{ids[3] + "/db", false},
	} {
		if got := exists(c.path); got != c.want {
			t.Errorf("%s exists = %v, want %v", c.path, got, c.want)
		}
	}
	if len(removed) != 3 || !strings.Contains(strings.Join(removed, "\n"), fmt.Sprintf("removed old run directory %s", filepath.Join(runs, ids[1]))) {
		t.Errorf("removed = %q", removed)
	}
}
