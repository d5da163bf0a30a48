package main

import (
	"io"
	"log"
	"net/http/httptest"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/registry"

	"github.com/convoy-ci/convoy/pipeline"
	"github.com/convoy-ci/convoy/release"
)

// poetryServices are the services of testdata/poetry-monorepo.
var poetryServices = []string{"catalog", "loans"}

// copyPoetryMonorepo copies testdata/poetry-monorepo into a new git repository with everything
// committed.
func copyPoetryMonorepo(t *testing.T) string {
	t.Helper()
	dst := copyFixture(t, "poetry-monorepo")
	gitRepo(t, dst)
	return dst
}

// TestPoetryMonorepo takes the poetry fixture monorepo (two Django services, each with its
// pyproject.toml and the poetry.lock poetry wrote, a lib as a path dependency) from gates to a
// release: the gates pass and write nothing into the repository, the images are built, the
// services start from them (runc) and pass the cross-service suite, and the release commits
// the services' own poetry.lock files, unchanged, as its lockfiles.
func TestPoetryMonorepo(t *testing.T) {
	if testing.Short() {
		t.Skip("provisions poetry, installs the services' dependencies, builds images and starts PostgreSQL; skipped with -short")
	}
	root := copyPoetryMonorepo(t)
	git := func(args ...string) string {
		t.Helper()
		cmd := exec.Command("git", append([]string{"-C", root}, args...)...)
		cmd.Env = gitEnv()
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("git %v: %v %s", args, err, out)
		}
		return strings.TrimSpace(string(out))
	}
	passed := func(res runResult, what string) {
		t.Helper()
		if res.code != 0 || res.sum == nil || len(res.sum.Services) != len(poetryServices) {
			t.Fatalf("convoy %s: exit %d\n%s\n%s", what, res.code, res.stdout, res.stderr)
		}
		for i, s := range res.sum.Services {
			if s.Name != poetryServices[i] || s.Status.Failed() {
				t.Errorf("convoy %s: %s = %+v", what, s.Name, s)
			}
		}
	}

	gate := convoy(t, root, nil, "gate", "--output", "json")
	passed(gate, "gate")
	for _, s := range gate.sum.Services {
		for _, st := range []string{"deps", "unit", "lint", "populate"} {
			if got := stageStatus(s, st); got != pipeline.StatusPassed {
				t.Errorf("gate: %s/%s = %s, want passed", s.Name, st, got)
			}
		}
	}
	if st := git("status", "--porcelain"); st != "" {
		t.Errorf("the gates wrote into the repository:\n%s", st)
	}

	needBase(t)
	build := convoy(t, root, nil, "build", "--output", "json")
	passed(build, "build")
	for _, s := range build.sum.Services {
		if !strings.HasPrefix(s.Digest, "sha256:") {
			t.Errorf("build: %s has no image: %+v", s.Name, s)
		}
	}

	in := convoy(t, root, []string{"CI=true"}, "integration", "--output", "json", "--runtime", "runc")
	passed(in, "integration")
	if it := in.sum.Integration; it == nil || it.Passed != 4 || it.Failed != 0 || !it.ImagesProven {
		t.Errorf("integration = %+v, want 4 tests passed against the images", it)
	}

	source := git("rev-parse", "HEAD")
	reg := httptest.NewServer(registry.New(registry.Logger(log.New(io.Discard, "", 0))))
	defer reg.Close()
	registryRef := strings.TrimPrefix(reg.URL, "http://") + "/library"
	rel := convoy(t, root, []string{"CI=true"}, "release", "--tag", "v1.0.0", "--registry", registryRef, "--insecure", "--runtime", "runc")
	if rel.code != 0 {
		t.Fatalf("convoy release: exit %d\n%s\n%s", rel.code, rel.stdout, rel.stderr)
	}
	m, err := release.ParseManifest([]byte(git("show", "HEAD:"+filepath.ToSlash(release.ManifestPath("v1.0.0")))))
	if err != nil {
		t.Fatal(err)
	}
	if len(m.Services) != len(poetryServices) {
		t.Fatalf("the manifest lists %d services, want %d", len(m.Services), len(poetryServices))
	}
	for i, s := range m.Services {
		lock := "services/" + poetryServices[i] + "/poetry.lock"
		if s.Lockfile != lock {
			t.Errorf("%s's lockfile is %q, want %s", s.Name, s.Lockfile, lock)
		}
		if git("rev-parse", "v1.0.0:"+lock) != git("rev-parse", source+":"+lock) {
			t.Errorf("the release changed %s:\n%s", lock, git("diff", source, "v1.0.0", "--", lock))
		}
	}
	if st := git("status", "--porcelain"); st != "" {
		t.Errorf("the release left the worktree dirty:\n%s", st)
	}
	if check := convoy(t, root, []string{"CI=true"}, "release", "--check"); check.code != 0 || !strings.Contains(check.stdout, "every lockfile matches") {
		t.Errorf("release --check: exit %d\n%s\n%s", check.code, check.stdout, check.stderr)
	}
}
