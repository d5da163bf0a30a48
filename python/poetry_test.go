package python

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
)

// The poetry project of these tests: a service with a path dependency on a lib of its
// repository (with a dependency of its own), a pin, a package only Windows needs, and a dev
// group. The source is PyPI's simple index as a primary source: poetry's built-in PyPI
// repository reads the per-version JSON API, which not every mirror serves.
const (
	poetryLibProject = `[project]
name = "shared"
version = "0.1.0"
requires-python = ">=3.11"
dependencies = ["idna==3.7"]

[build-system]
requires = ["poetry-core>=2.0"]
build-backend = "poetry.core.masonry.api"
`
	poetrySvcProject = `[tool.poetry]
package-mode = false

[tool.poetry.dependencies]
python = "^3.11"
six = "1.16.0"
colorama = {version = "0.4.6", markers = "sys_platform == 'win32'"}
shared = {path = "../../libs/shared", develop = true}

[tool.poetry.group.dev.dependencies]
iniconfig = "2.0.0"

[[tool.poetry.source]]
name = "pypi-simple"
url = "https://pypi.org/simple/"
priority = "primary"
`
)

var (
	poetryOnce     sync.Once
	poetryTemplate string // a repository with the project locked by the real poetry
	poetryErr      error
)

// testPoetry is poetry PoetryVersion, provisioned (once) into the tests' cache.
func testPoetry(t *testing.T) *Poetry {
	t.Helper()
	needPyPI(t)
	p, err := NewTools(cacheDir).Poetry(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// poetryRepo returns a new repository holding the tests' poetry project (services/api and
// libs/shared) and its poetry.lock, as `poetry lock` wrote it once for all tests.
func poetryRepo(t *testing.T) Project {
	t.Helper()
	po := testPoetry(t)
	poetryOnce.Do(func() { poetryTemplate, poetryErr = lockPoetryProject(po) })
	if poetryErr != nil {
		t.Fatalf("locking the test project: %v", poetryErr)
	}
	root := t.TempDir()
	if err := os.CopyFS(root, os.DirFS(poetryTemplate)); err != nil {
		t.Fatal(err)
	}
	return Project{Root: root, Dir: "services/api", Name: "api"}
}

// lockPoetryProject writes the tests' project into a new directory and locks it with po.
func lockPoetryProject(po *Poetry) (string, error) {
	root, err := os.MkdirTemp("", "convoy-poetry-")
	if err != nil {
		return "", err
	}
	files := map[string]string{
		"libs/shared/pyproject.toml":     poetryLibProject,
		"libs/shared/shared/__init__.py": "NAME = 'shared'\n",
		"services/api/pyproject.toml":    poetrySvcProject,
	}
	for name, content := range files {
		p := filepath.Join(root, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return root, err
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			return root, err
		}
	}
	argv := []string{po.Path, "lock", "--no-interaction", "--no-ansi"}
	return root, run(context.Background(), argv, Exec{Dir: filepath.Join(root, "services/api"), Env: po.Env(nil)}, nil)
}

// install does what an engine does with an Installation: a new virtualenv, then the commands
// in the service directory with it activated and poetry's placeholder resolved. It returns
// the virtualenv, or the first command's error.
func install(t *testing.T, p Project, inst Installation) (string, error) {
	t.Helper()
	uv, python := testUVPython(t)
	venv := filepath.Join(t.TempDir(), "venv")
	if err := run(context.Background(), VenvArgv(inst.Installer, uv.Path, python, venv), Exec{Env: uv.Env(nil)}, nil); err != nil {
		t.Fatal(err)
	}
	for _, argv := range inst.Commands {
		if _, err := runActivated(p, venv, inst.Env, argv); err != nil {
			return venv, err
		}
	}
	return venv, nil
}

// emptyVenv is a new virtualenv made by uv.
func emptyVenv(t *testing.T) string {
	t.Helper()
	uv, python := testUVPython(t)
	venv := filepath.Join(t.TempDir(), "venv")
	if err := run(context.Background(), VenvArgv(InstallerUV, uv.Path, python, venv), Exec{Env: uv.Env(nil)}, nil); err != nil {
		t.Fatal(err)
	}
	return venv
}

// runActivated runs argv as engines run Install's commands (a stage's environment: PATH,
// HOME, the virtualenv, the host's network settings; the placeholder resolved, with its
// program's settings, by the tests' tools) and returns its standard output.
func runActivated(p Project, venv string, env map[string]string, argv []string) (string, error) {
	vars := []string{"PATH=" + filepath.Join(venv, "bin") + ":" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME"), "VIRTUAL_ENV=" + venv}
	for _, k := range HostNetVars {
		if v, ok := os.LookupEnv(k); ok {
			vars = append(vars, k+"="+v)
		}
	}
	for k, v := range env {
		vars = append(vars, k+"="+v)
	}
	tools := NewTools(cacheDir)
	ctx := context.Background()
	vars, err := tools.ProgramEnv(ctx, argv, vars)
	if err != nil {
		return "", err
	}
	if argv, err = tools.Resolve(ctx, argv); err != nil {
		return "", err
	}
	var out strings.Builder
	err = run(ctx, argv, Exec{Dir: filepath.Join(p.Root, p.Dir), Env: vars}, &out)
	return out.String(), err
}

func poetryT(t *testing.T) Tool {
	t.Helper()
	tool, ok := ToolNamed("poetry")
	if !ok {
		t.Fatal(`no tool named "poetry"`)
	}
	return tool
}

// TestProvisionPoetry provisions poetry into a new tools directory from two goroutines at
// once (two convoy processes would take the same file lock): both get the one poetry, which
// answers with its version and has the export plugin; a third call finds it. A poetry that
// does not answer is provisioned again.
func TestProvisionPoetry(t *testing.T) {
	if testing.Short() {
		t.Skip("provisions poetry or installs with it (~10 s); skipped with -short")
	}
	uv, python := testUVPython(t)
	ctx := context.Background()
	tools := filepath.Join(t.TempDir(), "tools")
	var wg sync.WaitGroup
	paths, errs := make([]string, 2), make([]error, 2)
	for i := range paths {
		wg.Go(func() { paths[i], errs[i] = ProvisionPoetry(ctx, tools, uv, python) })
	}
	wg.Wait()
	want := filepath.Join(tools, "poetry-"+PoetryVersion, "bin", "poetry")
	for i := range paths {
		if errs[i] != nil || paths[i] != want {
			t.Fatalf("ProvisionPoetry = %q, %v; want %s", paths[i], errs[i], want)
		}
	}
	if v, err := poetryVersion(ctx, want); err != nil || v != PoetryVersion {
		t.Errorf("poetry --version = %q, %v", v, err)
	}
	var out strings.Builder
	if err := run(ctx, []string{want, "export", "--help", "--no-ansi"}, Exec{}, &out); err != nil || !strings.Contains(out.String(), "--without-hashes") {
		t.Errorf("poetry export --help: %v\n%s", err, out.String())
	}
	entries, _ := os.ReadDir(tools)
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), ".poetry-") {
			t.Errorf("a temporary install is left behind: %s", e.Name())
		}
	}

	stat, _ := os.Stat(want)
	if again, err := ProvisionPoetry(ctx, tools, uv, python); err != nil || again != want {
		t.Fatalf("again: %q, %v", again, err)
	}
	if now, _ := os.Stat(want); !os.SameFile(stat, now) {
		t.Error("provisioning again replaced a poetry that answers")
	}

	if err := os.WriteFile(want, []byte("#!/bin/sh\nexit 3\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	if _, err := ProvisionPoetry(ctx, tools, uv, python); err != nil {
		t.Fatal(err)
	}
	if v, err := poetryVersion(ctx, want); err != nil || v != PoetryVersion {
		t.Errorf("a broken poetry was not provisioned again: %q, %v", v, err)
	}
}

// TestPoetryInstall installs the project into a new virtualenv (made by uv: no pip in it):
// the main and dev groups at the lock's versions and the lib editable, nothing for another
// platform; poetry makes no virtualenv of its own and writes nothing in the repository.
func TestPoetryInstall(t *testing.T) {
	if testing.Short() {
		t.Skip("provisions poetry or installs with it (~10 s); skipped with -short")
	}
	p, po := poetryRepo(t), testPoetry(t)
	virtualenvs := filepath.Join(po.CacheDir, "virtualenvs")
	before, _ := os.ReadDir(virtualenvs)
	lock := readFile(t, filepath.Join(p.Root, "services/api/poetry.lock"))
	inst, err := poetryT(t).Install(p, InstallOptions{Installer: InstallerUV})
	if err != nil {
		t.Fatal(err)
	}
	if inst.Installer != InstallerUV {
		t.Errorf("installer %q, want uv", inst.Installer)
	}
	venv, err := install(t, p, inst)
	if err != nil {
		t.Fatal(err)
	}
	got, err := Freeze(venv)
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"idna==3.7", "iniconfig==2.0.0", "six==1.16.0"}; !slices.Equal(got, want) {
		t.Errorf("installed %q, want %q (and the lib, editable)", got, want)
	}
	if _, err := os.Stat(filepath.Join(venv, "lib", "python3.11", "site-packages", "shared.pth")); err != nil {
		t.Errorf("the lib is not installed editable: %v", err)
	}
	if after, _ := os.ReadDir(virtualenvs); len(after) != len(before) {
		t.Errorf("poetry made a virtualenv of its own in %s: %v", virtualenvs, after)
	}
	if after := readFile(t, filepath.Join(p.Root, "services/api/poetry.lock")); after != lock {
		t.Error("poetry install rewrote poetry.lock")
	}
	entries, _ := os.ReadDir(filepath.Join(p.Root, "services/api"))
	if len(entries) != 2 {
		t.Errorf("the service directory holds %v, want pyproject.toml and poetry.lock only", entries)
	}
}

