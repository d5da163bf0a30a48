package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/convoy-ci/convoy/integration/pgcluster"
	"github.com/convoy-ci/convoy/pipeline"
)

// hangingSuite sleeps while the repository has a file named hang, and passes at once otherwise.
const hangingSuite = "import os, time\nif os.path.exists('hang'):\n    time.sleep(300)\n"

// TestKill9LeavesNothing: kill -9 of `convoy integration` while the suite runs takes every
// process it started along (the service's container, runc, the suite, the throwaway postmaster
// and its workers); the next integration run removes, and names, what the killed one left: its
// cluster directory or its databases on the --postgres server, its bundle and its root
// filesystem's overlay mount, the gates' scratch databases in its run directory; afterwards
// nothing of the killed run remains.
func TestKill9LeavesNothing(t *testing.T) {
	if testing.Short() {
		t.Skip("builds an image and starts it in runc and PostgreSQL; skipped with -short")
	}
	needBase(t)
	for _, external := range []bool{false, true} {
		t.Run(map[bool]string{false: "throwaway", true: "postgres-url"}[external], func(t *testing.T) {
			var args []string
			var admin string
			if external {
				c, err := pgcluster.Start(context.Background())
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { _ = c.Stop(context.Background()) })
				admin = c.URL()
				args = []string{"--postgres", admin}
			}
			root := imageRepo(t, hangingSuite, "")
			writeFiles(t, root, map[string]string{"hang": ""})
			pid, runID, procs := killDuringSuite(t, root, args)
			for _, p := range procs {
				waitGone(t, p)
			}
			if left := processesIn(t, root); len(left) > 0 {
				t.Errorf("processes %v still run in the repository's directories", left)
			}
			cluster := clusterOf(t, pid)
			if external && databasesOf(t, admin, runID) == 0 {
				t.Fatalf("the killed run left no database of run %s: nothing to sweep", runID)
			}
			if !external && cluster == "" {
				t.Fatalf("the killed run (pid %d) left no cluster directory: nothing to sweep", pid)
			}

			if err := os.Remove(filepath.Join(root, "hang")); err != nil {
				t.Fatal(err)
			}
			res := convoy(t, root, []string{"CONVOY_RUNTIME="}, append([]string{"integration", "--output", "json", "--runtime", "runc"}, args...)...)
			if res.code != 0 {
				t.Fatalf("the next run: exit %d\n%s\n%s", res.code, res.stdout, res.stderr)
			}
			gone := fmt.Sprintf("of run %s (pid %d gone)", runID, pid)
			want := []string{"unmounted and removed leftover root filesystem", "removed leftover bundle",
				fmt.Sprintf("removed leftover databases %s %s", filepath.Join(root, ".convoy", pipeline.RunsDirName, runID, "db"), gone)}
			if external {
				want = append(want, "removed leftover database web_"+runID+" "+gone)
			} else {
				want = append(want, fmt.Sprintf("removed leftover PostgreSQL cluster %s (convoy pid %d gone)", cluster, pid))
			}
			for _, w := range want {
				if !strings.Contains(res.stdout, w) {
					t.Errorf("the next run did not say %q\n%s", w, res.stdout)
				}
			}
			if cluster != "" {
				if _, err := os.Stat(cluster); !os.IsNotExist(err) {
					t.Errorf("cluster directory %s still there (%v)", cluster, err)
				}
			}
			if external && databasesOf(t, admin, runID) != 0 {
				t.Errorf("databases of run %s remain", runID)
			}
			if m := mountsUnder(t, root); len(m) > 0 {
				t.Errorf("mounts remain: %v", m)
			}
			assertNoFiles(t, filepath.Join(root, ".convoy", "run"))
		})
	}
}

// killDuringSuite starts convoy integration on root, waits until the suite runs, kills convoy
// with SIGKILL and returns its PID, the run's id and every process it had started.
func killDuringSuite(t *testing.T, root string, args []string) (int, string, []int) {
	t.Helper()
	cmd := exec.Command(convoyBin, append([]string{"integration", "-C", root, "--cache-dir", sharedCache, "--output", "json", "--runtime", "runc"}, args...)...)
	cmd.Env = append(os.Environ(), "CONVOY_RUNTIME=")
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	if !waitForEvent(stdout, func(e pipeline.Event) bool { return e.Type == pipeline.EventStageStart && e.Stage == "suite" }) {
		t.Fatal("the suite never started")
	}
	go func() { _, _ = io.Copy(io.Discard, stdout) }()
	procs := descendants(t, cmd.Process.Pid)
	if len(procs) < 5 {
		t.Fatalf("convoy runs %d processes (%v), want the postmaster, its workers, runc, the container and the suite", len(procs), procs)
	}
	runs, err := filepath.Glob(filepath.Join(root, ".convoy", "run", "2*"))
	if err != nil || len(runs) != 1 {
		t.Fatalf("run records = %v (%v), want one", runs, err)
	}
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait()
	return cmd.Process.Pid, filepath.Base(runs[0]), procs
}

// descendants returns every live process under pid, read from /proc.
func descendants(t *testing.T, pid int) []int {
	t.Helper()
	parent := map[int]int{}
	entries, err := os.ReadDir("/proc")
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		p, err := strconv.Atoi(e.Name())
		if err != nil || gone(p) {
			continue
		}
		b, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue
		}
		f := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+1:]))
		if len(f) > 1 {
			parent[p], _ = strconv.Atoi(f[1])
		}
	}
	var out []int
	for p := range parent {
		for q := parent[p]; q > 1; q = parent[q] {
			if q == pid {
				out = append(out, p)
				break
			}
		}
	}
	return out
}

// waitGone polls until pid has exited, failing after 15 seconds.
func waitGone(t *testing.T, pid int) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for !gone(pid) {
		if time.Now().After(deadline) {
			cmd, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
			t.Errorf("process %d (%s) outlived convoy", pid, strings.ReplaceAll(string(cmd), "\x00", " "))
			return
		}
		time.Sleep(20 * time.Millisecond) // polling a condition, bounded by deadline
	}
}

// clusterOf returns the throwaway cluster directory whose recorded owner is pid, "" if none.
func clusterOf(t *testing.T, pid int) string {
	t.Helper()
	dirs, _ := filepath.Glob(filepath.Join(pgcluster.DefaultParentDir(), "convoy-pg-*"))
	for _, d := range dirs {
		var o struct {
			PID int `json:"pid"`
		}
		b, err := os.ReadFile(filepath.Join(d, "convoy-owner.json"))
		if err == nil && json.Unmarshal(b, &o) == nil && o.PID == pid {
			return d
		}
	}
	return ""
}

// databasesOf counts the databases of run runID on the server at admin.
func databasesOf(t *testing.T, admin, runID string) int {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, admin)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	var n int
	if err := conn.QueryRow(ctx, "SELECT count(*) FROM pg_database WHERE datname LIKE '%' || $1", runID).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// mountsUnder returns the mount points under dir.
func mountsUnder(t *testing.T, dir string) []string {
	t.Helper()
	b, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.Fields(line); len(f) > 4 && strings.HasPrefix(f[4], dir+"/") {
			out = append(out, f[4])
		}
	}
	return out
}
