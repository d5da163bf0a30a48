package dagger

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/convoy-ci/convoy/engine"
	"github.com/convoy-ci/convoy/image"
	"github.com/convoy-ci/convoy/pipeline/config"
	"github.com/convoy-ci/convoy/pipeline/images"
	"github.com/convoy-ci/convoy/python"
	"github.com/convoy-ci/convoy/stages"
)

// imageStage returns svc's image stage, as the plan of convoy build has it.
func imageStage(t *testing.T, svc *config.Service) stages.Stage {
	t.Helper()
	for _, st := range stages.WithImage(svc) {
		if st.Kind == stages.KindImage {
			return st
		}
	}
	t.Fatalf("service %q has no image stage", svc.Name)
	return stages.Stage{}
}

// testTarget is a Debian bookworm image's: not the host's interpreter.
var testTarget = python.Target{Version: "3.11.2", Platform: "x86_64-manylinux_2_36"}

// uvBin is where the recipes install uv in the container.
const uvBin = "/convoy/tools/uv-" + python.UVVersion + "/bin/uv"

func TestRequirementsRecipePip(t *testing.T) {
	cfg := load(t, "services.yaml")
	web := cfg.Service("web")
	tr := hostEnv(map[string]string{"https_proxy": "http://proxy.example:3128", "PIP_INDEX_URL": "https://pypi.example/simple"})
	deps, err := tr.Stage(cfg, web, stage(t, web, stages.Deps))
	if err != nil {
		t.Fatal(err)
	}
	got, err := tr.Requirements(cfg, web, imageStage(t, web), testTarget)
	if err != nil {
		t.Fatal(err)
	}
	// Package python's commands, with the files in the container.
	want := Recipe{
		Service: "web", Stage: "image", Base: deps.Base, From: &deps,
		Dirs:   []string{"/convoy/resolve"},
		Caches: []Cache{{Key: "convoy-pip", Path: "/convoy/cache/pip"}, {Key: "convoy-uv", Path: "/convoy/cache/uv"}},
		Env: env(
			"PATH", "/convoy/venv/bin:${PATH}", "CONVOY_SERVICE", "web", "CONVOY_STAGE", "image", "DJANGO_SETTINGS_MODULE", "web.settings",
			"HOME", "/tmp", "LANG", "C.UTF-8", "PIP_CACHE_DIR", "/convoy/cache/pip", "PIP_INDEX_URL", "https://pypi.example/simple",
			"PYTHONPYCACHEPREFIX", "/convoy/venv/.pycache", "PYTHONPATH", "/app/src:/app/libs/kit", "PYTHONUNBUFFERED", "1", "SHARED", "1",
			"VIRTUAL_ENV", "/convoy/venv", "https_proxy", "http://proxy.example:3128",
			// uv reaches the index pip does, keeps its cache in the volume and downloads no Python.
			"UV_INDEX_URL", "https://pypi.example/simple", "UV_CACHE_DIR", "/convoy/cache/uv",
			"UV_PYTHON_DOWNLOADS", "never", "UV_NO_PROGRESS", "1",
		),
		// The deps stage's uv copied from the cache volume; this one's uv writes only files of
		// its own, so it may link.
		Unset:   []string{"UV_LINK_MODE"},
		Workdir: "/app/src",
		Execs: []Exec{
			{Argv: []string{"python", "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "--no-input",
				"--no-deps", "--only-binary=:all:", "--target", "/convoy/tools/uv-" + python.UVVersion, "uv==" + python.UVVersion}},
			{Argv: []string{uvBin, "pip", "freeze", "--no-config", "--python", "/convoy/venv/bin/python", "--exclude-editable"},
				Stdout: "/convoy/resolve/constraints.txt"},
			{Argv: []string{uvBin, "pip", "compile", "--no-config", "--python", "/convoy/venv/bin/python",
				"--python-version", "3.11.2", "--python-platform", "x86_64-manylinux_2_36",
				"--only-binary", ":all:", "--no-header", "--no-annotate",
				"--constraints", "/convoy/resolve/constraints.txt", "requirements.txt"}, Stdout: "/convoy/resolve/pins.txt"},
		},
		Timeout: 2 * time.Minute,
	}
	same(t, "recipe", got.Recipe, want)
	same(t, "execs as package python's", got.Recipe.Execs, []Exec{
		{Argv: python.UVInstallArgv("python", "/convoy/tools/uv-"+python.UVVersion)},
		{Argv: python.FreezeArgv(uvBin, "/convoy/venv/bin/python"), Stdout: "/convoy/resolve/constraints.txt"},
		{Argv: python.CompileArgv(uvBin, python.Compile{Spec: "requirements.txt", Constraints: "/convoy/resolve/constraints.txt",
			Target: testTarget, Python: "/convoy/venv/bin/python"}), Stdout: "/convoy/resolve/pins.txt"},
	})
	if got.Output != "/convoy/resolve/pins.txt" || got.Target != testTarget {
		t.Errorf("output %q for %s, want uv's pins for %s", got.Output, got.Target, testTarget)
	}
	// The source is not mounted: the deps stage's copy of the spec is what uv reads.
	for _, m := range got.Recipe.Mounts {
		if m.Path == SourceRoot {
			t.Errorf("the source is mounted: %+v", m)
		}
	}
}