// TestPoetryInstallRefuses: a missing lock is refused before anything runs; a stale one by
// poetry, which says what to do, and leaves it as it was.
func TestPoetryInstallRefuses(t *testing.T) {
	p := poetryRepo(t)
	tool := poetryT(t)
	lockFile := filepath.Join(p.Root, "services/api/poetry.lock")
	lock := readFile(t, lockFile)

	write(t, p.Root, "services/api/pyproject.toml", strings.Replace(poetrySvcProject, `six = "1.16.0"`, `six = "1.17.0"`, 1))
	inst, err := tool.Install(p, InstallOptions{})
	if err != nil {
		t.Fatal(err)
	}
	_, err = install(t, p, inst)
	var te *ToolError
	if !errors.As(err, &te) || !strings.Contains(te.Stderr, "pyproject.toml changed significantly since poetry.lock was last generated. Run `poetry lock`") {
		t.Errorf("stale lock: error = %v, want poetry's", err)
	}
	if readFile(t, lockFile) != lock {
		t.Error("poetry rewrote the stale lock")
	}

	if err := os.Remove(lockFile); err != nil {
		t.Fatal(err)
	}
	_, err = tool.Install(p, InstallOptions{})
	if err == nil || !strings.Contains(err.Error(), `service "api" uses poetry but services/api/poetry.lock does not exist: run `+"`poetry lock`") {
		t.Errorf("missing lock: error = %v", err)
	}
}

