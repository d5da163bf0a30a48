package python

import (
	"bytes"
	"context"
	"io/fs"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"syscall"
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

// importIn runs the virtualenv's interpreter in a stage's environment (StageEnv: bytecode
// written under PYTHONPYCACHEPREFIX) and imports module, printing what f returns.
func importIn(t *testing.T, venv, module string) string {
	t.Helper()
	cmd := exec.Command(filepath.Join(venv, "bin", "python"), "-c", "import "+module+"; print("+module+".f())")
	for k, v := range StageEnv(venv, t.TempDir(), os.Getenv("PATH"), nil) {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
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
	if _, placed, err := tools.PlaceBytecode(context.Background(), a, "/app/site-packages", false); err != nil || placed != 0 {
		t.Fatalf("with an empty store: placed %d (%v), want 0", placed, err)
	}
	layer := t.TempDir()
	for name, content := range files {
		write(t, layer, name, content)
	}
	version := minorVersion(t, py)
	if ok, err := tools.Bytecode(context.Background(), Target{Version: version + ".0"}, layer, "/app/site-packages", Exec{}); err != nil || !ok {
		t.Fatalf("Bytecode: %v, %v", ok, err)
	}
	b := newVenv(t, t.TempDir(), map[string]string{"pkg/__init__.py": "", "pkg/mod.py": files["pkg/mod.py"],
		"broken.py": files["broken.py"], "other.py": "def f():\n    return 'other'\n"})
	_, placed, err := tools.PlaceBytecode(context.Background(), b, "/app/site-packages", false)
	if err != nil || placed != 2 {
		t.Fatalf("placed %d (%v), want pkg/__init__ and pkg/mod", placed, err)
	}
	sitePyc := func() []string { // the standard library's are TestLinkStdlibBytecode's
		var out []string
		for _, p := range pycFiles(t, filepath.Join(b, PycacheDir)) {
			if strings.Contains(p, "/site-packages/") {
				out = append(out, p)
			}
		}
		return out
	}
	before := sitePyc()
	if got := importIn(t, b, "pkg.mod"); got != "one" {
		t.Errorf("pkg.mod.f() = %q", got)
	}
	if after := sitePyc(); len(after) != len(before) {
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
	compileallImage(t, py, want)
	version := minorVersion(t, py)
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

// TestLinkStdlibBytecode: a new virtualenv's interpreter, run as stages run it, compiles no
// module of the standard library it imports when its bytecode is linked (it compiled dozens
// before), and a linked .pyc it finds stale is replaced in the prefix, not written through.
func TestLinkStdlibBytecode(t *testing.T) {
	venv := newVenv(t, t.TempDir(), map[string]string{"probe.py": "import json, decimal, argparse\ndef f():\n    return 'ok'\n"})
	prefix := filepath.Join(venv, PycacheDir)
	unlinked := newVenv(t, t.TempDir(), map[string]string{"probe.py": "import json, decimal, argparse\ndef f():\n    return 'ok'\n"})
	importIn(t, unlinked, "probe")
	if compiled := regularPyc(t, filepath.Join(unlinked, PycacheDir)); len(compiled) < 5 {
		t.Fatalf("without links the interpreter compiled only %q: the test proves nothing", compiled)
	}
	n, err := LinkStdlibBytecode(context.Background(), venv)
	if err != nil || n < 100 {
		t.Fatalf("LinkStdlibBytecode: %d linked (%v), want the standard library's", n, err)
	}
	if got := importIn(t, venv, "probe"); got != "ok" {
		t.Fatalf("probe.f() = %q", got)
	}
	compiled := regularPyc(t, prefix)
	for _, p := range compiled {
		if !strings.Contains(p, string(filepath.Separator)+"site-packages"+string(filepath.Separator)) {
			t.Errorf("the interpreter compiled %s although its standard library's bytecode was linked", p)
		}
	}
	if again, err := LinkStdlibBytecode(context.Background(), venv); err != nil || again != n {
		t.Errorf("linking again: %d (%v), want %d", again, err, n)
	}
}

// regularPyc lists the .pyc files under dir that are files (what an interpreter wrote), not links.
func regularPyc(t *testing.T, dir string) []string {
	t.Helper()
	var out []string
	for _, p := range pycFiles(t, dir) {
		if st, err := os.Lstat(p); err == nil && st.Mode().IsRegular() {
			out = append(out, p)
		}
	}
	return out
}

// variantRE matches a stored .pyc's variant of other header flags.
var variantRE = regexp.MustCompile(`\.f\d+\.pyc$`)

// TestCompileVenv: a virtualenv compiled into the store (as a run that builds the image does
// at its deps stage) gets every module's bytecode placed, so its interpreter compiles none of
// them; the image's dependency layer holding the same files then compiles nothing more and
// has, byte for byte, what compileall writes for the image.
func TestCompileVenv(t *testing.T) {
	py := mustPython(t)
	files := map[string]string{
		"pkg/__init__.py": "X = {'a', 'b', 'c'}\n",
		"pkg/mod.py":      "def f():\n    return 'one'\n",
	}
	tools := NewTools(t.TempDir(), WithPython(py))
	venv := newVenv(t, t.TempDir(), files)
	n, placed, err := tools.PlaceBytecode(context.Background(), venv, "/app/site-packages", true)
	if err != nil || n != 2 {
		t.Fatalf("PlaceBytecode compiling: compiled %d (%v), want 2", n, err)
	}
	if placed != 2 {
		t.Fatalf("PlaceBytecode compiling: placed %d, want 2", placed)
	}
	before := inodes(t, filepath.Join(venv, PycacheDir, venv))
	importIn(t, venv, "pkg.mod")
	if after := inodes(t, filepath.Join(venv, PycacheDir, venv)); !maps.Equal(before, after) || len(after) != 2 {
		t.Errorf("the interpreter compiled: bytecode files %v, were %v", after, before)
	}
	store := pycFiles(t, BytecodeDir(tools.CacheDir()))
	want, layer := t.TempDir(), t.TempDir()
	for name, content := range files {
		write(t, want, name, content)
		write(t, layer, name, content)
	}
	compileallImage(t, py, want)
	version := minorVersion(t, py)
	if ok, err := tools.Bytecode(context.Background(), Target{Version: version + ".0"}, layer, "/app/site-packages", Exec{}); err != nil || !ok {
		t.Fatalf("Bytecode: %v, %v", ok, err)
	}
	compiled := func(files []string) []string { // the store's own, not the variants it keeps (KEY.fN.pyc)
		return slices.DeleteFunc(files, func(f string) bool { return variantRE.MatchString(f) })
	}
	if after := compiled(pycFiles(t, BytecodeDir(tools.CacheDir()))); len(after) != len(store) {
		t.Errorf("the image's layer compiled again: the store had %d files, has %d", len(store), len(after))
	}
	// A second layer of the same files links the bytecode the first one's got: no copy of its own.
	second := t.TempDir()
	for name, content := range files {
		write(t, second, name, content)
	}
	if ok, err := tools.Bytecode(context.Background(), Target{Version: version + ".0"}, second, "/app/site-packages", Exec{}); err != nil || !ok {
		t.Fatalf("Bytecode: %v, %v", ok, err)
	}
	for _, p := range pycFiles(t, layer) {
		rel, _ := filepath.Rel(layer, p)
		a, errA := os.Stat(p)
		b, errB := os.Stat(filepath.Join(second, rel))
		if errA != nil || errB != nil || !os.SameFile(a, b) {
			t.Errorf("%s: the second layer's is not the first one's file (%v, %v)", rel, errA, errB)
		}
	}
	for _, w := range pycFiles(t, want) {
		rel, _ := filepath.Rel(want, w)
		a, _ := os.ReadFile(w)
		if b, err := os.ReadFile(filepath.Join(layer, rel)); err != nil || !bytes.Equal(a, b) {
			t.Errorf("%s differs from compileall's (%v)", rel, err)
		}
	}
}

// inodes maps each .pyc under dir to its inode: a file an interpreter wrote (it replaces, never
// writes in place) has a new one.
func inodes(t *testing.T, dir string) map[string]uint64 {
	t.Helper()
	out := map[string]uint64{}
	for _, p := range pycFiles(t, dir) {
		if st, err := os.Lstat(p); err == nil {
			out[p] = st.Sys().(*syscall.Stat_t).Ino
		}
	}
	return out
}

// compileallImage compiles dir as compileall does for an image whose site-packages it is
// (unchecked hash-based, the image's paths): what Bytecode must write byte for byte.
func compileallImage(t *testing.T, py, dir string) {
	t.Helper()
	cmd := exec.Command(py, "-m", "compileall", "-q", "--invalidation-mode", "unchecked-hash", "-s", dir, "-p", "/app/site-packages", dir)
	cmd.Env = append(os.Environ(), "PYTHONHASHSEED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("compileall: %v\n%s", err, out)
	}
}

// minorVersion is the interpreter py's major.minor version.
func minorVersion(t *testing.T, py string) string {
	t.Helper()
	return strings.TrimSpace(run1(t, py, "import sys; print('%d.%d' % sys.version_info[:2])"))
}
