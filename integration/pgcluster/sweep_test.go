package pgcluster

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/convoy-ci/convoy/internal/procgroup"
)

// TestKilledOwnerLeavesNothingRunningAndSweepRemovesTheCluster: kill -9 of a process running a
// throwaway cluster takes the postmaster and its workers with it; Sweep then removes the
// cluster's directory and says so, and leaves a live process's cluster alone. Nothing of the
// killed cluster is left elsewhere either: its dynamic shared memory went with its directory.
func TestKilledOwnerLeavesNothingRunningAndSweepRemovesTheCluster(t *testing.T) {
	bin := testBinDir(t)
	parent, err := os.MkdirTemp("", "convoy-sweep-test-") // t.TempDir's parent is root's only
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(parent) })
	if err := os.Chmod(parent, 0o755); err != nil { // the postgres user must reach it
		t.Fatal(err)
	}
	live, err := Start(context.Background(), WithBinDir(bin), WithParentDir(parent))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = live.Stop(context.Background()) })

	owner := exec.Command(os.Args[0], "-test.run=^TestHelperRunCluster$")
	owner.Env = append(os.Environ(), "PGCLUSTER_HELPER="+parent, "PGCLUSTER_BIN="+bin)
	out, err := owner.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := owner.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = owner.Process.Kill(); _ = owner.Wait() })
	var pid int
	var dir string
	if _, err := fmt.Fscan(out, &pid, &dir); err != nil {
		t.Fatalf("reading the helper's cluster: %v", err)
	}
	members := append([]int{pid}, children(t, pid)...) // workers lead sessions of their own
	if len(members) < 2 {
		t.Fatalf("postmaster %d has no workers", pid)
	}
	shm := sharedMemoryFiles(t, pid)
	if len(shm) == 0 {
		t.Fatalf("postmaster %d maps no dynamic shared memory file (/proc/%d/maps)", pid, pid)
	}
	if err := owner.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = owner.Wait()
	for _, m := range members {
		waitGone(t, m)
	}

	removed, err := Sweep(parent)
	if err != nil {
		t.Fatal(err)
	}
	want := fmt.Sprintf("removed leftover PostgreSQL cluster %s (convoy pid %d gone)", dir, owner.Process.Pid)
	if len(removed) != 1 || removed[0] != want {
		t.Errorf("Sweep = %q, want [%q]", removed, want)
	}
	if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("cluster directory %s still there (%v)", dir, err)
	}
	for _, f := range shm {
		if _, err := os.Stat(f); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("the killed cluster's shared memory %s is still there (%v)", f, err)
		}
	}
	if _, err := os.Stat(live.Dir()); err != nil || !procgroup.ProcessAlive(live.PID()) {
		t.Errorf("Sweep touched the live cluster %s (pid %d): %v", live.Dir(), live.PID(), err)
	}
}

// sharedMemoryFiles are the files the process pid maps that hold PostgreSQL's dynamic shared
// memory (/dev/shm/PostgreSQL.N by default, DIR/pg_dynshmem/mmap.N with mmap).
func sharedMemoryFiles(t *testing.T, pid int) []string {
	t.Helper()
	maps, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/maps")
	if err != nil {
		t.Fatal(err)
	}
	var files []string
	for _, line := range strings.Split(string(maps), "\n") {
		f := strings.Fields(line)
		if len(f) >= 6 && (strings.HasPrefix(filepath.Base(f[5]), "PostgreSQL.") || strings.Contains(f[5], "/pg_dynshmem/")) {
			files = append(files, f[5])
		}
	}
	return files
}

// TestHelperRunCluster is the owner in TestKilledOwnerLeavesNothingRunningAndSweepRemovesTheCluster:
// it starts a cluster, prints its postmaster's PID and directory, and waits to be killed.
func TestHelperRunCluster(t *testing.T) {
	parent := os.Getenv("PGCLUSTER_HELPER")
	if parent == "" {
		t.Skip("helper process")
	}
	c, err := Start(context.Background(), WithBinDir(os.Getenv("PGCLUSTER_BIN")), WithParentDir(parent))
	if err != nil {
		t.Fatal(err)
	}
	fmt.Println(c.PID(), c.Dir())
	select {}
}

// waitGone polls until pid has exited, failing after 10 seconds.
func waitGone(t *testing.T, pid int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for procgroup.ProcessAlive(pid) {
		if time.Now().After(deadline) {
			cmd, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
			t.Fatalf("process %d (%s) outlived its owner", pid, strings.ReplaceAll(string(cmd), "\x00", " "))
		}
		time.Sleep(20 * time.Millisecond) // polling a condition, bounded by deadline
	}
}

// children returns the PIDs of pid's live children, read from /proc.
func children(t *testing.T, pid int) []int {
	t.Helper()
	entries, err := os.ReadDir("/proc")
	if err != nil {
		t.Fatal(err)
	}
	var kids []int
	for _, e := range entries {
		b, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue
		}
		f := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+1:]))
		if len(f) > 1 && f[1] == strconv.Itoa(pid) {
			child, _ := strconv.Atoi(e.Name())
			kids = append(kids, child)
		}
	}
	return kids
}
