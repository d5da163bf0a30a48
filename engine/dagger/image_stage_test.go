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
	"github.com/convoy-ci/convoy/engine/local"
	"github.com/convoy-ci/convoy/image"
	"github.com/convoy-ci/convoy/internal/gittest"
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

// uvBin is where the recipes copy uv in the container; testUV is the host's (Translator.UV).
const (
	uvBin  = "/convoy/tools/uv-" + python.UVVersion + "/bin/uv"
	testUV = "/host/cache/tools/uv-" + python.UVVersion + "/bin/uv"
)

func TestRequirementsRecipePip(t *testing.T) {
	cfg := load(t, "services.yaml")
	web := cfg.Service("web")
	tr := hostEnv(map[string]string{"https_proxy": "http://proxy.example:3128", "PIP_INDEX_URL": "https://pypi.example/simple"})
	deps, err := tr.stage(cfg, web, stage(t, web, stages.Deps))
	if err != nil {
		t.Fatal(err)
	}
	got, err := tr.requirements(cfg, web, imageStage(t, web), testTarget)
	if err != nil {
		t.Fatal(err)
	}
	// Package python's commands, with the files in the container.
	want := recipe{
		Service: "web", Stage: "image", Base: deps.Base, From: &deps,
		Dirs: []string{"/convoy/resolve"},
		// The host's uv, as the deps stage has it: no pip is needed in the container.
		Files:  []fileCopy{{Host: testUV, Path: uvBin, Executable: true}},
		Caches: []cacheVolume{{Key: "convoy-uv", Path: "/convoy/cache/uv"}},
		Env: env(
			"PATH", "/convoy/venv/bin:${PATH}", "CONVOY_SERVICE", "web", "CONVOY_STAGE", "image", "DJANGO_SETTINGS_MODULE", "web.settings",
			"HOME", "/tmp", "LANG", "C.UTF-8", "PIP_INDEX_URL", "https://pypi.example/simple",
			"PYTHONPYCACHEPREFIX", "/convoy/venv/.pycache", "PYTHONPATH", "/app/src:/app/libs/kit", "PYTHONUNBUFFERED", "1", "SHARED", "1",
			"VIRTUAL_ENV", "/convoy/venv", "https_proxy", "http://proxy.example:3128",
			// uv reaches the index pip does, keeps its cache in the volume and downloads no Python.
			"UV_INDEX_URL", "https://pypi.example/simple", "UV_CACHE_DIR", "/convoy/cache/uv",
			"UV_PYTHON_DOWNLOADS", "never", "UV_NO_PROGRESS", "1", "UV_LINK_MODE", "copy",
		),
		// The deps stage's pip cache is not this stage's.
		Unset:   []string{"PIP_CACHE_DIR"},
		Unmount: []string{"/convoy/cache/pip"},
		Workdir: "/app/src",
		Execs: []execStep{
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
	same(t, "execs as package python's", got.Recipe.Execs, []execStep{
		{Argv: python.FreezeArgv(uvBin, "/convoy/venv/bin/python"), Stdout: "/convoy/resolve/constraints.txt"},
		{Argv: python.CompileArgv(uvBin, python.Compile{Spec: "requirements.txt", Constraints: "/convoy/resolve/constraints.txt",
			Target: testTarget, Python: "/convoy/venv/bin/python"}), Stdout: "/convoy/resolve/pins.txt"},
	})
	if got.Output != "/convoy/resolve/pins.txt" || got.Target != testTarget {
		t.Errorf("output %q for %s, want uv's pins for %s", got.Output, got.Target, testTarget)
	}
	// The source is not mounted: the deps stage's copy of the spec is what uv reads.
	for _, m := range got.Recipe.Mounts {
		if m.Path == sourceRoot {
			t.Errorf("the source is mounted: %+v", m)
		}
	}
}

func TestRequirementsRecipePipenv(t *testing.T) {
	cfg := load(t, "services.yaml")
	api := cfg.Service("api")
	got, err := hostEnv(nil).requirements(cfg, api, imageStage(t, api), testTarget)
	if err != nil {
		t.Fatal(err)
	}
	// pipenv's requirement lines, markers and all, are what uv resolves for the target.
	same(t, "execs", got.Recipe.Execs[1:], []execStep{
		{Argv: []string{"python", "-m", "pipenv", "requirements"}, Stdout: "/convoy/resolve/requirements.txt"},
		{Argv: python.CompileArgv(uvBin, python.Compile{Spec: "/convoy/resolve/requirements.txt", Constraints: "/convoy/resolve/constraints.txt",
			Target: testTarget, Python: "/convoy/venv/bin/python"}), Stdout: "/convoy/resolve/pins.txt"},
	})
	if got.Output != "/convoy/resolve/pins.txt" {
		t.Errorf("output %q, want uv's pins", got.Output)
	}
	e := got.Recipe.envMap()
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
	got, err := hostEnv(nil).requirements(cfg, books, imageStage(t, books), testTarget)
	if err != nil {
		t.Fatal(err)
	}
	export := append([]string{"/convoy/tools/poetry-" + python.PoetryVersion + "/bin/poetry"}, python.PoetryExportArgv()[1:]...)
	same(t, "execs", got.Recipe.Execs[1:], []execStep{
		{Argv: export, Stdout: "/convoy/resolve/requirements.txt"},
		{Argv: python.CompileArgv(uvBin, python.Compile{Spec: "/convoy/resolve/requirements.txt", Constraints: "/convoy/resolve/constraints.txt",
			Target: testTarget, Python: "/convoy/venv/bin/python"}), Stdout: "/convoy/resolve/pins.txt"},
	})
	if e := got.Recipe.envMap(); e["POETRY_VIRTUALENVS_CREATE"] != "false" || e["POETRY_KEYRING_ENABLED"] != "false" {
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
		var from *recipe
		if st.Kind == stages.KindImage {
			r, err := tr.requirements(cfg, web, st, testTarget)
			if err != nil {
				t.Fatal(err)
			}
			from = r.Recipe.From
		} else {
			r, err := tr.stage(cfg, web, st)
			if err != nil {
				t.Fatal(err)
			}
			from = r.From
		}
		same(t, st.Name+" continues", from.Execs[len(from.Execs)-1:], []execStep{{Argv: frozen.Commands[0]}})
	}
	// Another service: the plan's deps stage.
	api := cfg.Service("api")
	r, err := tr.requirements(cfg, api, imageStage(t, api), testTarget)
	if err != nil {
		t.Fatal(err)
	}
	same(t, "api continues", r.Recipe.From.Execs[1:], []execStep{
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
	if _, ok := e.tr.DepsStage(web); ok {
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
	st, ok := e.tr.DepsStage(web)
	if !ok {
		t.Fatal("the deps stage Run was given is not remembered")
	}
	same(t, "remembered", st.Commands, frozen.Commands)
}

func TestRequirementsParse(t *testing.T) {
	out := "# comment\nsix==1.16.0\n\nasgiref==3.8.1\n--index-url https://pypi.org/simple\n"
	same(t, "pins", requirementsRecipe{}.parse([]byte(out)), []string{"asgiref==3.8.1", "six==1.16.0"})
	if got := (requirementsRecipe{}).parse(nil); len(got) != 0 {
		t.Errorf("no output parsed as %q", got)
	}
}

// baseDir is the offline base image scripts/base-image.sh builds (Debian bookworm, Python 3.11.2).
func baseDir() string {
	if d := os.Getenv("CONVOY_BASE_DIR"); d != "" {
		return d
	}
	return "/var/cache/convoy/base"
}

// TestSameImageOnBothEngines: the Dagger engine's image path after its requirement resolution
// (assemble) is the local engine's — the WithImages builder, package image's assembler, the
// host's uv for the base's target — so the same service, commit and pinned requirements give
// the same manifest digest on both engines, each with a layer cache and a store of its own (the
// dependency layer is installed twice). The local side runs for real: its deps stage installs
// six into a virtualenv and its image stage resolves and builds; the Dagger side is given what
// the local side resolved. The tarball integration imports on the engine holds that image.
func TestSameImageOnBothEngines(t *testing.T) {
	if _, err := os.Stat(filepath.Join(baseDir(), "index.json")); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("no base image in %s: CI must run scripts/base-image.sh first (make test does)", baseDir())
		}
		t.Skipf("SKIP: no base image in %s: run scripts/base-image.sh (as root) to build it", baseDir())
	}
	gittest.Isolate(t, "convoy", "convoy@example.invalid")
	root := gittest.NewRepo(t, map[string]string{
		".gitignore": ".convoy/\n",
		"services.yaml": "version: 1\ndefaults:\n  python: \"3.11\"\n  base: \"oci-layout:" + baseDir() + ":python\"\n" +
			"services:\n  - name: web\n    path: services/web\n    port: 8000\n    health: /healthz\n" +
			"    serve: [python, manage.py, \"${HOST}\", \"${PORT}\"]\n",
		"services/web/requirements.txt": "six==1.16.0\n",
		"services/web/manage.py":        "import six\n",
	})
	cfg, err := config.Load(config.FileName, root)
	if err != nil {
		t.Fatal(err)
	}
	web := cfg.Service("web")
	cache := os.Getenv("CONVOY_TEST_CACHE")
	if cache == "" {
		cache = t.TempDir()
	}
	builder := func() *images.Builder {
		b, err := images.New(cfg, images.Options{StoreDir: filepath.Join(t.TempDir(), "oci"),
			CacheDir: filepath.Join(t.TempDir(), "layers"), Tools: python.NewTools(cache), NoCache: true})
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	ctx := context.Background()
	loc := local.New(filepath.Join(root, ".convoy"), local.WithCacheDir(cache), local.WithImages(builder()))
	for _, st := range stages.WithImage(web) {
		if st.Name != stages.Deps && st.Kind != stages.KindImage {
			continue
		}
		var log bytes.Buffer
		res, err := loc.Run(ctx, engine.Request{Config: cfg, Service: web, Stage: st, Log: &log})
		if err != nil {
			t.Fatalf("local %s: %v\n%s", st.Name, err, log.String())
		}
		if st.Kind != stages.KindImage {
			continue
		}
		if !strings.Contains(log.String(), "runtime requirements of web (1): six==1.16.0\n") {
			t.Fatalf("the local engine resolved other requirements:\n%s", log.String())
		}
		var dlog bytes.Buffer
		deng := New(nil, WithImages(builder()))
		defer deng.Close()
		dres, err := deng.assemble(ctx, engine.Request{Config: cfg, Service: web, Stage: st, Log: &dlog}, []string{"six==1.16.0"})
		if err != nil {
			t.Fatalf("dagger assemble: %v\n%s", err, dlog.String())
		}
		if dres.Digest != res.Digest || dres.Image != res.Image {
			t.Errorf("dagger image %s, local image %s: the same inputs must give the same digest", dres.Image, res.Image)
		}
		if !strings.Contains(dlog.String(), "six") {
			t.Errorf("the dagger engine's assembly installed no dependency layer:\n%s", dlog.String())
		}
		// Integration starts that very image: exported for the engine to import, it is the
		// stored image, config and layers.
		imgs, prepare, err := deng.serviceImages(engine.IntegrationRequest{Services: []*config.Service{web}, From: engine.FromImage,
			Image: func(context.Context, string) (string, error) { return dres.Image, nil }})
		if err != nil {
			t.Fatal(err)
		}
		if err := prepare(ctx, "web"); err != nil {
			t.Fatalf("preparing web's image: %v", err)
		}
		exported, err := image.LoadBase(ctx, imgs["web"])
		if err != nil {
			t.Fatalf("reading the exported image %s: %v", imgs["web"], err)
		}
		stored, err := deng.o.images.Image(ctx, dres.Image)
		if err != nil {
			t.Fatal(err)
		}
		sameImage(t, exported.Image, stored)
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

// sameImage fails unless got has want's config and layers.
func sameImage(t *testing.T, got, want v1.Image) {
	t.Helper()
	digests := func(img v1.Image) []string {
		cfg, err := img.ConfigName()
		if err != nil {
			t.Fatal(err)
		}
		out := []string{cfg.String()}
		layers, err := img.Layers()
		if err != nil {
			t.Fatal(err)
		}
		for _, l := range layers {
			d, err := l.DiffID()
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, d.String())
		}
		return out
	}
	same(t, "config and layers", digests(got), digests(want))
}
