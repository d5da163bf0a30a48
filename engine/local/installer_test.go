package local

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/convoy-ci/convoy/pipeline/config"
	"github.com/convoy-ci/convoy/python"
	"github.com/convoy-ci/convoy/stages"
)

// TestSpecHashInstaller: the installer, and uv's version with it, are part of a pip service's
// virtualenv key; pipenv services have no installer of their own.
func TestSpecHashInstaller(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "requirements.txt"), []byte("six\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	hash := func(installer string) string {
		svc := &config.Service{Name: "a", Dir: dir, Python: "3.11", Deps: python.Pip, Installer: installer}
		st := stages.ForService(svc)[0]
		h, err := SpecHash(svc, st)
		if err != nil {
			t.Fatal(err)
		}
		return h
	}
	if hash(config.InstallerUV) == hash(config.InstallerPip) {
		t.Error("installer: uv and installer: pip share a virtualenv")
	}
	if got := python.InstallerID(python.InstallerUV); got != "uv "+python.UVVersion {
		t.Errorf("uv's part of the key = %q, want its version in it", got)
	}
}

// TestInstallers runs the gates of a small pip service with installer: uv and installer: pip:
// two virtualenvs, the same packages in both, only pip's has pip, and every gate passes in each.
func TestInstallers(t *testing.T) {
	if testing.Short() {
		t.Skip("installs from PyPI; skipped with -short")
	}
	root := t.TempDir()
	files := map[string]string{"services.yaml": `version: 1
defaults:
  python: "3.11"
  timeout: 5m
  unit: [python, -c, "import app, sys; assert app.PY3 and sys.prefix != sys.base_prefix"]
  lint: [python, -m, flake8, app.py]
  populate: [python, -c, pass]
services:
  - {name: viauv, path: services/viauv}
  - {name: viapip, path: services/viapip, installer: pip}
`}
	for _, svc := range []string{"viauv", "viapip"} {
		files["services/"+svc+"/requirements.txt"] = "six==1.16.0\n"
		files["services/"+svc+"/requirements-dev.txt"] = "-r requirements.txt\nflake8==7.1.1\n"
		files["services/"+svc+"/app.py"] = "import six\n\nPY3 = six.PY3\n"
	}
	for p, c := range files {
		if err := os.MkdirAll(filepath.Dir(filepath.Join(root, p)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(root, p), []byte(c), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	cfg, err := config.Load(config.FileName, root)
	if err != nil {
		t.Fatal(err)
	}
	e := New(filepath.Join(root, ".convoy"), WithCacheDir(testCache(t)))
	venvs := map[string]string{}
	for _, svc := range cfg.Services {
		for _, st := range []string{stages.Deps, stages.Unit, stages.Lint, stages.Populate} {
			runStage(t, e, cfg, svc, st)
		}
		if venvs[svc.Installer], err = e.Venv(svc); err != nil {
			t.Fatal(err)
		}
	}
	uv, pip := venvs[config.InstallerUV], venvs[config.InstallerPip]
	if uv == pip {
		t.Fatalf("both installers used virtualenv %s", uv)
	}
	frozen := func(venv string) []string {
		pins, err := python.Freeze(venv)
		if err != nil {
			t.Fatal(err)
		}
		return slices.DeleteFunc(pins, func(p string) bool {
			return strings.HasPrefix(p, "pip==") || strings.HasPrefix(p, "setuptools==")
		})
	}
	if a, b := frozen(uv), frozen(pip); !slices.Equal(a, b) {
		t.Errorf("uv installed %v, pip %v", a, b)
	}
	if _, err := os.Stat(filepath.Join(pip, "bin", "pip")); err != nil {
		t.Errorf("pip's virtualenv has no pip: %v", err)
	}
	if _, err := os.Stat(filepath.Join(uv, "bin", "pip")); err == nil {
		t.Error("uv's virtualenv has pip: it was not made by uv venv")
	}
}
