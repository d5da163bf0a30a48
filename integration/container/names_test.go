package container

import (
	"slices"
	"strings"
	"testing"

	"github.com/convoy-ci/convoy/integration"
)

func TestContainerID(t *testing.T) {
	tests := []struct{ runID, service, name, want string }{
		{"20240501t120000_ab12cd", "auth", "migrate", "convoy-20240501t120000_ab12cd-auth-migrate"},
		{"run 1", "my/svc", "serve:2", "convoy-run-1-my-svc-serve-2"},
		{"r", "Ünïcode", "x", "convoy-r--n-code-x"},
	}
	for _, tt := range tests {
		if got := containerID(tt.runID, tt.service, tt.name); got != tt.want {
			t.Errorf("containerID(%q, %q, %q) = %q, want %q", tt.runID, tt.service, tt.name, got, tt.want)
		}
	}
	var c ids
	got := []string{c.next("r", "s", "serve"), c.next("r", "s", "migrate"), c.next("r", "s", "serve"), c.next("r", "s", "serve")}
	want := []string{"convoy-r-s-serve", "convoy-r-s-migrate", "convoy-r-s-serve-2", "convoy-r-s-serve-3"}
	if !slices.Equal(got, want) {
		t.Errorf("ids = %v, want %v", got, want)
	}
}

func TestMergeEnv(t *testing.T) {
	got := mergeEnv([]string{"PATH=/img", "A=1", "B=2"}, []string{"B=3", "C=4", "A=5"}, nil)
	want := []string{"PATH=/img", "A=5", "B=3", "C=4"}
	if !slices.Equal(got, want) {
		t.Errorf("mergeEnv = %v, want %v", got, want)
	}
}

func TestImageTag(t *testing.T) {
	tests := []struct{ service, runID, want string }{
		{"auth", "20240501t120000_ab12cd", "convoy-integration/auth:20240501t120000_ab12cd"},
		{"Payments", "run/1", "convoy-integration/payments:run-1"},
		{"_x_", ".hidden", "convoy-integration/x:hidden"},
		{"s", strings.Repeat("a", 200), "convoy-integration/s:" + strings.Repeat("a", 128)},
	}
	for _, tt := range tests {
		if got := imageTag(tt.service, tt.runID); got != tt.want {
			t.Errorf("imageTag(%q, %q) = %q, want %q", tt.service, tt.runID, got, tt.want)
		}
	}
}

// TestRunArgs: the command's variables reach docker run by name, their values through the CLI's
// environment, except those the CLI itself reads.
func TestRunArgs(t *testing.T) {
	cmd := integration.Command{
		Argv: []string{"python", "-m", "gunicorn"},
		Env:  []string{"DATABASE_URL=postgres://u:secret@127.0.0.1/db", "PORT=8000", "PATH=/venv/bin:/usr/bin", "PORT=8001"},
	}
	args, env := runArgs("convoy-r-s-serve", "convoy-integration/s:r", cmd)
	want := []string{"run", "--rm", "--name", "convoy-r-s-serve", "--network", "host", "--pull", "never",
		"-e", "DATABASE_URL", "-e", "PORT", "-e", "PATH=/venv/bin:/usr/bin", "convoy-integration/s:r", "python", "-m", "gunicorn"}
	if !slices.Equal(args, want) {
		t.Errorf("args = %q\nwant   %q", args, want)
	}
	if wantEnv := []string{"DATABASE_URL=postgres://u:secret@127.0.0.1/db", "PORT=8001"}; !slices.Equal(env, wantEnv) {
		t.Errorf("env = %q, want %q", env, wantEnv)
	}
}
