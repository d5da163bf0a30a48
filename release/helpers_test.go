package release

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/convoy-ci/convoy/repo"
)

// isolateGit gives the git CLI and go-git a fresh HOME with a known
// identity and no system config.
func isolateGit(t *testing.T) {
	t.Helper()
	if _, err := exec.LookPath("git"); err != nil {
		t.Skip("git CLI not installed")
	}
	home := t.TempDir()
	t.Setenv("HOME", home)
	t.Setenv("XDG_CONFIG_HOME", filepath.Join(home, ".config"))
	t.Setenv("GIT_CONFIG_NOSYSTEM", "1")
	for _, k := range []string{"GIT_AUTHOR_NAME", "GIT_AUTHOR_EMAIL", "GIT_COMMITTER_NAME", "GIT_COMMITTER_EMAIL", "GIT_DIR", "GIT_WORK_TREE"} {
		t.Setenv(k, "")
		os.Unsetenv(k)
	}
	writeFile(t, filepath.Join(home, ".gitconfig"), "[user]\n\tname = QA Bot\n\temail = qa@example.com\n[init]\n\tdefaultBranch = main\n[tag]\n\tgpgSign = false\n[commit]\n\tgpgSign = false\n")
}

func gitOut(t *testing.T, dir string, args ...string) string {
	t.Helper()
	cmd := exec.Command("git", args...)
	cmd.Dir = dir
	out, err := cmd.Output()
	if err != nil {
		msg := ""
		if ee, ok := err.(*exec.ExitError); ok {
			msg = string(ee.Stderr)
		}
		t.Fatalf("git %s: %v\n%s", strings.Join(args, " "), err, msg)
	}
	return strings.TrimRight(string(out), "\n")
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

// newRepo creates a git repository with files committed.
func newRepo(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	gitOut(t, dir, "init", "-q")
	for p, c := range files {
		writeFile(t, filepath.Join(dir, filepath.FromSlash(p)), c)
	}
	gitOut(t, dir, "add", "-A")
	gitOut(t, dir, "commit", "-q", "--allow-empty", "-m", "initial")
	return dir
}

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
