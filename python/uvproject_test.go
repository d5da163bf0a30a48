package python

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// uvWorkspaceFiles is a uv workspace: a service (services/api) that depends on a lib of the
// workspace (libs/kit, which depends on idna), with a dev group of its own; a dev group at the
// root that is not the service's; and a project under the root that is not a member.
var uvWorkspaceFiles = map[string]string{
	"pyproject.toml": `[tool.uv.workspace]
members = ["services/*", "libs/*"]
exclude = ["services/legacy"]

[dependency-groups]
dev = ["packaging==24.1"]
`,
	"services/api/pyproject.toml": `[project]
name = "api"
version = "0.1.0"
requires-python = ">=3.11"
dependencies = ["six==1.16.0", "kit", "colorama==0.4.6; sys_platform == 'win32'"]

[dependency-groups]
dev = ["iniconfig==2.0.0"]

[tool.uv.sources]
kit = { workspace = true }
`,
	"libs/kit/pyproject.toml": `[project]
name = "kit"
version = "0.1.0"
requires-python = ">=3.11"
dependencies = ["idna==3.7"]

[build-system]
requires = ["hatchling"]
build-backend = "hatchling.build"
`,
	"libs/kit/kit/__init__.py": "",
	"services/legacy/pyproject.toml": `[project]
name = "legacy"
version = "0.1.0"
requires-python = ">=3.11"
dependencies = []
`,
	"tools/solo/pyproject.toml": `[project]
name = "solo"
version = "0.1.0"
requires-python = ">=3.11"
dependencies = []
`,
}

// writeTree writes files (slash paths) under a new directory and returns it.
func writeTree(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, content := range files {
		write(t, dir, filepath.FromSlash(name), content)
	}
	return dir
}

func TestUVProjectLayout(t *testing.T) {
	root := writeTree(t, uvWorkspaceFiles)
	tool := MustTool("uv")
	tests := []struct {
		dir    string
		lock   string
		inputs []string
	}{
		{"services/api", "uv.lock", []string{"services/api/pyproject.toml", "uv.lock", "uv.toml", "pyproject.toml", "libs/kit/pyproject.toml"}},
		{"libs/kit", "uv.lock", []string{"libs/kit/pyproject.toml", "uv.lock", "uv.toml", "pyproject.toml", "services/api/pyproject.toml"}},
		{".", "uv.lock", []string{"pyproject.toml", "uv.lock", "uv.toml", "libs/kit/pyproject.toml", "services/api/pyproject.toml"}},
		// Excluded, or matched by no members glob: a project of its own, as uv has it.
		{"services/legacy", "services/legacy/uv.lock", []string{"services/legacy/pyproject.toml", "services/legacy/uv.lock", "services/legacy/uv.toml"}},
		{"tools/solo", "tools/solo/uv.lock", []string{"tools/solo/pyproject.toml", "tools/solo/uv.lock", "tools/solo/uv.toml"}},
	}
	for _, tt := range tests {
		t.Run(tt.dir, func(t *testing.T) {
			p := Project{Root: root, Dir: tt.dir, Name: "svc"}
			if got := tool.Lock(p); got != tt.lock {
				t.Errorf("Lock = %q, want %q", got, tt.lock)
			}
			if got := tool.Inputs(p); !slices.Equal(got, tt.inputs) {
				t.Errorf("Inputs = %q, want %q", got, tt.inputs)
			}
			if got, want := tool.Spec(p), filepath.ToSlash(filepath.Join(tt.dir, "pyproject.toml")); got != want {
				t.Errorf("Spec = %q, want %q", got, want)
			}
		})
	}
}

