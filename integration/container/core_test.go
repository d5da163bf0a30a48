package container

import (
	"encoding/json"
	"io"
	"net/http"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/convoy-ci/convoy/integration"
	"github.com/convoy-ci/convoy/integration/internal/freeport"
	"github.com/convoy-ci/convoy/internal/procgroup"
)

// runtimeHooks tell the core tests what they cannot see through the Launcher.
type runtimeHooks struct {
	// gone fails the test if anything of p remains after Stop (process, container, bundle).
	gone func(t *testing.T, p integration.Process)
	// running reports whether p's container is running.
	running func(t *testing.T, p integration.Process) bool
}

// testUser is the user testImage runs as in the core tests.
const (
	testUID  = 4321
	testGID  = 4322
	testUser = "4321:4322"
)

// testCore runs the tests every runtime must pass, with l (a Launcher of testImage(testUser)).
func testCore(t *testing.T, l Launcher, h runtimeHooks) {
	t.Run("exit code and output reach the log", func(t *testing.T) { testExit(t, l, h) })
	t.Run("the image's environment, directory and user", func(t *testing.T) { testProbe(t, l, h) })
	t.Run("a server on the host's network, stopped by SIGTERM", func(t *testing.T) { testServe(t, l, h) })
	t.Run("SIGTERM ignored: killed after the grace period", func(t *testing.T) { testStubborn(t, l, h) })
	t.Run("runtime process killed: Stop still removes the container", func(t *testing.T) { testOrphan(t, l, h) })
}

// start starts argv with env, and stops it at the end of the test.
func start(t *testing.T, l Launcher, h runtimeHooks, name string, env []string, argv ...string) (integration.Process, *logBuf) {
	t.Helper()
	log := newLog()
	p, err := l.Start(integration.Command{Name: name, Argv: argv, Env: env, Log: log})
	if err != nil {
		t.Fatalf("Start(%q): %v", argv, err)
	}
	t.Cleanup(func() {
		if err := p.Stop(syscall.SIGKILL, 0); err != nil {
			t.Errorf("Stop at cleanup: %v", err)
		}
		if t.Failed() {
			t.Logf("log of %q:\n%s", argv, log)
		}
	})
	return p, log
}

// waitDone waits for p to exit, a minute at most.
func waitDone(t *testing.T, p integration.Process) {
	t.Helper()
	select {
	case <-p.Done():
	case <-time.After(time.Minute):
		t.Fatalf("pid %d still running after a minute", p.PID())
	}
}

// stop stops p and checks that nothing of it remains.
func stop(t *testing.T, p integration.Process, h runtimeHooks, sig syscall.Signal, grace time.Duration) time.Duration {
	t.Helper()
	t0 := time.Now()
	if err := p.Stop(sig, grace); err != nil {
		t.Fatalf("Stop: %v", err)
	}
	took := time.Since(t0)
	h.gone(t, p)
	if err := p.Stop(sig, grace); err != nil {
		t.Errorf("second Stop: %v", err)
	}
	return took
}

func testExit(t *testing.T, l Launcher, h runtimeHooks) {
	tests := []struct {
		name string
		argv []string
		code int // -2: any non-zero
		want []string
	}{
		{"exit 0", []string{"python3", "-c", "print('all fine')"}, 0, []string{"all fine"}},
		{"exit 7, both streams", []string{"python3", "-c",
			"import sys; print('to stdout'); print('to stderr', file=sys.stderr); sys.exit(7)"}, 7,
			[]string{"to stdout", "to stderr"}},
		{"a program the image lacks", []string{"no-such-program"}, -2, []string{"no-such-program"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, log := start(t, l, h, "exit", nil, tt.argv...)
			waitDone(t, p)
			code := p.ExitCode()
			if (tt.code == -2 && code <= 0) || (tt.code != -2 && code != tt.code) {
				t.Errorf("ExitCode() = %d, want %d (-2: non-zero); log:\n%s", code, tt.code, log)
			}
			if (code == 0) != (p.Err() == nil) {
				t.Errorf("Err() = %v with exit code %d", p.Err(), code)
			}
			for _, w := range tt.want {
				if !strings.Contains(log.String(), w) {
					t.Errorf("log lacks %q:\n%s", w, log)
				}
			}
			stop(t, p, h, syscall.SIGTERM, time.Second)
		})
	}
}

