package local

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/convoy-ci/convoy/engine"
	"github.com/convoy-ci/convoy/pipeline/config"
	"github.com/convoy-ci/convoy/stages"
)

// writeTree writes files (slash path → content) under root.
func writeTree(t testing.TB, root string, files map[string]string) {
	t.Helper()
	for p, c := range files {
		full := filepath.Join(root, filepath.FromSlash(p))
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, []byte(c), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// TestRootTools: services with only a requirements.txt lint with the flake8 the repository's
// root requirements-dev.txt names (tools.requirements) and import a package tools.packages
// names, with installer uv and pip alike; the tools are part of the virtualenv's key.
func TestRootTools(t *testing.T) {
	if testing.Short() {
		t.Skip("installs from PyPI; skipped with -short")
	}
	root := t.TempDir()
	fresh := "# " + root + "\n" // a spec no earlier run sharing the cache installed
	writeTree(t, root, map[string]string{
		"services.yaml": `version: 1
defaults:
  python: "3.11"
  timeout: 5m
  tools: {requirements: requirements-dev.txt, packages: [six==1.16.0]}
  unit: [python, -c, "import six, flake8"]
  lint: [python, -m, flake8, app.py]
services:
  - {name: viauv, path: services/viauv}
  - {name: viapip, path: services/viapip, installer: pip}
  - {name: bare, path: services/bare, tools: {}, unit: [python, -c, "import flake8"]}
`,
		"requirements-dev.txt":             "flake8==7.1.1\n",
		"services/viauv/requirements.txt":  fresh,
		"services/viauv/app.py":            "X = 1\n",
		"services/viapip/requirements.txt": fresh,
		"services/viapip/app.py":           "X = 1\n",
		"services/bare/requirements.txt":   fresh,
	})
	cfg, err := config.Load(config.FileName, root)
	if err != nil {
		t.Fatal(err)
	}
	e := New(filepath.Join(root, ".convoy"), WithCacheDir(testCache(t)))
	for _, name := range []string{"viauv", "viapip"} {
		svc := cfg.Service(name)
		_, log := runStage(t, e, cfg, svc, stages.Deps)
		if !strings.Contains(log, "-r ../../requirements-dev.txt six==1.16.0") {
			t.Errorf("%s: the deps stage did not install the tools:\n%s", name, log)
		}
		runStage(t, e, cfg, svc, stages.Unit)
		runStage(t, e, cfg, svc, stages.Lint)
	}
	bare := cfg.Service("bare")
	runStage(t, e, cfg, bare, stages.Deps)
	var st stages.Stage
	for _, s := range stages.ForService(bare) {
		if s.Name == stages.Unit {
			st = s
		}
	}
	if err := runErr(e, cfg, bare, st); err == nil {
		t.Error("a service with tools: {} got flake8 all the same")
	}

	svc := cfg.Service("viauv")
	before, err := SpecHash(svc, stages.ForService(svc)[0])
	if err != nil {
		t.Fatal(err)
	}
	writeTree(t, root, map[string]string{"requirements-dev.txt": "flake8==7.1.1\npytest\n"})
	after, err := SpecHash(svc, stages.ForService(svc)[0])
	if err != nil {
		t.Fatal(err)
	}
	if before == after {
		t.Error("changing the root requirements-dev.txt kept the virtualenv's key")
	}
}

// TestSuiteRequirementsAnyName: integration.requirements may be called anything; the suite's
// virtualenv installs that file.
func TestSuiteRequirementsAnyName(t *testing.T) {
	if testing.Short() {
		t.Skip("installs from PyPI; skipped with -short")
	}
	root := t.TempDir()
	writeTree(t, root, map[string]string{
		"services.yaml": `version: 1
defaults: {python: "3.11"}
services: [{name: a, path: services/a}]
integration: {requirements: tests/e2e/deps.in, command: [python, -c, "import six"]}
`,
		"services/a/requirements.txt": "",
		"tests/e2e/deps.in":           "six==1.16.0\n",
	})
	cfg, err := config.Load(config.FileName, root)
	if err != nil {
		t.Fatal(err)
	}
	e := New(filepath.Join(root, ".convoy"), WithCacheDir(testCache(t)))
	suite, err := e.suite(t.Context(), cfg, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(suite.BinDir, "..", "lib", "python3.11", "site-packages", "six.py")); err != nil {
		t.Errorf("the suite's virtualenv has no six from tests/e2e/deps.in: %v", err)
	}
}

// runErr runs stage st of svc and returns its error.
func runErr(e *Engine, cfg *config.Config, svc *config.Service, st stages.Stage) error {
	_, err := e.Run(context.Background(), engine.Request{Config: cfg, Service: svc, Stage: st, Log: io.Discard})
	return err
}