func TestRequirementsRecipePipenv(t *testing.T) {
	cfg := load(t, "services.yaml")
	api := cfg.Service("api")
	got, err := hostEnv(nil).Requirements(cfg, api, imageStage(t, api), testTarget)
	if err != nil {
		t.Fatal(err)
	}
	// pipenv's requirement lines, markers and all, are what uv resolves for the target.
	same(t, "execs", got.Recipe.Execs[2:], []Exec{
		{Argv: []string{"python", "-m", "pipenv", "requirements"}, Stdout: "/convoy/resolve/requirements.txt"},
		{Argv: python.CompileArgv(uvBin, python.Compile{Spec: "/convoy/resolve/requirements.txt", Constraints: "/convoy/resolve/constraints.txt",
			Target: testTarget, Python: "/convoy/venv/bin/python"}), Stdout: "/convoy/resolve/pins.txt"},
	})
	if got.Output != "/convoy/resolve/pins.txt" {
		t.Errorf("output %q, want uv's pins", got.Output)
	}
	e := got.Recipe.EnvMap()
	// pipenv reads the Pipfile (and the lock it wrote) the deps stage used, as on the local engine.
	for k, v := range map[string]string{"PIPENV_PIPFILE": "/convoy/pipenv/Pipfile", "PIPENV_VERBOSITY": "-1", "CONVOY_STAGE": "image"} {
		if e[k] != v {
			t.Errorf("%s = %q, want %q", k, e[k], v)
		}
	}
	// What only the install needed is gone.
	for _, k := range []string{"PIPENV_YES", "PIPENV_NOSPIN"} {
		if _, ok := e[k]; ok {
			t.Errorf("%s is set", k)
		}
	}
	if !contains(got.Recipe.Unset, "PIPENV_YES") {
		t.Errorf("unset = %q, want the deps stage's PIPENV_YES removed", got.Recipe.Unset)
	}
	if got.Recipe.From == nil || got.Recipe.From.Stage != "deps" {
		t.Fatalf("from = %+v, want the deps stage's container", got.Recipe.From)
	}
}

