package release

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/convoy-ci/convoy/internal/gittest"
	"github.com/convoy-ci/convoy/repo"
)

// isolateGit gives the test a fresh HOME with a known identity (see gittest.Isolate).
func isolateGit(t *testing.T) { gittest.Isolate(t, "QA Bot", "qa@example.com") }

func gitOut(t *testing.T, dir string, args ...string) string { return gittest.Git(t, dir, args...) }

func writeFile(t *testing.T, path, content string) { gittest.WriteFile(t, path, content) }

// newRepo creates a git repository with files committed.
func newRepo(t *testing.T, files map[string]string) string { return gittest.NewRepo(t, files) }

func openRepo(t *testing.T, dir string) *repo.Repo {
	t.Helper()
	r, err := repo.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// fakeVenv is a stand-in for a gated virtualenv: a python that answers the
// version query and `-m pip freeze` from files the test controls.
type fakeVenv struct {
	dir    string
	Python string
}

func newFakeVenv(t *testing.T, version, freeze string) *fakeVenv {
	t.Helper()
	dir := t.TempDir()
	py := filepath.Join(dir, "bin", "python")
	script := `#!/bin/sh
d=$(dirname "$0")
if [ "$1" = "-c" ]; then cat "$d/info.json"; exit 0; fi
if [ "$1 $2 $3 $4" = "-m pip freeze --exclude-editable" ]; then cat "$d/freeze.txt"; exit 0; fi
echo "fake python: unexpected arguments: $*" >&2
exit 3
`
	writeFile(t, py, script)
	if err := os.Chmod(py, 0o755); err != nil {
		t.Fatal(err)
	}
	v := &fakeVenv{dir: dir, Python: py}
	v.setInfo(t, version)
	v.setFreeze(t, freeze)
	return v
}

// setInfo sets the Python version and the installed tooling closure.
func (v *fakeVenv) setInfo(t *testing.T, version string, tooling ...string) {
	t.Helper()
	b, err := json.Marshal(envInfo{Version: version, Tooling: tooling})
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(v.dir, "bin", "info.json"), string(b)+"\n")
}

func (v *fakeVenv) setFreeze(t *testing.T, freeze string) {
	t.Helper()
	writeFile(t, filepath.Join(v.dir, "bin", "freeze.txt"), freeze)
}
