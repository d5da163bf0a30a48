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

// TestNewServiceRefused checks convoy new's usage errors: exit 2, the reason, nothing written.
func TestNewServiceRefused(t *testing.T) {
	files := pyServices("", map[string]map[string]string{"a": {}})
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"invalid name", []string{"new", "service", "Billing"}, "is not a DNS label"},
		{"taken name", []string{"new", "service", "a"}, `a service named "a" exists already`},
		{"no name", []string{"new", "service"}, "expected service NAME"},
		{"not a service", []string{"new", "lib", "x"}, "expected service NAME"},
		{"unknown tool", []string{"new", "service", "b", "--deps", "conda"}, `--deps "conda" is not a dependency tool`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			root := writeRepo(t, files)
			res := convoy(t, root, nil, tc.args...)
			if res.code != exitUsage || !strings.Contains(res.stderr, tc.want) {
				t.Errorf("convoy %v: exit %d, %s; want 2 saying %q", tc.args, res.code, res.stderr, tc.want)
			}
			if data, _ := os.ReadFile(filepath.Join(root, "services.yaml")); string(data) != files["services.yaml"] {
				t.Errorf("services.yaml changed:\n%s", data)
			}
			if entries, _ := os.ReadDir(filepath.Join(root, "svc")); len(entries) != 1 {
				t.Errorf("svc/ holds %d entries, want only a", len(entries))
			}
		})
	}
}
