package release

import (
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/convoy-ci/convoy/internal/gittest"
	"github.com/convoy-ci/convoy/python"
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
// version query from a file the test controls, and the *.dist-info metadata
// of the distributions the test says it holds.
type fakeVenv struct {
	dir    string
	Python string
}

func newFakeVenv(t *testing.T, version, freeze string) *fakeVenv {
	t.Helper()
	return newFakeVenvAt(t, t.TempDir(), version, freeze)
}

// newFakeVenvAt makes the fake virtualenv in dir.
func newFakeVenvAt(t *testing.T, dir, version, freeze string) *fakeVenv {
	t.Helper()
	py := filepath.Join(dir, "bin", "python")
	script := `#!/bin/sh
d=$(dirname "$0")
if [ "$1" = "-c" ]; then cat "$d/info.json"; exit 0; fi
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

// env is the environment for release: the virtualenv, with the tool's scratch directory.
func (v *fakeVenv) env(scratch string) python.Env { return python.Env{Venv: v.dir, Scratch: scratch} }

// setInfo sets the Python version and the installed tooling closure.
func (v *fakeVenv) setInfo(t *testing.T, version string, tooling ...string) {
	t.Helper()
	if tooling == nil {
		tooling = []string{}
	}
	b, err := json.Marshal(map[string]any{"version": version, "tooling": tooling})
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(v.dir, "bin", "info.json"), string(b)+"\n")
}

// setFreeze installs the distributions of freeze (name==version or name @ url lines) as bare
// *.dist-info metadata in the virtualenv's site-packages, replacing what it held.
func (v *fakeVenv) setFreeze(t *testing.T, freeze string) {
	t.Helper()
	site := filepath.Join(v.dir, "lib", "python3.11", "site-packages")
	if err := os.RemoveAll(site); err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(strings.TrimSpace(freeze), "\n") {
		if line == "" {
			continue
		}
		name, version, ok := strings.Cut(line, "==")
		url := ""
		if !ok {
			name, url, _ = strings.Cut(line, " @ ")
			version = "0"
		}
		info := filepath.Join(site, name+"-"+version+".dist-info")
		writeFile(t, filepath.Join(info, "METADATA"), "Metadata-Version: 2.1\nName: "+name+"\nVersion: "+version+"\n")
		if url != "" {
			writeFile(t, filepath.Join(info, "direct_url.json"), `{"url": "`+url+`", "archive_info": {}}`)
		}
	}
}

// stderrOf is ": " and what the failed command printed on standard error, or "".
func stderrOf(err error) string {
	var ee *exec.ExitError
	if errors.As(err, &ee) && len(ee.Stderr) > 0 {
		return ": " + strings.TrimSpace(string(ee.Stderr))
	}
	return ""
}
