package doctor

import (
	"bytes"
	"context"
	"encoding/json"
	"net"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/registry"

	"github.com/convoy-ci/convoy/engine/dagger"
	"github.com/convoy-ci/convoy/engine/local"
	"github.com/convoy-ci/convoy/integration/pgcluster"
	"github.com/convoy-ci/convoy/pipeline/config"
)

func TestMain(m *testing.M) {
	local.RunNetnsHelper() // the network-namespace probe runs this test binary as its helper
	os.Exit(m.Run())
}

// manifest loads a one-service manifest with these defaults lines in a temporary repository.
func manifest(t *testing.T, defaults string) *config.Config {
	t.Helper()
	root := t.TempDir()
	if err := os.MkdirAll(filepath.Join(root, "services", "a"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, "services", "a", "requirements.txt"), []byte("django\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	data := "version: 1\ndefaults:\n  timeout: 5m\n" + defaults + "services:\n  - name: a\n    path: services/a\n"
	cfg, err := config.Parse([]byte(data), "services.yaml", root)
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

// find returns the result of the check named check, failing the test when there is none.
func find(t *testing.T, rs []Result, check string) Result {
	t.Helper()
	for _, r := range rs {
		if r.Check == check {
			return r
		}
	}
	t.Fatalf("no %q check in %+v", check, rs)
	return Result{}
}

// run runs every check with a temporary cache and the given options.
func run(t *testing.T, cfg *config.Config, opts ...Option) []Result {
	t.Helper()
	return Run(context.Background(), cfg, append([]Option{WithCacheDir(t.TempDir())}, opts...)...)
}

func TestPythonNotInstalled(t *testing.T) {
	rs := run(t, manifest(t, "  python: \"3.99\"\n"))
	r := find(t, rs, "python 3.99")
	if r.Status != Fail || !strings.Contains(r.Fix, "apt-get install -y python3.99") || !strings.Contains(r.Detail, "python3.99") {
		t.Errorf("python 3.99 = %+v, want a failure naming python3.99 with its apt-get install", r)
	}
	if !Failed(rs) {
		t.Error("Failed = false with a failed check")
	}
}

func TestPythonInstalled(t *testing.T) {
	r := find(t, run(t, manifest(t, "  python: \"3.11\"\n")), "python 3.11")
	if r.Status != OK || r.Fix != "" {
		t.Errorf("python 3.11 = %+v, want ok (this machine has python3.11)", r)
	}
}

func TestPostgres(t *testing.T) {
	real, err := pgcluster.FindBinDir()
	if err != nil {
		t.Skipf("no PostgreSQL here: %v", err)
	}
	cfg := manifest(t, "")
	for _, tc := range []struct {
		name   string
		path   []string
		status Status
	}{
		{"no bin dir on PATH", []string{t.TempDir()}, Fail},
		{"its bin dir on PATH", []string{t.TempDir(), real}, OK},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := find(t, run(t, cfg, WithPostgresSearch(tc.path, nil)), "postgres")
			if r.Status != tc.status {
				t.Fatalf("postgres = %+v, want %s", r, tc.status)
			}
			if tc.status == Fail && !strings.HasPrefix(r.Fix, "apt-get install -y postgresql") {
				t.Errorf("fix = %q, want the apt-get install", r.Fix)
			}
			if tc.status == OK && r.Detail != real {
				t.Errorf("detail = %q, want %s", r.Detail, real)
			}
		})
	}
	t.Run("an existing server", func(t *testing.T) {
		cfg := manifest(t, "")
		cfg.Integration.Postgres = "postgresql://localhost/x"
		if r := find(t, run(t, cfg, WithPostgresSearch([]string{t.TempDir()}, nil)), "postgres"); r.Status != OK {
			t.Errorf("postgres = %+v, want ok: integration.postgres needs no binaries", r)
		}
	})
}

// secretKeychain has credentials for every registry.
type secretKeychain struct{}

func (secretKeychain) Resolve(authn.Resource) (authn.Authenticator, error) {
	return authn.FromConfig(authn.AuthConfig{Username: "ci-bot", Password: "s3cret-password"}), nil
}

func TestRegistry(t *testing.T) {
	srv := httptest.NewServer(registry.New())
	defer srv.Close()
	reachable := strings.TrimPrefix(srv.URL, "http://") + "/team"
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := l.Addr().String() + "/team"
	l.Close() // nothing listens there any more
	for _, tc := range []struct {
		name     string
		repo     string
		keychain authn.Keychain
		status   Status
		detail   string
	}{
		{"reachable, anonymous", reachable, authn.NewMultiKeychain(), OK, "no credentials found"},
		{"reachable, credentials", reachable, secretKeychain{}, OK, "credentials found"},
		{"unreachable", closed, authn.NewMultiKeychain(), Fail, "connection refused"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var out bytes.Buffer
			cfg := manifest(t, "")
			cfg.Release.Registry = tc.repo
			failed, err := Report(context.Background(), cfg, &out, FormatText, WithCacheDir(t.TempDir()), WithKeychain(tc.keychain))
			if err != nil {
				t.Fatal(err)
			}
			rs := Run(context.Background(), cfg, WithCacheDir(t.TempDir()), WithKeychain(tc.keychain))
			r := find(t, rs, "registry "+tc.repo)
			if r.Status != tc.status || !strings.Contains(r.Detail, tc.detail) {
				t.Errorf("registry = %+v, want %s saying %q", r, tc.status, tc.detail)
			}
			if tc.status == Fail && (!failed || !strings.Contains(r.Fix, "docker login")) {
				t.Errorf("failed = %v, fix %q: want a failure with docker login", failed, r.Fix)
			}
			if strings.Contains(out.String(), "s3cret") || strings.Contains(out.String(), "ci-bot") {
				t.Errorf("the report prints credentials:\n%s", out.String())
			}
		})
	}
}