// TestRequirementsRecipePoetry: the runtime requirements are what the poetry the deps stage
// provisioned exports from the lock, resolved by uv for the target.
func TestRequirementsRecipePoetry(t *testing.T) {
	cfg := load(t, "poetry.yaml")
	books := cfg.Service("books")
	got, err := hostEnv(nil).Requirements(cfg, books, imageStage(t, books), testTarget)
	if err != nil {
		t.Fatal(err)
	}
	export := append([]string{"/convoy/tools/poetry-" + python.PoetryVersion + "/bin/poetry"}, python.PoetryExportArgv()[1:]...)
	same(t, "execs", got.Recipe.Execs[2:], []Exec{
		{Argv: export, Stdout: "/convoy/resolve/requirements.txt"},
		{Argv: python.CompileArgv(uvBin, python.Compile{Spec: "/convoy/resolve/requirements.txt", Constraints: "/convoy/resolve/constraints.txt",
			Target: testTarget, Python: "/convoy/venv/bin/python"}), Stdout: "/convoy/resolve/pins.txt"},
	})
	if e := got.Recipe.EnvMap(); e["POETRY_VIRTUALENVS_CREATE"] != "false" || e["POETRY_KEYRING_ENABLED"] != "false" {
		t.Errorf("poetry's settings are not the export's: %v", e)
	}
	if got.Recipe.From == nil || got.Recipe.From.Stage != "deps" {
		t.Fatalf("from = %+v, want the deps stage's container, where poetry is", got.Recipe.From)
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// TestRequirementsFollowTheRunsDepsStage: a release installs the lockfile (stages.Frozen); the
// requirements are then resolved in that container, not in one installed from the spec.
func TestRequirementsFollowTheRunsDepsStage(t *testing.T) {
	cfg := load(t, "services.yaml")
	web := cfg.Service("web")
	frozen := stage(t, web, stages.Deps)
	frozen.Commands = [][]string{{"python", "-m", "pip", "install", "-r", "requirements.lock"}}
	tr := hostEnv(nil)
	tr.DepsStage = func(svc *config.Service) (stages.Stage, bool) { return frozen, svc.Name == "web" }
	for _, st := range []stages.Stage{stage(t, web, stages.Unit), imageStage(t, web)} {
		var from *Recipe
		if st.Kind == stages.KindImage {
			r, err := tr.Requirements(cfg, web, st, testTarget)
			if err != nil {
				t.Fatal(err)
			}
			from = r.Recipe.From
		} else {
			r, err := tr.Stage(cfg, web, st)
			if err != nil {
				t.Fatal(err)
			}
			from = r.From
		}
		same(t, st.Name+" continues", from.Execs[len(from.Execs)-1:], []Exec{{Argv: frozen.Commands[0]}})
	}
	// Another service: the plan's deps stage.
	api := cfg.Service("api")
	r, err := tr.Requirements(cfg, api, imageStage(t, api), testTarget)
	if err != nil {
		t.Fatal(err)
	}
	same(t, "api continues", r.Recipe.From.Execs[1:], []Exec{
		{Argv: []string{"python", "-m", "pip", "install", "--quiet", "pipenv==" + python.PipenvVersion}},
		{Argv: []string{"python", "-m", "pipenv", "install", "--dev"}},
	})
}

// TestEngineRemembersDepsStage: the engine's translator continues the deps stage Run was given
// for the service, whatever stage of the plan comes later.
func TestEngineRemembersDepsStage(t *testing.T) {
	cfg := load(t, "services.yaml")
	web := cfg.Service("web")
	e := New(nil)
	if _, ok := e.Translator().DepsStage(web); ok {
		t.Fatal("a deps stage is known before any ran")
	}
	frozen := stage(t, web, stages.Deps)
	frozen.Commands = [][]string{{"python", "-m", "pip", "install", "-r", "requirements.lock"}}
	missing := *web
	missing.Dir = t.TempDir()
	// Run fails at the translation (no spec file), after recording the stage.
	_, err := e.Run(context.Background(), engine.Request{Config: cfg, Service: &missing, Stage: frozen, Log: &bytes.Buffer{}})
	if err == nil {
		t.Fatal("Run of a service without its spec file passed")
	}
	st, ok := e.Translator().DepsStage(web)
	if !ok {
		t.Fatal("the deps stage Run was given is not remembered")
	}
	same(t, "remembered", st.Commands, frozen.Commands)
}

func TestRequirementsParse(t *testing.T) {
	out := "# comment\nsix==1.16.0\n\nasgiref==3.8.1\n--index-url https://pypi.org/simple\n"
	same(t, "pins", RequirementsRecipe{}.Parse([]byte(out)), []string{"asgiref==3.8.1", "six==1.16.0"})
	if got := (RequirementsRecipe{}).Parse(nil); len(got) != 0 {
		t.Errorf("no output parsed as %q", got)
	}
}

// TestImageStageRecipe follows an image stage up to the engine: the WithImages builder's input
// hash and image.Spec of a service, translated, give a recipe with the builder's input hash and
// git labels and the resolved requirements — the image the local engine would assemble.
func TestImageStageRecipe(t *testing.T) {
	cfg := load(t, "services.yaml")
	web := *cfg.Service("web")
	web.Base = baseLayout(t, "")
	b, err := images.New(cfg, images.Options{StoreDir: filepath.Join(t.TempDir(), "oci"), CacheDir: t.TempDir()})
	if err != nil {
		t.Skipf("opening an image builder on testdata/repo: %v", err)
	}
	e := New(nil, WithImages(b))
	ctx := context.Background()
	hash, err := b.InputHash(ctx, &web)
	if err != nil {
		t.Fatal(err)
	}
	var log bytes.Buffer
	req := engine.Request{Config: cfg, Service: &web, Stage: imageStage(t, &web), Log: &log}
	r, err := e.imageRecipe(ctx, req, hash, []string{"django==5.0.4", "asgiref==3.8.1"})
	if err != nil {
		t.Fatal(err)
	}
	same(t, "requirements", r.Requirements, []string{"asgiref==3.8.1", "django==5.0.4"})
	if r.Labels[image.LabelInputHash] != hash {
		t.Errorf("input hash label = %q, want the builder's %q", r.Labels[image.LabelInputHash], hash)
	}
	if r.Labels["org.opencontainers.image.revision"] != b.Git().Revision {
		t.Errorf("revision label = %q, want %q", r.Labels["org.opencontainers.image.revision"], b.Git().Revision)
	}
	same(t, "cmd", r.Cmd, []string{"python", "manage.py", "serve", "0.0.0.0", "8000"})
	if r.Base.Kind != FromOCILayout || r.Base.Pinned != "" {
		t.Errorf("base = %+v, want the layout, unpinned", r.Base)
	}
}

func TestPinnedRef(t *testing.T) {
	d := v1.Hash{Algorithm: "sha256", Hex: strings.Repeat("a", 64)}
	for _, tc := range []struct {
		base Base
		want string
	}{
		{Base{Ref: "python:3.11-slim", Kind: FromRegistry}, "index.docker.io/library/python@sha256:" + d.Hex},
		{Base{Ref: "registry.example:5000/team/python:3.11", Kind: FromRegistry}, "registry.example:5000/team/python@sha256:" + d.Hex},
		{Base{Ref: "oci-layout:/srv/py:py", Kind: FromOCILayout, Path: "/srv/py", Tag: "py"}, ""},
	} {
		if got := pinnedRef(tc.base, d); got != tc.want {
			t.Errorf("pinnedRef(%q) = %q, want %q", tc.base.Ref, got, tc.want)
		}
	}
	if got := pinnedRef(Base{Ref: "python:3.11-slim", Kind: FromRegistry}, v1.Hash{}); got != "" {
		t.Errorf("pinned without a digest: %q", got)
	}
}

func TestImageStageErrors(t *testing.T) {
	cfg := load(t, "services.yaml")
	web := cfg.Service("web")
	// A builder whose service has no base: the input hash fails before any engine is asked.
	b, err := images.New(cfg, images.Options{StoreDir: filepath.Join(t.TempDir(), "oci"), CacheDir: t.TempDir()})
	if err != nil {
		t.Skipf("opening an image builder on testdata/repo: %v", err)
	}
	e := New(nil, WithImages(b))
	var log bytes.Buffer
	_, err = e.Run(context.Background(), engine.Request{Config: cfg, Service: web, Stage: imageStage(t, web), Log: &log})
	var se *engine.StageError
	if !errors.As(err, &se) || se.Reason != engine.Failed || se.ExitCode != -1 {
		t.Fatalf("Run: %#v; want a failed StageError", err)
	}
	if !strings.Contains(log.String(), `convoy: service "web" has no base image`) {
		t.Errorf("log = %q", log.String())
	}
}

// TestImageRecipeBuildEnv: the image's dependencies are downloaded through the same proxy and
// index as the deps stage's; none of that reaches the image.
func TestImageRecipeBuildEnv(t *testing.T) {
	fx := newImageFixture(t, "")
	cert := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(cert, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	tr := hostEnv(map[string]string{
		"https_proxy": "http://proxy.example:3128", "PIP_INDEX_URL": "https://pypi.example/simple",
		"PIP_CERT": cert, "PIP_CACHE_DIR": "/home/someone/.cache/pip", "SECRET_TOKEN": "no",
	})
	spec := webSpec(t, fx)
	spec.Requirements = []string{"django==5.0.4"}
	r, err := tr.Image(spec, "/repo")
	if err != nil {
		t.Fatal(err)
	}
	hostCert := HostRoot + filepath.ToSlash(cert)
	same(t, "build env", r.BuildEnv, env("https_proxy", "http://proxy.example:3128", "PIP_INDEX_URL", "https://pypi.example/simple", "PIP_CERT", hostCert))
	same(t, "build mounts", r.BuildMounts, []Mount{{Host: cert, Path: hostCert, File: true, ReadOnly: true}})
	for _, v := range r.Env {
		if v.Name == "https_proxy" || strings.HasPrefix(v.Name, "PIP_") {
			t.Errorf("the image gets the host's %s", v.Name)
		}
	}
	spec.Requirements = nil
	if r, err := tr.Image(spec, "/repo"); err != nil || r.BuildEnv != nil || r.BuildMounts != nil {
		t.Errorf("no requirements, no builder: %+v, %v", r.BuildEnv, err)
	}
}
