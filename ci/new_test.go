package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/convoy-ci/convoy/pipeline"
)

// TestNewServiceGateBuild creates a service in a copy of the repository's own layout with
// convoy new service and, with no edit, gates and builds it: the built-in template passes deps,
// unit (its own tests), lint, populate (its default scenario) and gets an image. The manifest
// keeps every line it had, and a second convoy new of the same name is refused with nothing
// written.
func TestNewServiceGateBuild(t *testing.T) {
	if testing.Short() {
		t.Skip("installs Django from PyPI (or the shared cache) and builds an image; skipped with -short")
	}
	needBase(t)
	root := copyMonorepo(t)
	before, err := os.ReadFile(filepath.Join(root, "services.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	res := convoy(t, root, nil, "new", "service", "billing")
	if res.code != 0 {
		t.Fatalf("convoy new service billing: exit %d\n%s%s", res.code, res.stdout, res.stderr)
	}
	after, err := os.ReadFile(filepath.Join(root, "services.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(after), "  - name: billing\n    path: services/billing\n") || !keepsLines(string(before), string(after)) {
		t.Errorf("services.yaml after convoy new:\n%s\nwant every line it had and the billing entry", after)
	}
	status, err := exec.Command("git", "-C", root, "status", "--porcelain").Output()
	if err != nil || string(status) != " M services.yaml\n?? services/billing/\n" {
		t.Errorf("git status = %q (%v); want services.yaml changed and services/billing new", status, err)
	}
	if again := convoy(t, root, nil, "new", "service", "billing"); again.code != exitUsage || !strings.Contains(again.stderr, "exists already") {
		t.Errorf("a second convoy new service billing: exit %d %s; want 2, exists already", again.code, again.stderr)
	}

	gate := convoy(t, root, nil, "gate", "--only", "billing", "--output", "json")
	if s := gate.service(t, "billing"); gate.code != 0 || s.Status != pipeline.StatusPassed {
		t.Fatalf("convoy gate --only billing: exit %d, %+v\n%s", gate.code, s, gate.stderr)
	}
	build := convoy(t, root, nil, "build", "--only", "billing", "--output", "json")
	if s := build.service(t, "billing"); build.code != 0 || (s.Status != pipeline.StatusPassed && s.Status != pipeline.StatusCached) || s.Image == "" {
		t.Fatalf("convoy build --only billing: exit %d, %+v\n%s", build.code, s, build.stderr)
	}
}

// keepsLines reports whether every line of before is in after, in order.
func keepsLines(before, after string) bool {
	rest := strings.Split(after, "\n")
	for _, l := range strings.Split(before, "\n") {
		i := 0
		for i < len(rest) && rest[i] != l {
			i++
		}
		if i == len(rest) {
			return false
		}
		rest = rest[i+1:]
	}
	return true
}