func TestBaseMissing(t *testing.T) {
	missing := "oci-layout:" + filepath.Join(t.TempDir(), "none") + ":python"
	r := find(t, run(t, manifest(t, "  base: \""+missing+"\"\n")), "base "+missing)
	if r.Status != Fail || !strings.Contains(r.Fix, "base:") {
		t.Errorf("base = %+v, want a failure saying to set base:", r)
	}
}

func TestRuntimeUnavailable(t *testing.T) {
	t.Setenv("DOCKER_HOST", "unix://"+filepath.Join(t.TempDir(), "no-daemon.sock"))
	r := find(t, run(t, manifest(t, ""), WithRuntime("docker")), "container runtime docker")
	if r.Status != Fail || !strings.Contains(r.Fix, "DOCKER_HOST") {
		t.Errorf("runtime = %+v, want a failure naming DOCKER_HOST", r)
	}
}

func TestCacheSize(t *testing.T) {
	cache := t.TempDir()
	if err := os.WriteFile(filepath.Join(cache, "blob"), make([]byte, 3*1024), 0o644); err != nil {
		t.Fatal(err)
	}
	rs := Run(context.Background(), manifest(t, ""), WithCacheDir(cache))
	if r := find(t, rs, "cache"); r.Status != OK || !strings.HasPrefix(r.Detail, "3.0 KiB in "+cache) {
		t.Errorf("cache = %+v, want 3.0 KiB in %s", r, cache)
	}
	if r := find(t, rs, "disk"); r.Status == OK && !strings.Contains(r.Detail, "free in "+cache) {
		t.Errorf("disk = %+v, want the free space of %s", r, cache)
	}
}

func TestReportJSON(t *testing.T) {
	var out bytes.Buffer
	failed, err := Report(context.Background(), manifest(t, "  python: \"3.99\"\n"), &out, FormatJSON, WithCacheDir(t.TempDir()))
	if err != nil || !failed {
		t.Fatalf("Report = %v, %v; want failed (python 3.99)", failed, err)
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	counts := map[Status]int{}
	for i, line := range lines[:len(lines)-1] {
		var c struct {
			Type   string `json:"type"`
			Check  string `json:"check"`
			Status Status `json:"status"`
			Detail string `json:"detail"`
			Fix    string `json:"fix"`
		}
		if err := json.Unmarshal([]byte(line), &c); err != nil || c.Type != "check" || c.Check == "" || c.Detail == "" {
			t.Fatalf("line %d = %s (%v), want a check with a name and a detail", i+1, line, err)
		}
		if (c.Status == OK) != (c.Fix == "") {
			t.Errorf("line %d = %s: a fix exactly when not ok", i+1, line)
		}
		counts[c.Status]++
	}
	var s Summary
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &s); err != nil || s.Type != "summary" {
		t.Fatalf("last line = %s (%v), want the summary", lines[len(lines)-1], err)
	}
	if s.OK != counts[OK] || s.Warn != counts[Warn] || s.Fail != counts[Fail] || s.Fail == 0 {
		t.Errorf("summary %+v, counted %v", s, counts)
	}
}

// TestPythonOfTheSuite checks the integration suite's Python (defaults.python) even when every
// service names another.
func TestPythonOfTheSuite(t *testing.T) {
	cfg := manifest(t, "  python: \"3.99\"\n")
	cfg.Services[0].Python = "3.11"
	if rs := run(t, cfg); len(named(rs, "python 3.99")) != 0 {
		t.Errorf("without integration, python 3.99 is checked: %+v", rs)
	}
	cfg.Integration.Requirements = "services/a/requirements.txt"
	if r := find(t, run(t, cfg), "python 3.99"); r.Status != Fail {
		t.Errorf("python 3.99 of the suite = %+v, want fail", r)
	}
}

// named returns the results of the check named name.
func named(rs []Result, name string) []Result {
	var out []Result
	for _, r := range rs {
		if r.Check == name {
			out = append(out, r)
		}
	}
	return out
}

func TestDaggerEngine(t *testing.T) {
	t.Setenv(dagger.EnvSessionPort, "")
	t.Setenv(dagger.EnvRunnerHost, "")
	t.Setenv(dagger.EnvDockerHost, "unix://"+filepath.Join(t.TempDir(), "no-daemon.sock"))
	cfg := manifest(t, "")
	if rs := run(t, cfg); len(named(rs, "engine dagger")) != 0 {
		t.Errorf("the local engine checks for a Dagger engine: %+v", rs)
	}
	r := find(t, run(t, cfg, WithEngine(dagger.Name)), "engine dagger")
	if r.Status != Fail || strings.Contains(r.Detail, "\n") || !strings.Contains(r.Fix, "--engine local") {
		t.Errorf("engine dagger = %+v, want a one-line failure with the fix", r)
	}
}
