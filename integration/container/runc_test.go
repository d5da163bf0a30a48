package container

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/convoy-ci/convoy/integration"
	"github.com/convoy-ci/convoy/internal/procgroup"
)

// newRunc returns a runc runtime working in a temporary directory, or skips (fails under
// CI=true) when runc cannot be used here.
func newRunc(t testing.TB) *Runc {
	t.Helper()
	rt, err := NewRunc(WithWorkDir(t.TempDir()), WithLayerCache(testLayerCache()))
	if err != nil {
		unavailableHere(t, "%v", err)
	}
	return rt
}

// testLayerCache is the layer cache the tests share, across runs of the tests too:
// $CONVOY_TEST_LAYER_CACHE, else <temp dir>/convoy-test-rootfs.
func testLayerCache() string {
	if d := os.Getenv("CONVOY_TEST_LAYER_CACHE"); d != "" {
		return d
	}
	return filepath.Join(os.TempDir(), "convoy-test-rootfs")
}

// prepared returns l prepared, and closes it at the end of the test.
func prepared(t testing.TB, l Launcher) Launcher {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	if err := l.Prepare(ctx); err != nil {
		t.Fatalf("Prepare: %v", err)
	}
	t.Cleanup(func() { _ = l.Close() })
	return l
}

// runcHooks checks runc's containers: after Stop no runc process, no `runc list` entry, no
// state directory, no bundle, no container process.
func runcHooks(rt *Runc) runtimeHooks {
	var mu sync.Mutex
	inits := map[string]int{} // container id -> init pid seen running
	return runtimeHooks{
		running: func(t *testing.T, p integration.Process) bool {
			rp := p.(*runcProcess)
			st, ok := rt.state(rp.id)
			if ok && st.Status == "running" {
				mu.Lock()
				inits[rp.id] = st.Pid
				mu.Unlock()
			}
			return ok && st.Status == "running" && procgroup.ProcessAlive(st.Pid)
		},
		gone: func(t *testing.T, p integration.Process) {
			t.Helper()
			rp := p.(*runcProcess)
			if procgroup.ProcessAlive(rp.PID()) {
				t.Errorf("runc run (pid %d) alive after Stop", rp.PID())
			}
			out, err := exec.Command(rt.path, "--root", rt.stateRoot, "list", "--quiet").CombinedOutput()
			if err != nil {
				t.Errorf("runc list: %v\n%s", err, out)
			}
			if slices.Contains(strings.Fields(string(out)), rp.id) {
				t.Errorf("runc list still has %s after Stop", rp.id)
			}
			if exists(rt.stateEntry(rp.id)) {
				t.Errorf("state directory %s remains after Stop", rt.stateEntry(rp.id))
			}
			if exists(rp.bundle) {
				t.Errorf("bundle %s remains after Stop", rp.bundle)
			}
			mu.Lock()
			pid := inits[rp.id]
			mu.Unlock()
			if pid > 0 && procgroup.ProcessAlive(pid) {
				t.Errorf("the container's process %d is alive after Stop", pid)
			}
		},
	}
}

func TestRunc(t *testing.T) {
	rt := newRunc(t)
	l := rt.Launcher("svc", runID(), testImage(t, baseImage(t), testUser))
	t0 := time.Now()
	prepared(t, l)
	rl := l.(*runcLauncher)
	t.Logf("Prepare: %s (unpacked %s): %s", time.Since(t0).Round(time.Millisecond), rl.Stats(), l.Describe())
	if d := l.Describe(); !strings.HasPrefix(d, "runc: svc@sha256:") || !strings.Contains(d, "(overlay of 2 layers") {
		t.Errorf("Describe() = %q", d)
	}

	testCore(t, l, runcHooks(rt))
	t.Run("host files read-only, /tmp a tmpfs, the root filesystem writable", func(t *testing.T) { testMounts(t, rt, l) })

	if err := l.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if exists(rl.rootfs) {
		t.Errorf("root filesystem %s remains after Close", rl.rootfs)
	}
	for _, dir := range []string{rt.rootfsDir, rt.upperDir, rt.bundleDir, rt.stateRoot} {
		if names := listDir(dir); len(names) > 0 {
			t.Errorf("%s has %v after every Stop and Close", dir, names)
		}
	}
	if _, err := l.Start(integration.Command{Name: "late", Argv: []string{"true"}}); err == nil {
		t.Error("Start after Close succeeded")
	}
}

