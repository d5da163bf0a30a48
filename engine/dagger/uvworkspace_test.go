package dagger

import (
	"path/filepath"
	"testing"

	"github.com/convoy-ci/convoy/pipeline/config"
	"github.com/convoy-ci/convoy/python"
	"github.com/convoy-ci/convoy/stages"
)

// loadUVWorkspace reads the uv workspace fixture monorepo, testdata/uv-workspace.
func loadUVWorkspace(t *testing.T) *config.Config {
	t.Helper()
	root, err := filepath.Abs(filepath.Join("..", "..", "testdata", "uv-workspace"))
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(config.FileName, root)
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

// TestDepsRecipeUVWorkspace: a member of a uv workspace is installed where the repository's
// layout is kept (its directory under RepoRoot, the root's pyproject.toml and uv.lock above
// it), since uv finds the workspace and its lock from the service's directory up; uv syncs
// into the virtualenv it is told of.
func TestDepsRecipeUVWorkspace(t *testing.T) {
	cfg := loadUVWorkspace(t)
	svc := cfg.Service("catalog")
	got, err := hostEnv(nil).stage(cfg, svc, stage(t, svc, stages.Deps))
	if err != nil {
		t.Fatal(err)
	}
	host := func(rel string) string { return filepath.Join(cfg.Root, filepath.FromSlash(rel)) }
	same(t, "files", got.Files, []fileCopy{
		{Host: host("services/catalog/pyproject.toml"), Path: "/repo/services/catalog/pyproject.toml"},
		{Host: host("uv.lock"), Path: "/repo/uv.lock", Optional: true},
		{Host: host("uv.toml"), Path: "/repo/uv.toml", Optional: true},
		{Host: host("pyproject.toml"), Path: "/repo/pyproject.toml", Optional: true},
		{Host: host("libs/shopkit/pyproject.toml"), Path: "/repo/libs/shopkit/pyproject.toml", Optional: true},
		{Host: host("services/orders/pyproject.toml"), Path: "/repo/services/orders/pyproject.toml", Optional: true},
		{Host: testUV, Path: uvBin, Executable: true},
	})
	if got.Workdir != "/repo/services/catalog" {
		t.Errorf("workdir %q, want the service's directory in the repository's layout", got.Workdir)
	}
	same(t, "execs", got.Execs, []execStep{
		{Argv: []string{uvBin, "venv", "--no-config", "--quiet", "--python", "python3.11", "/convoy/venv"}},
		{Argv: []string{uvBin, "sync", "--locked", "--no-install-workspace"}},
	})
	e := got.envMap()
	for _, k := range []string{"UV_PROJECT_ENVIRONMENT", "UV_PYTHON", "VIRTUAL_ENV"} {
		if e[k] != venvDir {
			t.Errorf("%s = %q, want the virtualenv", k, e[k])
		}
	}

	// The repository's tools file, named from the service's directory, is where that name
	// leads from the working directory.
	svc.Tools = config.Tools{Requirements: "pyproject.toml"} // any file of the root
	got, err = hostEnv(nil).stage(cfg, svc, stages.Frozen(svc, stages.ForService(svc))[0])
	if err != nil {
		t.Fatal(err)
	}
	last := got.Execs[len(got.Execs)-1].Argv
	if want := "../../pyproject.toml"; last[len(last)-1] != want {
		t.Fatalf("last exec %q, want the tools file named %s", last, want)
	}
	if f := got.Files[len(got.Files)-2]; f.Path != "/repo/pyproject.toml" || f.Host != host("pyproject.toml") {
		t.Errorf("tools file copied to %+v, want /repo/pyproject.toml (../../ of the working directory)", f)
	}
}

// TestRequirementsRecipeUV: the image's requirements are what `uv export` prints from the lock,
// run where the deps stage installed, with the virtualenv and uv's settings, then resolved for
// the target like any other tool's.
func TestRequirementsRecipeUV(t *testing.T) {
	cfg := loadUVWorkspace(t)
	svc := cfg.Service("orders")
	got, err := hostEnv(nil).requirements(cfg, svc, imageStage(t, svc), testTarget)
	if err != nil {
		t.Fatal(err)
	}
	export := python.MustTool("uv").Runtime(svc.Project()).Argv
	same(t, "execs", got.Recipe.Execs[1:], []execStep{
		{Argv: python.ResolveUV(export, uvBin), Stdout: "/convoy/resolve/requirements.txt"},
		{Argv: python.CompileArgv(uvBin, python.Compile{Spec: "/convoy/resolve/requirements.txt", Constraints: "/convoy/resolve/constraints.txt",
			Target: testTarget, Python: "/convoy/venv/bin/python"}), Stdout: "/convoy/resolve/pins.txt"},
	})
	if got.Recipe.Workdir != "/repo/services/orders" {
		t.Errorf("workdir %q, want the deps stage's", got.Recipe.Workdir)
	}
	e := got.Recipe.envMap()
	for k, v := range map[string]string{"UV_PROJECT_ENVIRONMENT": venvDir, "UV_PYTHON": venvDir, "UV_CACHE_DIR": uvCacheDir} {
		if e[k] != v {
			t.Errorf("%s = %q, want %q", k, e[k], v)
		}
	}
}