// TestPoetryRuntime: the export lists the main group's closure (the lib's dependency
// included) pinned, markers kept, and neither the dev group nor the lib itself.
func TestPoetryRuntime(t *testing.T) {
	p := poetryRepo(t)
	rt := poetryT(t).Runtime(p)
	if rt.File != "" || len(rt.Argv) == 0 {
		t.Fatalf("runtime %+v, want a command", rt)
	}
	out, err := runActivated(p, emptyVenv(t), rt.Env, rt.Argv)
	if err != nil {
		t.Fatal(err)
	}
	lines := Pins(out)
	want := []string{
		`colorama==0.4.6 ; python_version >= "3.11" and python_version < "4.0" and sys_platform == "win32"`,
		`idna==3.7 ; python_version >= "3.11" and python_version < "4.0"`,
		`six==1.16.0 ; python_version >= "3.11" and python_version < "4.0"`,
	}
	if !slices.Equal(lines, want) || !strings.Contains(out, "--index-url https://pypi.org/simple") {
		t.Errorf("requirements %q, want %q and the index, from:\n%s", lines, want, out)
	}
}

// TestPoetryFreeze: the lock is frozen as it is when it describes the gated environment, and
// refused when the environment holds another version, a package it does not lock, or lacks
// one, or when the lock is stale.
func TestPoetryFreeze(t *testing.T) {
	if testing.Short() {
		t.Skip("provisions poetry or installs with it (~10 s); skipped with -short")
	}
	p := poetryRepo(t)
	uv := testUV(t)
	tool := poetryT(t)
	inst, err := tool.Install(p, InstallOptions{})
	if err != nil {
		t.Fatal(err)
	}
	venv, err := install(t, p, inst)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	e := Env{Venv: venv, Tools: NewTools(cacheDir)}
	got, err := tool.Freeze(ctx, p, e)
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != readFile(t, filepath.Join(p.Root, "services/api/poetry.lock")) {
		t.Error("Freeze did not return the lock as it is")
	}

	uvPip := func(args ...string) {
		t.Helper()
		argv := append([]string{uv.Path, "pip"}, args...)
		argv = append(argv, "--no-config", "--quiet", "--python", filepath.Join(venv, "bin", "python"))
		if err := run(ctx, argv, Exec{Env: uv.Env(nil)}, nil); err != nil {
			t.Fatal(err)
		}
	}
	steps := []struct {
		name  string
		do    func()
		wants []string
	}{
		{"another version", func() { uvPip("install", "six==1.17.0") }, []string{"six is installed at 1.17.0 but locked at 1.16.0"}},
		{"an unlocked package", func() { uvPip("install", "six==1.16.0", "pluggy==1.5.0") }, []string{"pluggy==1.5.0 is installed but not locked"}},
		{"a missing one", func() { uvPip("uninstall", "pluggy", "idna") }, []string{"idna 3.7 is locked but not installed"}},
	}
	for _, s := range steps {
		s.do()
		_, err := tool.Freeze(ctx, p, e)
		for _, w := range append(s.wants, "services/api/poetry.lock does not describe the environment "+venv) {
			if err == nil || !strings.Contains(err.Error(), w) {
				t.Errorf("%s: error = %v, want %q", s.name, err, w)
			}
		}
	}

	uvPip("install", "idna==3.7")
	if _, err := tool.Freeze(ctx, p, e); err != nil {
		t.Fatalf("the environment is as locked again: %v", err)
	}
	write(t, p.Root, "services/api/pyproject.toml", strings.Replace(poetrySvcProject, `iniconfig = "2.0.0"`, `iniconfig = "2.1.0"`, 1))
	if _, err := tool.Freeze(ctx, p, e); err == nil || !strings.Contains(err.Error(), "checking services/api/poetry.lock against services/api/pyproject.toml") {
		t.Errorf("stale lock: error = %v", err)
	}
}