// TestRuncUser: the image's user is resolved in its own /etc/passwd and /etc/group.
func TestRuncUser(t *testing.T) {
	rt := newRunc(t)
	base := baseImage(t)
	tests := []struct {
		user     string
		uid, gid int
		home     string
	}{
		{"", 0, 0, "/root"},
		{"daemon:nogroup", 1, 65534, "/usr/sbin"},
	}
	for _, tt := range tests {
		t.Run("user "+tt.user, func(t *testing.T) {
			l := prepared(t, rt.Launcher("user", runID(), testImage(t, base, tt.user)))
			h := runcHooks(rt)
			p, log := start(t, l, h, "id", nil, "python3", "-c",
				"import os; print('ID %d:%d %s' % (os.getuid(), os.getgid(), os.environ['HOME']))")
			waitDone(t, p)
			want := "ID " + strconv.Itoa(tt.uid) + ":" + strconv.Itoa(tt.gid) + " " + tt.home
			if !strings.Contains(log.String(), want) {
				t.Errorf("log %q lacks %q", log, want)
			}
			stop(t, p, h, syscall.SIGTERM, time.Second)
		})
	}
}

// TestRuncBadImage: a user the image does not have fails Prepare, with the user named.
func TestRuncBadImage(t *testing.T) {
	rt := newRunc(t)
	l := rt.Launcher("bad", runID(), testImage(t, baseImage(t), "nosuchuser"))
	err := l.Prepare(context.Background())
	if err == nil || !strings.Contains(err.Error(), `"nosuchuser"`) {
		t.Errorf("Prepare = %v, want an error naming the user", err)
	}
	if names := listDir(rt.rootfsDir); len(names) > 0 {
		t.Errorf("a failed Prepare left %v", names)
	}
}

// mountsScript prints the container's mounts of the host's files, /tmp and /, and writes a file
// into its root filesystem.
const mountsScript = `import sys
mounts = {f[1]: f for f in (line.split() for line in open("/proc/mounts"))}
for m in ("/etc/resolv.conf", "/etc/hosts", "/tmp", "/"):
    print("MOUNT", m, mounts[m][2], ",".join(o for o in mounts[m][3].split(",") if o in ("ro", "rw")))
open("/app/state/written", "w").close()
sys.stdout.write("RESOLV " + open("/etc/resolv.conf").read())
`

func testMounts(t *testing.T, rt *Runc, l Launcher) {
	h := runcHooks(rt)
	resolv, err := os.ReadFile("/etc/resolv.conf")
	if err != nil {
		t.Skipf("SKIP: the host has no /etc/resolv.conf: %v", err)
	}
	p, log := start(t, l, h, "mounts", nil, "python3", "-c", mountsScript)
	waitDone(t, p)
	if !strings.Contains(log.String(), "RESOLV "+string(resolv)) {
		t.Errorf("the container's /etc/resolv.conf is not the host's:\n%s", log)
	}
	want := map[string]string{"/": "rw", "/etc/resolv.conf": "ro", "/etc/hosts": "ro", "/tmp": "rw"}
	seen := 0
	for _, line := range strings.Split(log.String(), "\n") {
		f := strings.Fields(line)
		if len(f) != 4 || f[0] != "MOUNT" {
			continue
		}
		seen++
		if f[3] != want[f[1]] || (f[1] == "/tmp" && f[2] != "tmpfs") {
			t.Errorf("%q: want %s (and /tmp a tmpfs)", line, want[f[1]])
		}
	}
	if seen != len(want) {
		t.Errorf("%d mounts reported, want %d:\n%s", seen, len(want), log)
	}
	stop(t, p, h, syscall.SIGTERM, time.Second)
	if !exists(filepath.Join(l.(*runcLauncher).rootfs, "app", "state", "written")) {
		t.Error("a file written in the container is not in the run's root filesystem")
	}
}