func TestUVProjectInstallErrors(t *testing.T) {
	tests := []struct {
		name  string
		files map[string]string
		dir   string
		want  string
	}{
		{"no lock", uvWorkspaceFiles, "services/api",
			"service svc (deps: uv) has no lock: uv.lock: stat"},
		{"no lock at the root", uvWorkspaceFiles, "services/api", "run `uv lock` in the repository root and commit uv.lock"},
		{"no lock of its own", uvWorkspaceFiles, "tools/solo", "has no lock: tools/solo/uv.lock"},
		{"a bad workspace root", map[string]string{
			"pyproject.toml":              "[tool.uv.workspace]\nmembers = [\"services/*\"\n",
			"services/api/pyproject.toml": "[project]\nname = \"api\"\n",
		}, "services/api", "reading pyproject.toml:2:"},
		{"members not a list", map[string]string{
			"pyproject.toml":              "[tool.uv]\nworkspace = { members = \"services/*\" }\n",
			"services/api/pyproject.toml": "[project]\nname = \"api\"\n",
		}, "services/api", "reading pyproject.toml:2:"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root := writeTree(t, tt.files)
			_, err := MustTool("uv").Install(Project{Root: root, Dir: tt.dir, Name: "svc"}, InstallOptions{})
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error = %v, want %q", err, tt.want)
			}
		})
	}
}

// uvRun runs a command of an Installation or a Runtime as engines do: in the service
// directory, the virtualenv activated, its VenvVars set, uv's settings and path given; it
// returns the standard output.
func uvRun(ctx context.Context, uv *UV, p Project, venv string, vars []string, argv []string) (string, error) {
	env := []string{"PATH=" + filepath.Join(venv, "bin") + ":" + os.Getenv("PATH"), "VIRTUAL_ENV=" + venv, "HOME=" + os.Getenv("HOME")}
	for _, k := range HostNetVars {
		if v, ok := os.LookupEnv(k); ok {
			env = append(env, k+"="+v)
		}
	}
	env = uv.Env(env)
	for _, v := range vars {
		env = append(env, v+"="+venv)
	}
	var out strings.Builder
	err := run(ctx, ResolveUV(argv, uv.Path), Exec{Dir: filepath.Join(p.Root, p.Dir), Env: env}, &out)
	return out.String(), err
}

// uvInstall makes a virtualenv and runs inst's commands into it, as an engine does.
func uvInstall(ctx context.Context, t *testing.T, uv *UV, python string, p Project, inst Installation) (string, error) {
	t.Helper()
	venv := filepath.Join(t.TempDir(), "venv")
	if err := run(ctx, VenvArgv(inst.Installer, uv.Path, python, venv), Exec{Env: uv.Env(nil)}, nil); err != nil {
		t.Fatal(err)
	}
	for _, argv := range inst.Commands {
		if _, err := uvRun(ctx, uv, p, venv, inst.VenvVars, argv); err != nil {
			return venv, err
		}
	}
	return venv, nil
}

