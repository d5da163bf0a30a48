package dagger

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// shortDir returns a directory with a path short enough for unix sockets.
func shortDir(t *testing.T) string {
	t.Helper()
	d, err := os.MkdirTemp("", "cvd")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(d) })
	return d
}

// listener returns the address of a loopback TCP listener that accepts and holds connections.
func listener(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			t.Cleanup(func() { c.Close() })
		}
	}()
	return l.Addr().String()
}

// closedPort returns a loopback address nothing listens on.
func closedPort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}

// fakeDocker serves GET /_ping on a unix socket, as a Docker daemon does.
func fakeDocker(t *testing.T) string {
	t.Helper()
	sock := filepath.Join(shortDir(t), "d.sock")
	l, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/_ping" {
			w.Write([]byte("OK"))
			return
		}
		http.NotFound(w, r)
	}))
	srv.Listener = l
	srv.Start()
	t.Cleanup(srv.Close)
	return "unix://" + sock
}

// silentSocket accepts connections on a unix socket and never answers.
func silentSocket(t *testing.T) string {
	t.Helper()
	sock := filepath.Join(shortDir(t), "s.sock")
	l, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	t.Cleanup(func() { close(done); l.Close() })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go func() { <-done; c.Close() }()
		}
	}()
	return "unix://" + sock
}

