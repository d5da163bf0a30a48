package main

import (
	"crypto/sha256"
	"encoding/hex"
	"io"
	"log"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/registry"

	"github.com/convoy-ci/convoy/engine"
	"github.com/convoy-ci/convoy/pipeline"
	"github.com/convoy-ci/convoy/release"
)

// uvWorkspaceRepo copies testdata/uv-workspace (a uv workspace: two services and their lib,
// one uv.lock) into a temporary git repository, with its base image where this machine has it.
func uvWorkspaceRepo(t *testing.T) string {
	t.Helper()
	dst := copyFixture(t, "uv-workspace")
	manifest := filepath.Join(dst, "services.yaml")
	data, err := os.ReadFile(manifest)
	if err != nil {
		t.Fatal(err)
	}
	data = []byte(strings.ReplaceAll(string(data), "oci-layout:/var/cache/convoy/base:python", "oci-layout:"+baseDir()+":python"))
	if err := os.WriteFile(manifest, data, 0o644); err != nil {
		t.Fatal(err)
	}
	gitRepo(t, dst)
	return dst
}

// TestUVWorkspace takes the uv workspace fixture monorepo from a push to a release: its two
// services pass their gates (installed from the workspace's uv.lock by uv sync), get images,
// integrate from those images in runc, and a release to a real (in-memory) registry freezes
// the workspace's uv.lock — the committed one, unchanged, once for both services.
func TestUVWorkspace(t *testing.T) {
	if testing.Short() {
		t.Skip("installs the fixture's dependencies, builds images, starts PostgreSQL and runc; skipped with -short")
	}
	needBase(t)
	root := uvWorkspaceRepo(t)
	services := []string{"catalog", "orders"}
	passed := func(res runResult, cmd string, stages ...string) {
		t.Helper()
		if res.code != 0 || res.sum == nil {
			t.Fatalf("convoy %s: exit %d\n%s\n%s", cmd, res.code, res.stdout, res.stderr)
		}
		for _, name := range services {
			s := res.service(t, name)
			for _, st := range stages {
				if got := stageStatus(s, st); got != pipeline.StatusPassed && got != pipeline.StatusCached {
					t.Errorf("convoy %s: %s/%s = %s, want passed", cmd, name, st, got)
				}
			}
		}
	}

	passed(convoy(t, root, nil, "gate", "--output", "json"), "gate", "deps", "unit", "lint", "populate")
	build := convoy(t, root, nil, "build", "--output", "json")
	passed(build, "build", "image")
	for _, name := range services {
		if s := build.service(t, name); s.Digest == "" {
			t.Errorf("convoy build: %s has no image: %+v", name, s)
		}
	}

	in := convoy(t, root, []string{"CI=true"}, "integration", "--output", "json")
	passed(in, "integration", "integration")
	if s := in.sum.Integration; s == nil || s.Passed != 4 || s.Failed != 0 || s.From != engine.FromImage || !s.ImagesProven {
		t.Errorf("integration = %+v, want the suite's 4 tests passed against the images", s)
	}

	uvLock, err := os.ReadFile(filepath.Join(root, "uv.lock"))
	if err != nil {
		t.Fatal(err)
	}
	checkUVRelease(t, root, uvLock)
}

// checkUVRelease cuts v1.0.0 of root to an in-memory registry and checks that both services'
// lockfile is the workspace's uv.lock, committed as it was (lock), and that `release --check`
// agrees.
func checkUVRelease(t *testing.T, root string, lock []byte) {
	t.Helper()
	reg := httptest.NewServer(registry.New(registry.Logger(log.New(io.Discard, "", 0))))
	defer reg.Close()
	addr := strings.TrimPrefix(reg.URL, "http://")
	res := convoy(t, root, []string{"CI=true"}, "release", "--tag", "v1.0.0", "--registry", addr+"/shop", "--insecure")
	if res.code != 0 {
		t.Fatalf("convoy release: exit %d\n%s\n%s", res.code, res.stdout, res.stderr)
	}
	git := func(args ...string) string {
		t.Helper()
		out, err := exec.Command("git", append([]string{"-C", root}, args...)...).CombinedOutput()
		if err != nil {
			t.Fatalf("git %v: %v %s", args, err, out)
		}
		return string(out)
	}
	m, err := release.ParseManifest([]byte(git("show", "v1.0.0:releases/v1.0.0.json")))
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(lock)
	if len(m.Services) != 2 {
		t.Fatalf("the manifest lists %d services, want 2: %+v", len(m.Services), m)
	}
	for _, s := range m.Services {
		if s.Lockfile != "uv.lock" || s.LockfileSHA256 != hex.EncodeToString(sum[:]) || s.Digest == "" {
			t.Errorf("%s in the manifest: lockfile %s (sha256 %s), digest %q; want the workspace's uv.lock as committed",
				s.Name, s.Lockfile, s.LockfileSHA256, s.Digest)
		}
	}
	if got := git("show", "v1.0.0:uv.lock"); got != string(lock) {
		t.Error("the release's uv.lock is not the workspace's")
	}
	if st := git("status", "--porcelain"); st != "" {
		t.Errorf("the release left the worktree dirty:\n%s", st)
	}
	if res := convoy(t, root, []string{"CI=true"}, "release", "--check"); res.code != 0 || !strings.Contains(res.stdout, "every lockfile matches") {
		t.Errorf("release --check: exit %d\n%s\n%s", res.code, res.stdout, res.stderr)
	}
}

// TestUVWorkspaceStaleLock: a member's pyproject.toml that its workspace's uv.lock no longer
// describes fails the deps stage of every member (they share the lock), with uv's own words
// telling the user to run `uv lock`; their later stages are skipped.
func TestUVWorkspaceStaleLock(t *testing.T) {
	if testing.Short() {
		t.Skip("runs uv against PyPI; skipped with -short")
	}
	root := uvWorkspaceRepo(t)
	spec := filepath.Join(root, "services", "orders", "pyproject.toml")
	data, err := os.ReadFile(spec)
	if err != nil {
		t.Fatal(err)
	}
	stale := strings.Replace(string(data), `"shopkit",`, `"shopkit",`+"\n"+`    "six",`, 1)
	if err := os.WriteFile(spec, []byte(stale), 0o644); err != nil {
		t.Fatal(err)
	}
	res := convoy(t, root, nil, "gate", "--output", "json")
	if res.code != 1 {
		t.Fatalf("exit %d, want 1\n%s\n%s", res.code, res.stdout, res.stderr)
	}
	for _, name := range []string{"catalog", "orders"} {
		s := res.service(t, name)
		if stageStatus(s, "deps") != pipeline.StatusFailed || stageStatus(s, "unit") != pipeline.StatusSkipped {
			t.Errorf("%s = %+v, want deps failed and the rest skipped", name, s)
		}
		var tail string
		for _, e := range res.events {
			if e.Type == pipeline.EventStageFinish && e.Service == name && e.Stage == "deps" {
				tail = strings.Join(e.Tail, "\n")
			}
		}
		if !strings.Contains(tail, "needs to be updated") || !strings.Contains(tail, "run `uv lock`") {
			t.Errorf("%s: the deps stage's tail does not say to run uv lock:\n%s", name, tail)
		}
	}
}
