package integration_test

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/convoy-ci/convoy/integration"
	"github.com/convoy-ci/convoy/internal/procgroup"
)

// TestSweepKillsBackingOfDeadRun: a run that died (kill -9) left a backing server's process group
// running and its directory in the run record; the next sweep kills the group and removes both.
func TestSweepKillsBackingOfDeadRun(t *testing.T) {
	dead := exec.Command("true")
	if err := dead.Start(); err != nil {
		t.Fatal(err)
	}
	owner, ok := procgroup.OwnerOf(dead.Process.Pid)
	if err := dead.Wait(); err != nil || !ok {
		t.Fatalf("a process to stand for the dead run: %v (owner found: %v)", err, ok)
	}
	left, err := procgroup.Start(exec.Command("sleep", "300"))
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = left.Stop(syscall.SIGKILL, 0) }()
	group, _ := procgroup.OwnerOf(left.PID())

	runDir := t.TempDir()
	rec := filepath.Join(runDir, "20250101t000000_abcdef")
	if err := os.MkdirAll(filepath.Join(rec, "redis"), 0o755); err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(map[string]any{"owner": owner, "databases": []string{},
		"backing": []map[string]any{{"kind": "redis", "groups": []procgroup.Owner{group}}}})
	if err := os.WriteFile(filepath.Join(rec, "owner.json"), b, 0o644); err != nil {
		t.Fatal(err)
	}

	removed, err := integration.Sweep(t.Context(), integration.Spec{Repo: t.TempDir()},
		integration.WithRunDir(runDir), integration.WithClusterParentDir(t.TempDir()))
	if err != nil {
		t.Fatalf("Sweep: %v", err)
	}
	select {
	case <-left.Done():
	case <-time.After(10 * time.Second):
		t.Errorf("the leftover process group %d still runs after the sweep", left.PID())
	}
	if !strings.Contains(strings.Join(removed, "\n"), "killed leftover redis (process group") {
		t.Errorf("Sweep removed %q, want the leftover redis named", removed)
	}
	if _, err := os.Stat(rec); !os.IsNotExist(err) {
		t.Errorf("the dead run's record (with redis's directory) is left: %v", err)
	}
}