// TestUVProjectWorkspace runs the tool's commands with the real uv on a workspace locked by
// uv itself: the service gets its dependencies, its lib's and its dev group, and nothing
// else; its image gets the runtime ones; a release freezes the shared uv.lock — unless the
// virtualenv or the pyproject.toml files moved away from it.
func TestUVProjectWorkspace(t *testing.T) {
	uv, python := testUVPython(t)
	ctx := context.Background()
	root := writeTree(t, uvWorkspaceFiles)
	if err := run(ctx, []string{uv.Path, "lock", "--python", python}, Exec{Dir: root, Env: uv.Env(nil)}, nil); err != nil {
		t.Fatal(err)
	}
	tool := MustTool("uv")
	p := Project{Root: root, Dir: "services/api", Name: "api"}
	inst, err := tool.Install(p, InstallOptions{Installer: InstallerPip})
	if err != nil {
		t.Fatal(err)
	}
	if inst.Installer != InstallerUV {
		t.Errorf("Installer = %q, want uv's virtualenv", inst.Installer)
	}
	venv, err := uvInstall(ctx, t, uv, python, p, inst)
	if err != nil {
		t.Fatal(err)
	}
	frozen, err := Freeze(venv)
	if err != nil {
		t.Fatal(err)
	}
	// The lib (kit) comes from the source tree, as in images; the root's dev group is not the service's.
	if want := []string{"idna==3.7", "iniconfig==2.0.0", "six==1.16.0"}; !slices.Equal(frozen, want) {
		t.Errorf("the virtualenv holds %q, want %q", frozen, want)
	}

	out, err := uvRun(ctx, uv, p, venv, inst.VenvVars, tool.Runtime(p).Argv)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"colorama==0.4.6 ; sys_platform == 'win32'", "idna==3.7", "six==1.16.0"}
	if got := Pins(out); !slices.Equal(got, want) {
		t.Errorf("runtime requirements %q, want %q", got, want)
	}

	lock, err := tool.Freeze(ctx, p, Env{Venv: venv, Tools: NewTools(cacheDir)})
	if err != nil {
		t.Fatal(err)
	}
	committed, _ := os.ReadFile(filepath.Join(root, "uv.lock"))
	if string(lock) != string(committed) {
		t.Error("Freeze did not return the workspace's uv.lock")
	}
	pins, err := tool.Pins(lock)
	if err != nil {
		t.Fatal(err)
	}
	for name, v := range map[string]string{"six": "1.16.0", "idna": "3.7", "iniconfig": "2.0.0", "colorama": "0.4.6", "packaging": "24.1"} {
		if pins[name] != v {
			t.Errorf("Pins[%s] = %q, want %q", name, pins[name], v)
		}
	}
	for _, member := range []string{"api", "kit", "legacy"} {
		if v, ok := pins[member]; ok {
			t.Errorf("Pins has the workspace member %s (%q)", member, v)
		}
	}

	t.Run("a virtualenv the lock does not describe", func(t *testing.T) {
		other := []string{UVProgram, "pip", "install", "--no-config", "six==1.17.0"}
		if _, err := uvRun(ctx, uv, p, venv, nil, other); err != nil {
			t.Fatal(err)
		}
		_, err := tool.Freeze(ctx, p, Env{Venv: venv, Tools: NewTools(cacheDir)})
		if err == nil || !strings.Contains(err.Error(), "six is installed at 1.17.0 but locked at 1.16.0") {
			t.Errorf("error = %v, want the version uv.lock does not pin", err)
		}
	})

	t.Run("a stale lock", func(t *testing.T) {
		spec := filepath.Join(root, "libs", "kit", "pyproject.toml")
		data, _ := os.ReadFile(spec)
		write(t, root, "libs/kit/pyproject.toml", strings.Replace(string(data), "idna==3.7", "idna==3.6", 1))
		_, err := uvInstall(ctx, t, uv, python, p, inst)
		if err == nil || !strings.Contains(err.Error(), "needs to be updated") || !strings.Contains(err.Error(), "run `uv lock`") {
			t.Errorf("install error = %v, want uv's stale lock message", err)
		}
		_, err = tool.Freeze(ctx, p, Env{Venv: venv, Tools: NewTools(cacheDir)})
		if err == nil || !strings.Contains(err.Error(), "uv.lock for service api: checking that the lock is current") ||
			!strings.Contains(err.Error(), "run `uv lock`") {
			t.Errorf("freeze error = %v, want uv's stale lock message", err)
		}
	})
}

func TestUVProjectPins(t *testing.T) {
	lock := `version = 1
requires-python = ">=3.11"

[manifest]
members = ["api", "kit"]

[[package]]
name = "api"
version = "0.1.0"
source = { virtual = "services/api" }

[[package]]
name = "kit"
version = "0.1.0"
source = { editable = "libs/kit" }

[[package]]
name = "Django"
version = "5.2.1"
source = { registry = "https://pypi.org/simple" }

[[package]]
name = "numpy"
version = "2.0.2"
source = { registry = "https://pypi.org/simple" }
resolution-markers = ["python_full_version < '3.12'"]

[[package]]
name = "numpy"
version = "2.3.0"
source = { registry = "https://pypi.org/simple" }

[[package]]
name = "flask"
version = "3.1.0"
source = { git = "https://github.com/pallets/flask?rev=main#0123abcd" }

[[package]]
name = "wheelie"
version = "1.0"
source = { url = "https://example.com/wheelie-1.0-py3-none-any.whl" }

[[package]]
name = "vendored"
version = "2.0"
source = { path = "vendor/vendored-2.0.tar.gz" }
`
	got, err := MustTool("uv").Pins([]byte(lock))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"django":   "5.2.1",
		"numpy":    "2.0.2, 2.3.0",
		"flask":    "@ git+https://github.com/pallets/flask@0123abcd",
		"wheelie":  "@ https://example.com/wheelie-1.0-py3-none-any.whl",
		"vendored": "@ vendor/vendored-2.0.tar.gz",
	}
	if len(got) != len(want) {
		t.Errorf("Pins = %q, want %q", got, want)
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("Pins[%s] = %q, want %q", k, got[k], v)
		}
	}
	bad := []struct{ lock, want string }{
		{"[[package]]\nname = \"six\"\nversion = 1.16\n", "reading uv.lock:3:"},
		{"[[package]]\nversion = \"1\"\n", "[[package]] number 1 has no name"},
	}
	for _, b := range bad {
		if _, err := MustTool("uv").Pins([]byte(b.lock)); err == nil || !strings.Contains(err.Error(), b.want) {
			t.Errorf("Pins(%q) error = %v, want %q", b.lock, err, b.want)
		}
	}
}

