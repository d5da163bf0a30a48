package container

import (
	"errors"
	"net"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestNewUnavailable: what New says when the runtime asked for cannot be used, with the real
// runc and docker CLIs pointed at what is not there.
func TestNewUnavailable(t *testing.T) {
	dir := t.TempDir()
	noSocket := "unix://" + filepath.Join(dir, "no-docker.sock")
	noRunc := WithRuncPath(filepath.Join(dir, "runc"))
	tests := []struct {
		name string
		kind string
		opts []Option
		want []string
	}{
		{"runc missing", KindRunc, []Option{noRunc}, []string{"apt-get install runc"}},
		{"auto without DOCKER_HOST, runc missing", KindAuto, []Option{noRunc}, []string{"apt-get install runc", "DOCKER_HOST"}},
		{"docker CLI missing", KindDocker, []Option{WithDockerPath(filepath.Join(dir, "docker")), WithDockerHost(noSocket)},
			[]string{"apt-get install docker.io"}},
		{"no daemon at DOCKER_HOST", KindDocker, []Option{WithDockerHost(noSocket)}, []string{"DOCKER_HOST=" + noSocket, "dockerd"}},
		{"auto with DOCKER_HOST, no daemon", KindAuto, []Option{WithDockerHost(noSocket)}, []string{"DOCKER_HOST=" + noSocket}},
	}
	// A daemon that accepts connections and never answers.
	hang := filepath.Join(dir, "hang.sock")
	ln, err := net.Listen("unix", hang)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		var conns []net.Conn
		defer func() {
			for _, c := range conns {
				c.Close()
			}
		}()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			conns = append(conns, c)
		}
	}()
	tests = append(tests, struct {
		name string
		kind string
		opts []Option
		want []string
	}{"a daemon that does not answer", KindDocker, []Option{WithDockerHost("unix://" + hang)}, []string{"no answer in 3s"}})
	t.Setenv("DOCKER_HOST", "")
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t0 := time.Now()
			rt, err := New(tt.kind, append(tt.opts, WithWorkDir(dir), WithProbeTimeout(3*time.Second))...)
			if !errors.Is(err, ErrUnavailable) {
				t.Fatalf("New(%q) = %v, %v; want ErrUnavailable", tt.kind, rt, err)
			}
			t.Logf("%s", err)
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not say %q", err, w)
				}
			}
			if took := time.Since(t0); took > 10*time.Second {
				t.Errorf("New took %s to fail", took)
			}
		})
	}
	if _, err := New("containerd"); err == nil || errors.Is(err, ErrUnavailable) || !strings.Contains(err.Error(), "runc") {
		t.Errorf(`New("containerd") = %v, want an unknown-kind error listing the kinds`, err)
	}
}

// TestNewAuto: without DOCKER_HOST, auto is runc.
func TestNewAuto(t *testing.T) {
	t.Setenv("DOCKER_HOST", "")
	newRunc(t) // skips where runc cannot be used
	rt, err := New(KindAuto, WithWorkDir(t.TempDir()))
	if err != nil || rt.Kind() != KindRunc {
		t.Fatalf("New(auto) = %v, %v; want runc", rt, err)
	}
}