// TestPoetryPinsRealLock reads the lock the real poetry wrote.
func TestPoetryPinsRealLock(t *testing.T) {
	p := poetryRepo(t)
	pins, err := poetryT(t).Pins([]byte(readFile(t, filepath.Join(p.Root, "services/api/poetry.lock"))))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"six": "1.16.0", "colorama": "0.4.6", "idna": "3.7", "iniconfig": "2.0.0", "shared": "@ ../../libs/shared"}
	if len(pins) != len(want) {
		t.Errorf("pins %v, want %v", pins, want)
	}
	for k, v := range want {
		if pins[k] != v {
			t.Errorf("pins[%s] = %q, want %q", k, pins[k], v)
		}
	}
}

func TestPoetryPins(t *testing.T) {
	const meta = "\n[metadata]\nlock-version = \"2.1\"\npython-versions = \"^3.11\"\ncontent-hash = \"x\"\n"
	tests := []struct {
		name, lock string
		want       map[string]string
		wantErr    string
	}{
		{"sources", `[[package]]
name = "Django"
version = "5.2.8"
groups = ["main"]

[[package]]
name = "zope.interface"
version = "7.0"

[package.source]
type = "legacy"
url = "https://mirror.example/simple"
reference = "mirror"

[[package]]
name = "lib"
version = "1.0"

[package.source]
type = "git"
url = "https://example.com/lib.git"
reference = "main"
resolved_reference = "abc123"
subdirectory = "py"

[[package]]
name = "wheel_pkg"
version = "2.0"

[package.source]
type = "url"
url = "https://example.com/w-2.0-py3-none-any.whl"
` + meta, map[string]string{"django": "5.2.8", "zope-interface": "7.0", "lib": "@ git+https://example.com/lib.git@abc123#subdirectory=py",
			"wheel-pkg": "@ https://example.com/w-2.0-py3-none-any.whl"}, ""},
		{"empty", meta, map[string]string{}, ""},
		{"not toml", "[[package]]\nname = \"x\"\nversion = 1.0.0\n" + meta, nil, "parsing poetry.lock: line 3, column"},
		{"no metadata", "[[package]]\nname = \"x\"\nversion = \"1\"\n", nil, "no [metadata] table"},
		{"no version", "[[package]]\nname = \"x\"\n" + meta, nil, `[[package]] number 1 ("x") has no name or no version`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := poetryTool{}.Pins([]byte(tt.lock))
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil || len(got) != len(tt.want) {
				t.Fatalf("= %v, %v; want %v", got, err, tt.want)
			}
			for k, v := range tt.want {
				if got[k] != v {
					t.Errorf("[%s] = %q, want %q", k, got[k], v)
				}
			}
		})
	}
}

