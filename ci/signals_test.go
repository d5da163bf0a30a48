package main

import (
	"bytes"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/registry"
)

// stopBound is how long convoy may take to exit after a signal: "promptly", with room for a
// loaded machine: a stage's group gets SIGTERM, then SIGKILL after local.DefaultGrace (5 s);
// a container's after integration.InterruptGrace.
const stopBound = 10 * time.Second

// hangingServer serves handler, except for requests hang selects, which it holds until the
// client goes away; reached is closed at the first such request.
func hangingServer(t *testing.T, handler http.Handler, hang func(*http.Request) bool) (srv *httptest.Server, reached <-chan struct{}) {
	t.Helper()
	ch := make(chan struct{})
	var once sync.Once
	srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if hang(r) {
			once.Do(func() { close(ch) })
			<-r.Context().Done()
			return
		}
		handler.ServeHTTP(w, r)
	}))
	t.Cleanup(func() { srv.CloseClientConnections(); srv.Close() })
	return srv, ch
}

// interruptWhen starts convoy with args (and env) on root, waits until reached is closed, sends
// sig and checks that convoy exits with code within stopBound and that every process it had
// started has gone.
func interruptWhen(t *testing.T, root string, env []string, reached <-chan struct{}, sig syscall.Signal, code int, args ...string) {
	t.Helper()
	cmd := exec.Command(convoyBin, append(args, "-C", root, "--cache-dir", sharedCache)...)
	cmd.Env = append(os.Environ(), env...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	select {
	case <-reached:
	case err := <-exited:
		t.Fatalf("convoy exited (%v) before the moment to signal it\n%s", err, out.String())
	case <-time.After(5 * time.Minute):
		_ = cmd.Process.Kill()
		t.Fatalf("convoy never reached the moment to signal it\n%s", out.String())
	}
	procs := descendants(t, cmd.Process.Pid)
	if err := cmd.Process.Signal(sig); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	var err error
	select {
	case err = <-exited:
		t.Logf("%s: stopped %d processes and exited in %s", sig, len(procs), time.Since(start).Round(time.Millisecond))
	case <-time.After(stopBound):
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		_ = cmd.Process.Kill()
		<-exited
		t.Fatalf("convoy did not stop within %s of %s\n%s", stopBound, sig, out.String())
	}
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != code {
		t.Errorf("convoy exit = %v, want %d\n%s", err, code, out.String())
	}
	for _, p := range procs {
		waitGone(t, p)
	}
	if left := processesIn(t, root); len(left) > 0 {
		t.Errorf("processes %v still run in the repository's directories", left)
	}
	if m := mountsUnder(t, root); len(m) > 0 {
		t.Errorf("mounts remain: %v", m)
	}
	assertNoFiles(t, filepath.Join(root, ".convoy", "run"))
}

// TestSignalStopsPromptly: SIGINT or SIGTERM stops convoy promptly, with exit code 130 or 143
// and nothing it started left running, whatever it is doing: installing dependencies from an
// index that never answers, resolving a base image (before any stage) from a registry that
// never answers, checking a release's registry that never answers, pushing an image to a
// registry that never takes its blobs, starting integration (a migrate that never ends).
func TestSignalStopsPromptly(t *testing.T) {
	sigs := []struct {
		sig  syscall.Signal
		code int
	}{{syscall.SIGINT, exitInterrupted}, {syscall.SIGTERM, exitTerminated}}
	quiet := registry.New(registry.Logger(log.New(io.Discard, "", 0)))
	t.Run("deps install", func(t *testing.T) {
		for _, s := range sigs {
			srv, reached := hangingServer(t, http.NotFoundHandler(), func(*http.Request) bool { return true })
			files := pyServices("", map[string]map[string]string{"a": {}})
			// A spec of its own: a new virtualenv whose install asks the index.
			files["svc/a/requirements.txt"] = fmt.Sprintf("convoy-signal-probe-%d==1.0\n", time.Now().UnixNano())
			root := writeRepo(t, files)
			interruptWhen(t, root, []string{"PIP_INDEX_URL=" + srv.URL + "/simple"}, reached, s.sig, s.code, "gate")
		}
	})
	t.Run("resolving the base image", func(t *testing.T) {
		for _, s := range sigs {
			srv, reached := hangingServer(t, quiet, func(*http.Request) bool { return true })
			base := strings.TrimPrefix(srv.URL, "http://") + "/library/python:3.11"
			root := writeRepo(t, pyServices("  base: "+base+"\n", map[string]map[string]string{"a": {}}))
			gitRepo(t, root)
			interruptWhen(t, root, nil, reached, s.sig, s.code, "build")
		}
	})
	t.Run("release registry check", func(t *testing.T) {
		for _, s := range sigs {
			srv, reached := hangingServer(t, quiet, func(*http.Request) bool { return true })
			root, _ := releaseRepo(t)
			gitIn(t, root, "tag", "v1.0.0")
			reg := strings.TrimPrefix(srv.URL, "http://") + "/convoy"
			interruptWhen(t, root, nil, reached, s.sig, s.code, "release", "--tag", "v1.0.0", "--registry", reg, "--insecure")
		}
	})
	t.Run("image push", func(t *testing.T) {
		needBase(t)
		for _, s := range sigs {
			srv, reached := hangingServer(t, quiet, func(r *http.Request) bool {
				return strings.Contains(r.URL.Path, "/blobs/uploads/")
			})
			root := imageRepo(t, "pass", "")
			reg := strings.TrimPrefix(srv.URL, "http://") + "/convoy"
			interruptWhen(t, root, nil, reached, s.sig, s.code, "build", "--no-cache", "--push", reg, "--insecure")
		}
	})
	t.Run("integration start-up", func(t *testing.T) {
		if testing.Short() {
			t.Skip("builds an image and starts it in runc and PostgreSQL; skipped with -short")
		}
		needBase(t)
		for _, s := range sigs {
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			reached := make(chan struct{})
			go func() {
				c, err := ln.Accept()
				if err == nil {
					close(reached)
					defer c.Close()
					_, _ = io.Copy(io.Discard, c)
				}
			}()
			t.Cleanup(func() { ln.Close() })
			root := imageRepo(t, "pass", "")
			// Integration's migrate (on PostgreSQL, not the populate gate's on SQLite) reaches
			// the test and waits forever.
			writeFiles(t, root, map[string]string{"svc/web/manage.py": fmt.Sprintf(`import os, socket, sys
if sys.argv[1:2] == ["migrate"] and os.environ.get("DATABASE_URL", "").startswith("postgres"):
    s = socket.create_connection(("127.0.0.1", %d))
    s.recv(1)
print("manage.py", *sys.argv[1:])
`, ln.Addr().(*net.TCPAddr).Port)})
			gitCommitAll(t, root)
			interruptWhen(t, root, []string{"CONVOY_RUNTIME="}, reached, s.sig, s.code, "integration", "--runtime", "runc")
		}
	})
}