// binDir returns a PATH directory holding executables called names.
func binDir(t *testing.T, names ...string) string {
	t.Helper()
	d := t.TempDir()
	for _, n := range names {
		if err := os.WriteFile(filepath.Join(d, n), []byte("#!/bin/sh\nexit 0\n"), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return d
}

func envOf(kv map[string]string) Option {
	return WithHostEnv(func(k string) (string, bool) { v, ok := kv[k]; return v, ok })
}

// options names every way to provide an engine: each unreachable error must say them all.
var engineOptions = []string{"dagger run", EnvSessionPort, envSessionToken, EnvRunnerHost, EnvDockerHost, "docs/dagger.md"}

func TestReachable(t *testing.T) {
	open, closed := listener(t), closedPort(t)
	_, openPort, _ := net.SplitHostPort(open)
	_, closedP, _ := net.SplitHostPort(closed)
	docker := fakeDocker(t)
	withDocker, empty := binDir(t, "docker"), t.TempDir()
	for _, tc := range []struct {
		name string
		env  map[string]string
		how  string // on success
		err  string // on failure
	}{
		{name: "session", env: map[string]string{EnvSessionPort: openPort, envSessionToken: "tok"}, how: "existing session on " + open},
		{name: "session port not a number", env: map[string]string{EnvSessionPort: "abc", envSessionToken: "tok"}, err: `DAGGER_SESSION_PORT="abc" is not a port number`},
		{name: "session without token", env: map[string]string{EnvSessionPort: openPort}, err: "DAGGER_SESSION_PORT=" + openPort + " is set but DAGGER_SESSION_TOKEN is empty"},
		{name: "session gone", env: map[string]string{EnvSessionPort: closedP, envSessionToken: "tok"}, err: "nothing answers on " + closed},
		{name: "runner tcp", env: map[string]string{EnvRunnerHost: "tcp://" + open, "PATH": empty}, how: "runner tcp://" + open},
		{name: "runner tcp gone", env: map[string]string{EnvRunnerHost: "tcp://" + closed, "PATH": empty}, err: "nothing answers at _EXPERIMENTAL_DAGGER_RUNNER_HOST=tcp://" + closed},
		{name: "runner not a URL", env: map[string]string{EnvRunnerHost: "dagger-engine", "PATH": empty}, err: `_EXPERIMENTAL_DAGGER_RUNNER_HOST="dagger-engine" is not a URL`},
		{name: "runner kube-pod without kubectl", env: map[string]string{EnvRunnerHost: "kube-pod://dagger-0?namespace=ci", "PATH": empty}, err: "needs kubectl on PATH"},
		{name: "runner kube-pod", env: map[string]string{EnvRunnerHost: "kube-pod://dagger-0", "PATH": binDir(t, "kubectl")}, how: "runner kube-pod://dagger-0"},
		{name: "runner docker-container without docker", env: map[string]string{EnvRunnerHost: "docker-container://dagger", EnvDockerHost: "unix://" + filepath.Join(shortDir(t), "none.sock"), "PATH": withDocker}, err: "docker-container://dagger needs Docker: no Docker daemon answers"},
		{name: "docker", env: map[string]string{EnvDockerHost: docker, "PATH": withDocker}, how: "engine provisioned by the Dagger SDK on the Docker daemon at " + docker},
		{name: "no docker daemon", env: map[string]string{EnvDockerHost: "unix://" + filepath.Join(shortDir(t), "none.sock"), "PATH": withDocker}, err: "no Docker daemon answers at unix://"},
		{name: "no docker daemon on tcp", env: map[string]string{EnvDockerHost: "tcp://" + closed, "PATH": withDocker}, err: "no Docker daemon answers at tcp://" + closed},
		{name: "docker daemon but no CLI", env: map[string]string{EnvDockerHost: docker, "PATH": empty}, err: "the docker CLI is not on PATH"},
		{name: "docker over ssh", env: map[string]string{EnvDockerHost: "ssh://me@host"}, err: "only unix:// and tcp:// daemons can be checked"},
		{name: "CLI named but missing", env: map[string]string{envCLIBin: "/nonexistent/dagger", EnvDockerHost: docker, "PATH": withDocker}, err: `_EXPERIMENTAL_DAGGER_CLI_BIN="/nonexistent/dagger" is not an executable`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			how, err := Reachable(context.Background(), envOf(tc.env))
			if tc.err == "" {
				if err != nil {
					t.Fatalf("Reachable: %v", err)
				}
				if how != tc.how {
					t.Errorf("Reachable = %q, want %q", how, tc.how)
				}
				return
			}
			var ue *UnreachableError
			if !errors.As(err, &ue) {
				t.Fatalf("Reachable = %q, %v; want an *UnreachableError", how, err)
			}
			msg := err.Error()
			if !strings.Contains(msg, tc.err) {
				t.Errorf("error %q does not say %q", msg, tc.err)
			}
			for _, o := range engineOptions {
				if !strings.Contains(msg, o) {
					t.Errorf("error does not name %q:\n%s", o, msg)
				}
			}
		})
	}
}

// TestReachableBounded: a daemon that accepts but never answers cannot hold Connect up past the
// preflight timeout, and the error says so.
func TestReachableBounded(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute) // a guard, not the bound
	defer cancel()
	env := envOf(map[string]string{EnvDockerHost: silentSocket(t), "PATH": binDir(t, "docker")})
	_, err := Connect(ctx, env, WithPreflightTimeout(200*time.Millisecond))
	var ue *UnreachableError
	if !errors.As(err, &ue) {
		t.Fatalf("Connect: %v; want an *UnreachableError", err)
	}
	if ctx.Err() != nil {
		t.Fatal("Connect outlived its guard: the preflight timeout did not bound it")
	}
	for _, want := range append([]string{"no Docker daemon answers at unix://", "no answer within 200ms"}, engineOptions...) {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error does not say %q:\n%v", want, err)
		}
	}
}

func TestConnectUnreachable(t *testing.T) {
	var notices []string
	_, err := Connect(context.Background(),
		envOf(map[string]string{EnvDockerHost: "unix://" + filepath.Join(shortDir(t), "none.sock"), "PATH": t.TempDir(), "HOME": t.TempDir()}),
		WithNotify(func(s string) { notices = append(notices, s) }))
	var ue *UnreachableError
	if !errors.As(err, &ue) {
		t.Fatalf("Connect: %v; want an *UnreachableError", err)
	}
	if len(notices) != 1 || !strings.Contains(notices[0], envCLIBin) {
		t.Errorf("notices = %q, want one saying the SDK downloads its CLI unless %s is set", notices, envCLIBin)
	}
}
