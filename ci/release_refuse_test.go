package main

import (
	"context"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/convoy-ci/convoy/release"
)

// releaseRepo is a committed repository of two services with a release tag pattern, and a
// registry (go-containerregistry's in-memory one) as HOST/NAMESPACE.
func releaseRepo(t *testing.T) (root, reg string) {
	t.Helper()
	// A base image layout of the repository's own (its index only: nothing here builds).
	files := pyServices("  base: \"oci-layout:base:python\"\n", map[string]map[string]string{"alpha": {}, "beta": {}})
	files["base/oci-layout"] = `{"imageLayoutVersion": "1.0.0"}`
	files["base/index.json"] = `{"schemaVersion": 2, "manifests": [{"mediaType": "application/vnd.oci.image.manifest.v1+json", ` +
		`"digest": "sha256:` + strings.Repeat("ab", 32) + `", "size": 1, "annotations": {"org.opencontainers.image.ref.name": "python"}}]}`
	files["services.yaml"] += "release:\n  tag_pattern: '^v[0-9]+\\.[0-9]+\\.[0-9]+$'\n" +
		"integration:\n  requirements: tests/requirements.txt\n  command: [python, -c, pass]\n"
	files["tests/requirements.txt"] = ""
	root = writeRepo(t, files)
	gitRepo(t, root)
	srv := httptest.NewServer(registry.New(registry.Logger(log.New(io.Discard, "", 0))))
	t.Cleanup(srv.Close)
	return root, strings.TrimPrefix(srv.URL, "http://") + "/convoy"
}

func gitIn(t *testing.T, root string, args ...string) string {
	t.Helper()
	cmd := exec.Command("git", append([]string{"-C", root}, args...)...)
	cmd.Env = gitEnv()
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("git %v: %v %s", args, err, out)
	}
	return strings.TrimSpace(string(out))
}

// TestReleaseRefusesBeforeWork: every precondition is checked before the first stage, so a
// refused release prints why, exits 2, runs no stage and leaves the repository byte-identical
// (no .convoy/ either).
func TestReleaseRefusesBeforeWork(t *testing.T) {
	notRegistry := httptest.NewServer(http.NotFoundHandler())
	defer notRegistry.Close()
	tests := []struct {
		name     string
		setup    func(t *testing.T, root string)
		tag, reg string // reg "" = the test registry
		want     string
		args     []string
	}{
		{"tag not matching the pattern", nil, "foo", "", `tag "foo" does not match`, nil},
		{"tag with a shell substitution", nil, "v1.0.0;$(id)", "", "not a valid", nil},
		{"registry with a space", nil, "v1.0.0", "bad host/ns", `registry "bad host/ns" is not HOST/NAMESPACE`, nil},
		{"registry that is not one", nil, "v1.0.0", strings.TrimPrefix(notRegistry.URL, "http://") + "/ns", "is not reachable", nil},
		{"tag already on another commit", func(t *testing.T, root string) {
			gitIn(t, root, "tag", "v1.0.0")
			gitIn(t, root, "commit", "-q", "--allow-empty", "-m", "later")
		}, "v1.0.0", "", "already designates commit", nil},
		{"dirty worktree", func(t *testing.T, root string) {
			writeFiles(t, root, map[string]string{"svc/alpha/notes.txt": "x"})
		}, "v1.0.0", "", "svc/alpha/notes.txt", nil},
		// The Dagger engine provides the environments it gated; none is reachable here.
		{"dagger engine unreachable", nil, "v1.0.0", "", "no Dagger engine reachable",
			[]string{"--engine", "dagger"}},
		{"no integration block", func(t *testing.T, root string) {
			manifest := filepath.Join(root, "services.yaml")
			data, err := os.ReadFile(manifest)
			if err != nil {
				t.Fatal(err)
			}
			before, _, _ := strings.Cut(string(data), "integration:")
			writeFiles(t, root, map[string]string{"services.yaml": before})
			gitIn(t, root, "commit", "-q", "-am", "no integration")
		}, "v1.0.0", "", "services.yaml:1:1: no integration: block", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root, reg := releaseRepo(t)
			if tt.setup != nil {
				tt.setup(t, root)
			}
			if tt.reg != "" {
				reg = tt.reg
			}
			head, status := gitIn(t, root, "rev-parse", "HEAD"), gitIn(t, root, "status", "--porcelain", "--ignored")
			args := append([]string{"release", "--tag", tt.tag, "--registry", reg, "--output", "json"}, tt.args...)
			res := convoy(t, root, []string{"CI=true", "_EXPERIMENTAL_DAGGER_RUNNER_HOST=unix://" + filepath.Join(t.TempDir(), "no-engine.sock")}, args...)
			if res.code != 2 || !strings.Contains(res.stderr, tt.want) {
				t.Errorf("exit %d, want 2 with %q on stderr:\n%s", res.code, tt.want, res.stderr)
			}
			if len(res.events) > 0 || res.sum != nil {
				t.Errorf("a refused release ran the pipeline: %d events\n%s", len(res.events), res.stdout)
			}
			if got := gitIn(t, root, "status", "--porcelain", "--ignored"); got != status {
				t.Errorf("a refused release changed the repository: git status --ignored %q, was %q", got, status)
			}
			if got := gitIn(t, root, "rev-parse", "HEAD"); got != head {
				t.Errorf("HEAD moved from %s to %s", head, got)
			}
		})
	}
}