func TestPoetryUnconditional(t *testing.T) {
	tests := []struct {
		pkg  poetryPackage
		want bool
	}{
		{poetryPackage{Groups: []string{"main"}}, true},
		{poetryPackage{Groups: []string{"main", "dev"}, Markers: map[string]any{"dev": `sys_platform == "win32"`}}, true},
		{poetryPackage{Groups: []string{"main"}, Markers: map[string]any{"main": `sys_platform == "win32"`}}, false},
		{poetryPackage{Groups: []string{"main"}, Markers: `sys_platform == "win32"`}, false},
		{poetryPackage{Groups: []string{"dev"}}, false},
		{poetryPackage{Groups: []string{"main"}, Optional: true}, false},
	}
	for _, tt := range tests {
		if got := tt.pkg.unconditional(); got != tt.want {
			t.Errorf("%+v: unconditional = %v, want %v", tt.pkg, got, tt.want)
		}
	}
}

// TestPoetryResolve: PoetryProgram becomes the provisioned poetry, run with its cache under
// the tools' and without a virtualenv of its own; other commands keep their environment.
func TestPoetryResolve(t *testing.T) {
	po := testPoetry(t)
	tools := NewTools(cacheDir)
	ctx := context.Background()
	argv, err := tools.Resolve(ctx, PoetryInstallArgv())
	if err != nil || argv[0] != po.Path || !slices.Equal(argv[1:], PoetryInstallArgv()[1:]) {
		t.Errorf("Resolve = %q, %v", argv, err)
	}
	env, err := tools.ProgramEnv(ctx, PoetryInstallArgv(), []string{"PATH=/bin", "POETRY_CACHE_DIR=/elsewhere"})
	if err != nil {
		t.Fatal(err)
	}
	for k, want := range map[string]string{"PATH": "/bin", "POETRY_CACHE_DIR": filepath.Join(cacheDir, "poetry"),
		"POETRY_VIRTUALENVS_CREATE": "false", "POETRY_KEYRING_ENABLED": "false"} {
		if v, _ := lookupEnv(env, k); v != want {
			t.Errorf("%s = %q, want %q", k, v, want)
		}
	}
	if env, err := tools.ProgramEnv(ctx, []string{"python", "-m", "pytest"}, []string{"A=1"}); err != nil || !slices.Equal(env, []string{"A=1"}) {
		t.Errorf("ProgramEnv(python) = %q, %v", env, err)
	}
}

func TestParsePoetryVersion(t *testing.T) {
	tests := []struct{ out, want, wantErr string }{
		{"Poetry (version 2.5.1)\n", "2.5.1", ""},
		{"Poetry version 2", "", `printed "Poetry version 2", not poetry's version`},
		{"", "", "not poetry's version"},
	}
	for _, tt := range tests {
		got, err := parsePoetryVersion("/x/poetry", tt.out)
		if tt.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("%q: error = %v, want %q", tt.out, err, tt.wantErr)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("%q: = %q, %v; want %q", tt.out, got, err, tt.want)
		}
	}
}

func readFile(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
