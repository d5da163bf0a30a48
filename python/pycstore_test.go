package python

import (
	"bytes"
	"context"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// newVenv makes a virtualenv with the host interpreter under dir, with files (relative to its
// site-packages) installed.
func newVenv(t *testing.T, dir string, files map[string]string) string {
	t.Helper()
	py, err := NewTools(cacheDir).Python(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	venv := filepath.Join(dir, "venv")
	if out, err := exec.Command(py, "-m", "venv", "--without-pip", venv).CombinedOutput(); err != nil {
		t.Fatalf("python -m venv: %v\n%s", err, out)
	}
	sites, _ := filepath.Glob(filepath.Join(venv, "lib", "python3.*", "site-packages"))
	if len(sites) != 1 {
		t.Fatalf("virtualenv %s has %d site-packages", venv, len(sites))
	}
	for name, content := range files {
		write(t, sites[0], name, content)
	}
	return venv
}

// pycFiles lists the .pyc files under dir.
func pycFiles(t *testing.T, dir string) []string {
	t.Helper()
	var out []string
	_ = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && strings.HasSuffix(p, ".pyc") {
			out = append(out, p)
		}
		return nil
	})
	return out
}

// importIn runs the virtualenv's interpreter as a stage does (PYTHONPYCACHEPREFIX set) and
// imports module, printing what f returns.
func importIn(t *testing.T, venv, module string) string {
	t.Helper()
	cmd := exec.Command(filepath.Join(venv, "bin", "python"), "-c", "import "+module+"; print("+module+".f())")
	cmd.Env = append(isolatedEnv(venv), "PYTHONPYCACHEPREFIX="+filepath.Join(venv, PycacheDir))
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("importing %s: %v\n%s", module, err, out)
	}
	return strings.TrimSpace(string(out))
}

// TestPlaceBytecode: an image's dependency layer fills the store (Bytecode); a virtualenv
// holding the same files then gets their bytecode where its stages' interpreters look for it,
// and they use it (importing compiles nothing more); a module edited in place is compiled again,
// not run stale; a module that does not compile, or that the store lacks, is left to the
// interpreter; an empty store places nothing.
func TestPlaceBytecode(t *testing.T) {
	py := mustPython(t)
	tools := NewTools(t.TempDir(), WithPython(py))
	files := map[string]string{
		"pkg/__init__.py": "",
		"pkg/mod.py":      "def f():\n    return 'one'\n",
		"broken.py":       "print 'python 2'\n",
	}
	a := newVenv(t, t.TempDir(), files)
	if placed, err := tools.PlaceBytecode(a, "/app/site-packages"); err != nil || placed != 0 {
		t.Fatalf("with an empty store: placed %d (%v), want 0", placed, err)
	}
	layer := t.TempDir()
	for name, content := range files {
		write(t, layer, name, content)
	}
	version := strings.TrimSpace(run1(t, py, "import sys; print('%d.%d' % sys.version_info[:2])"))
	if ok, err := tools.Bytecode(context.Background(), Target{Version: version + ".0"}, layer, "/app/site-packages", Exec{}); err != nil || !ok {
		t.Fatalf("Bytecode: %v, %v", ok, err)
	}
	b := newVenv(t, t.TempDir(), map[string]string{"pkg/__init__.py": "", "pkg/mod.py": files["pkg/mod.py"],
		"broken.py": files["broken.py"], "other.py": "def f():\n    return 'other'\n"})
	placed, err := tools.PlaceBytecode(b, "/app/site-packages")
	if err != nil || placed != 2 {
		t.Fatalf("placed %d (%v), want pkg/__init__ and pkg/mod", placed, err)
	}
	before := pycFiles(t, filepath.Join(b, PycacheDir))
	if got := importIn(t, b, "pkg.mod"); got != "one" {
		t.Errorf("pkg.mod.f() = %q", got)
	}
	if after := pycFiles(t, filepath.Join(b, PycacheDir)); len(after) != len(before) {
		t.Errorf("importing compiled again: %q, had %q", after, before)
	}
	if got := importIn(t, b, "other"); got != "other" {
		t.Errorf("other.f() = %q", got)
	}
	sites, _ := filepath.Glob(filepath.Join(b, "lib", "python3.*", "site-packages"))
	write(t, sites[0], "pkg/mod.py", "def f():\n    return 'two'\n")
	if got := importIn(t, b, "pkg.mod"); got != "two" {
		t.Errorf("after editing pkg/mod.py in place, pkg.mod.f() = %q, want the new code's", got)
	}
}

// TestBytecodeMatchesCompileall: an image's bytecode from the store is what compileall writes
// (unchecked hash-based, the image's paths), byte for byte, whether compiled for this layer or
// taken from what another layer compiled.
func TestBytecodeMatchesCompileall(t *testing.T) {
	py := mustPython(t)
	files := map[string]string{
		"pkg/__init__.py": "X = {'a', 'b', 'c'}\n",
		"pkg/mod.py":      "def f():\n    return 'one'\n",
	}
	want := t.TempDir()
	for name, content := range files {
		write(t, want, name, content)
	}
	cmd := exec.Command(py, "-m", "compileall", "-q", "--invalidation-mode", "unchecked-hash", "-s", want, "-p", "/app/site-packages", want)
	cmd.Env = append(os.Environ(), "PYTHONHASHSEED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("compileall: %v\n%s", err, out)
	}
	version := strings.TrimSpace(run1(t, py, "import sys; print('%d.%d' % sys.version_info[:2])"))
	target := Target{Version: version + ".0"}
	cache := t.TempDir()
	tools := NewTools(cache, WithPython(py))
	var got string
	for range 2 { // the second layer's bytecode comes from the store
		got = t.TempDir()
		for name, content := range files {
			write(t, got, name, content)
		}
		ok, err := tools.Bytecode(context.Background(), target, got, "/app/site-packages", Exec{})
		if err != nil || !ok {
			t.Fatalf("Bytecode: %v, %v", ok, err)
		}
	}
	wantPyc := pycFiles(t, want)
	if len(wantPyc) != 2 {
		t.Fatalf("compileall wrote %q", wantPyc)
	}
	for _, w := range wantPyc {
		rel, _ := filepath.Rel(want, w)
		a, _ := os.ReadFile(w)
		b, err := os.ReadFile(filepath.Join(got, rel))
		if err != nil || !bytes.Equal(a, b) {
			t.Errorf("%s differs from compileall's (%v)", rel, err)
		}
	}
}

// mustPython is the host interpreter Tools uses.
func mustPython(t *testing.T) string {
	t.Helper()
	py, err := NewTools(cacheDir).Python(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return py
}

// run1 runs python -c code and returns its output.
func run1(t *testing.T, py, code string) string {
	t.Helper()
	out, err := exec.Command(py, "-c", code).Output()
	if err != nil {
		t.Fatal(err)
	}
	return string(out)
}