// TestReleaseFinishedRerunRunsNoGate: re-running a complete release (tag and manifest at HEAD,
// every image tagged) says "nothing to do" without running a stage or creating .convoy/.
func TestReleaseFinishedRerunRunsNoGate(t *testing.T) {
	root, reg := releaseRepo(t)
	m := release.Manifest{Version: release.ManifestVersion, Tag: "v1.0.0", Commit: gitIn(t, root, "rev-parse", "HEAD"),
		Created: "2026-01-01T00:00:00Z"}
	for _, svc := range []string{"alpha", "beta"} {
		img, err := random.Image(256, 1)
		if err != nil {
			t.Fatal(err)
		}
		ref, err := name.NewTag(reg + "/" + svc + ":v1.0.0")
		if err != nil {
			t.Fatal(err)
		}
		if err := remote.Write(ref, img, remote.WithContext(context.Background())); err != nil {
			t.Fatal(err)
		}
		d, _ := img.Digest()
		m.Services = append(m.Services, release.ManifestService{Name: svc, Image: reg + "/" + svc + "@" + d.String(),
			Digest: d.String(), Lockfile: "svc/" + svc + "/requirements.lock", Action: release.ActionBuilt})
	}
	writeFiles(t, root, map[string]string{release.ManifestPath("v1.0.0"): string(m.Marshal())})
	gitIn(t, root, "add", "-A")
	gitIn(t, root, "commit", "-q", "-m", "release v1.0.0: manifest")
	gitIn(t, root, "tag", "-a", "-m", "convoy release v1.0.0", "v1.0.0")
	head := gitIn(t, root, "rev-parse", "HEAD")

	res := convoy(t, root, []string{"CI=true"}, "release", "--tag", "v1.0.0", "--registry", reg, "--output", "json")
	if res.code != 0 || !strings.Contains(res.stderr, "nothing to do") {
		t.Fatalf("rerun: exit %d, want 0 saying nothing to do:\n%s", res.code, res.stderr)
	}
	if len(res.events) > 0 || res.sum != nil {
		t.Errorf("the rerun ran the pipeline: %d events\n%s", len(res.events), res.stdout)
	}
	if st := gitIn(t, root, "status", "--porcelain", "--ignored"); st != "" {
		t.Errorf("the rerun wrote to the repository: %q", st)
	}
	if got := gitIn(t, root, "rev-parse", "HEAD"); got != head {
		t.Errorf("HEAD moved from %s to %s", head, got)
	}
}