// TestUVProjectFixture reads testdata/uv-workspace as convoy does: both services share the
// root's uv.lock, which is current (uv export --locked would fail otherwise), and the image of
// a service gets its runtime dependencies and the lib's — not the dev group, nor the lib itself.
func TestUVProjectFixture(t *testing.T) {
	uv, python := testUVPython(t)
	ctx := context.Background()
	root, err := filepath.Abs(filepath.Join("..", "testdata", "uv-workspace"))
	if err != nil {
		t.Fatal(err)
	}
	tool := MustTool("uv")
	lock, err := os.ReadFile(filepath.Join(root, "uv.lock"))
	if err != nil {
		t.Fatal(err)
	}
	pins, err := tool.Pins(lock)
	if err != nil {
		t.Fatal(err)
	}
	venv := filepath.Join(t.TempDir(), "venv")
	if err := run(ctx, VenvArgv(InstallerUV, uv.Path, python, venv), Exec{Env: uv.Env(nil)}, nil); err != nil {
		t.Fatal(err)
	}
	want := []string{"asgiref", "dj-database-url", "django", "djangorestframework", "gunicorn", "psycopg",
		"psycopg-binary", "pyyaml", "sqlparse", "typing-extensions", "tzdata"}
	for _, svc := range []string{"catalog", "orders"} {
		p := Project{Root: root, Dir: "services/" + svc, Name: svc}
		if got := tool.Lock(p); got != "uv.lock" {
			t.Errorf("%s: Lock = %q, want the workspace's uv.lock", svc, got)
		}
		out, err := uvRun(ctx, uv, p, venv, uvVenvVars, tool.Runtime(p).Argv)
		if err != nil {
			t.Fatal(err)
		}
		var names []string
		for _, line := range Pins(out) {
			name, version, _ := strings.Cut(strings.Fields(line)[0], "==")
			names = append(names, name)
			if pins[name] != version {
				t.Errorf("%s: exported %q, the lock pins %s %q", svc, line, name, pins[name])
			}
		}
		if slices.Sort(names); !slices.Equal(names, want) {
			t.Errorf("%s: runtime requirements %q, want %q", svc, names, want)
		}
	}
}

// TestOfflineFirstOnlyExactInstalls: lock installs (hash-pinned requirements, uv sync --locked
// or --frozen) get an offline variant; installs of ranges, other programs and commands already
// offline do not.
func TestOfflineFirstOnlyExactInstalls(t *testing.T) {
	for _, tc := range []struct {
		argv []string
		ok   bool
	}{
		{[]string{UVProgram, "pip", "install", "--no-config", "--require-hashes", "-r", "Pipfile.lock.txt"}, true},
		{uvSyncArgv, true},
		{[]string{UVProgram, "sync", "--frozen"}, true},
		{[]string{UVProgram, "pip", "install", "--no-config", "-r", "requirements-dev.txt"}, false},
		{[]string{UVProgram, "sync"}, false},
		{[]string{"python", "-m", "pip", "install", "--require-hashes", "-r", "x"}, false},
		{append(slices.Clone(uvSyncArgv), "--offline"), false},
	} {
		got, ok := OfflineFirst(tc.argv)
		if ok != tc.ok || (ok && !slices.Equal(got, append(slices.Clone(tc.argv), "--offline"))) {
			t.Errorf("OfflineFirst(%q) = %q, %v; want ok %v", tc.argv, got, ok, tc.ok)
		}
	}
}