func testProbe(t *testing.T, l Launcher, h runtimeHooks) {
	p, log := start(t, l, h, "probe", []string{"OVERRIDDEN=command", "ADDED=command"}, "python3", "/app/probe.py")
	waitDone(t, p)
	if p.ExitCode() != 0 {
		t.Fatalf("probe exited %d: %v", p.ExitCode(), p.Err())
	}
	_, js, ok := strings.Cut(log.String(), "PROBE ")
	var got struct {
		UID, GID int
		Groups   []int
		Cwd      string
		Env      map[string]string
	}
	if !ok || json.Unmarshal([]byte(strings.TrimSpace(js)), &got) != nil {
		t.Fatalf("no probe output in the log:\n%s", log)
	}
	if got.UID != testUID || got.GID != testGID {
		t.Errorf("uid:gid = %d:%d, want the image's %s", got.UID, got.GID, testUser)
	}
	if got.Cwd != "/app" {
		t.Errorf("cwd = %q, want the image's /app", got.Cwd)
	}
	for k, want := range map[string]string{"IMAGE_ONLY": "image", "OVERRIDDEN": "command", "ADDED": "command",
		"LANG": "C.UTF-8"} {
		if got.Env[k] != want {
			t.Errorf("$%s = %q, want %q", k, got.Env[k], want)
		}
	}
	if !strings.HasPrefix(got.Env["PATH"], "/usr/local/sbin:") {
		t.Errorf("$PATH = %q, want the image's", got.Env["PATH"])
	}
	stop(t, p, h, syscall.SIGTERM, time.Second)
}

func testServe(t *testing.T, l Launcher, h runtimeHooks) {
	port, err := freeport.Pick()
	if err != nil {
		t.Fatal(err)
	}
	p, log := start(t, l, h, "serve", []string{"PORT=" + strconv.Itoa(port)}, "python3", "/app/serve.py")
	log.waitFor(t, "listening", p.Done())
	resp, err := http.Get("http://127.0.0.1:" + strconv.Itoa(port) + "/")
	if err != nil {
		t.Fatalf("GET from the host: %v", err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || string(body) != "hello from the container" {
		t.Errorf("GET = %s %q", resp.Status, body)
	}
	grace := 30 * time.Second
	if took := stop(t, p, h, syscall.SIGTERM, grace); took >= grace {
		t.Errorf("Stop took %s: SIGTERM did not reach the server", took)
	}
	if p.ExitCode() != 0 || !strings.Contains(log.String(), "stopping on SIGTERM") {
		t.Errorf("after SIGTERM: exit code %d, log:\n%s", p.ExitCode(), log)
	}
}

func testStubborn(t *testing.T, l Launcher, h runtimeHooks) {
	p, log := start(t, l, h, "stubborn", nil, "python3", "/app/stubborn.py")
	log.waitFor(t, "ready\n", p.Done())
	grace := 500 * time.Millisecond
	if took := stop(t, p, h, syscall.SIGTERM, grace); took < grace {
		t.Errorf("Stop took %s, less than the grace period %s", took, grace)
	}
	if p.ExitCode() == 0 {
		t.Errorf("exit code 0 after SIGKILL")
	}
}

func testOrphan(t *testing.T, l Launcher, h runtimeHooks) {
	p, log := start(t, l, h, "orphan", nil, "python3", "/app/stubborn.py")
	log.waitFor(t, "ready\n", p.Done())
	if err := syscall.Kill(p.PID(), syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	waitDone(t, p)
	if procgroup.ProcessAlive(p.PID()) {
		t.Fatalf("pid %d alive after SIGKILL", p.PID())
	}
	if !h.running(t, p) {
		t.Fatal("the container stopped with its runtime process: this test needs it to outlive it")
	}
	grace := 500 * time.Millisecond
	if took := stop(t, p, h, syscall.SIGTERM, grace); took < grace {
		t.Errorf("Stop took %s: the container, which ignores SIGTERM, was gone before the grace period ended", took)
	}
}
