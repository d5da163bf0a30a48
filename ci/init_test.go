package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/convoy-ci/convoy/pipeline"
)

// fixtureRepo copies testdata/<name> into a temporary git repository, as a user's checkout:
// its own .gitignore kept, nothing added to its files (convoy's state directory is excluded in
// .git/info/exclude, outside the tree).
func fixtureRepo(t *testing.T, name string) string {
	t.Helper()
	root := copyFixture(t, name)
	for _, args := range [][]string{{"init", "-q"}, {"add", "-A"}, {"commit", "-q", "-m", name}, {"remote", "add", "origin", testOrigin}} {
		cmd := exec.Command("git", args...)
		cmd.Dir, cmd.Env = root, append(gitEnv(), "GIT_AUTHOR_DATE=2026-01-01T00:00:00Z", "GIT_COMMITTER_DATE=2026-01-01T00:00:00Z")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("git %v: %v %s", args, err, out)
		}
	}
	if err := os.WriteFile(filepath.Join(root, ".git", "info", "exclude"), []byte(".convoy/\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	return root
}

// initRepo runs convoy init on a copy of the fixture and checks what it leaves: services.yaml
// and nothing else, and a second init refused.
func initRepo(t *testing.T, name string) string {
	t.Helper()
	root := fixtureRepo(t, name)
	res := convoy(t, root, nil, "init", "--base", "oci-layout:"+baseDir()+":python")
	if res.code != 0 {
		t.Fatalf("convoy init: exit %d\n%s\n%s", res.code, res.stdout, res.stderr)
	}
	status, err := exec.Command("git", "-C", root, "status", "--porcelain").Output()
	if err != nil || string(status) != "?? services.yaml\n" {
		t.Fatalf("after init, git status = %q (%v); want only services.yaml new", status, err)
	}
	again := convoy(t, root, nil, "init")
	if again.code != exitUsage || !strings.Contains(again.stderr, "--force") {
		t.Errorf("a second init: exit %d, %s; want %d naming --force", again.code, again.stderr, exitUsage)
	}
	if plan := convoy(t, root, nil, "plan"); plan.code != 0 {
		t.Fatalf("convoy plan refuses what init wrote: exit %d\n%s", plan.code, plan.stderr)
	}
	return root
}

// TestInitRunAdoptDjango runs convoy init, then convoy run, on testdata/adopt-django as it is:
// every service passes its gates, gets an image and comes up in integration (orders with its
// Celery worker on Redis), the suite passes, and the catalog's 200 legacy flake8 violations are
// counted, not failing.
func TestInitRunAdoptDjango(t *testing.T) {
	if testing.Short() {
		t.Skip("installs from PyPI, builds images and starts them in runc with PostgreSQL and Redis; skipped with -short")
	}
	needBase(t)
	root := initRepo(t, "adopt-django")
	res := convoy(t, root, []string{"CONVOY_RUNTIME=", "CI=true"}, "run", "--output", "json", "--runtime", "runc")
	checkAdopted(t, res, map[string]int{"users": 0, "catalog": 200, "orders": 0}, 4)
}

// checkAdopted checks a green run: every service passed with the given lint findings, and the
// suite passed its tests.
func checkAdopted(t *testing.T, res runResult, findings map[string]int, tests int) {
	t.Helper()
	if res.code != 0 || res.sum == nil {
		t.Fatalf("convoy run: exit %d\n%s\n%s", res.code, res.stdout, res.stderr)
	}
	if len(res.sum.Services) != len(findings) {
		t.Errorf("%d services in the summary, want %d", len(res.sum.Services), len(findings))
	}
	for name, want := range findings {
		s := res.service(t, name)
		if s.Status != pipeline.StatusPassed || s.Image == "" {
			t.Errorf("%s = %+v, want passed with an image", name, s)
		}
		for _, st := range s.Stages {
			if st.Name == "lint" && st.Findings != want {
				t.Errorf("%s lint: %d findings, want %d", name, st.Findings, want)
			}
		}
	}
	if in := res.sum.Integration; in == nil || in.Passed != tests || in.Failed != 0 || !in.ImagesProven {
		t.Errorf("integration = %+v, want %d passed from proven images", in, tests)
	}
}

// TestInitRunAdoptFastAPI runs convoy init, then convoy run, on testdata/adopt-fastapi as it is:
// users and items migrate with Alembic on their PostgreSQL databases (items through the variable
// it reads, SQLALCHEMY_DATABASE_URI), their unit tests make their own SQLite file, the gateway
// has no health view and is checked on its port, and the suite passes through it.
func TestInitRunAdoptFastAPI(t *testing.T) {
	if testing.Short() {
		t.Skip("installs from PyPI, builds images and starts them in runc with PostgreSQL; skipped with -short")
	}
	needBase(t)
	root := initRepo(t, "adopt-fastapi")
	res := convoy(t, root, []string{"CONVOY_RUNTIME=", "CI=true"}, "run", "--output", "json", "--runtime", "runc")
	checkAdopted(t, res, map[string]int{"gateway": 0, "users": 1, "items": 1}, 3)
}
