package dagger

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/convoy-ci/convoy/engine"
	"github.com/convoy-ci/convoy/engine/local"
	"github.com/convoy-ci/convoy/pipeline/config"
	"github.com/convoy-ci/convoy/python"
	"github.com/convoy-ci/convoy/stages"
)

// load reads a manifest of testdata/repo.
func load(t *testing.T, file string) *config.Config {
	t.Helper()
	root, err := filepath.Abs(filepath.Join("testdata", "repo"))
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(file, root)
	if err != nil {
		t.Fatalf("loading testdata/repo/%s: %v", file, err)
	}
	return cfg
}

// stage returns the stage called name of svc, as the plan has it.
func stage(t *testing.T, svc *config.Service, name string) stages.Stage {
	t.Helper()
	for _, st := range stages.ForService(svc) {
		if st.Name == name {
			return st
		}
	}
	t.Fatalf("service %q has no stage %q", svc.Name, name)
	return stages.Stage{}
}

// hostEnv is a fixed host environment for the translator.
func hostEnv(kv map[string]string) translator {
	return translator{
		UV:        testUV,
		LookupEnv: func(k string) (string, bool) { v, ok := kv[k]; return v, ok },
		Environ: func() []string {
			var out []string
			for k, v := range kv {
				out = append(out, k+"="+v)
			}
			return out
		},
	}
}

// same fails with both values as JSON when got is not want.
func same(t *testing.T, what string, got, want any) {
	t.Helper()
	if !reflect.DeepEqual(got, want) {
		g, _ := json.MarshalIndent(got, "", "  ")
		w, _ := json.MarshalIndent(want, "", "  ")
		t.Errorf("%s:\n got %s\nwant %s", what, g, w)
	}
}

func env(kv ...string) []envVar {
	m := map[string]string{}
	for i := 0; i < len(kv); i += 2 {
		m[kv[i]] = kv[i+1]
	}
	return envList(m)
}

func TestParseBase(t *testing.T) {
	for _, tc := range []struct {
		ref  string
		want imageRef
		err  string
	}{
		{ref: "python:3.11-slim", want: imageRef{Ref: "python:3.11-slim", Kind: fromRegistry}},
		{ref: "registry.example:5000/team/python@sha256:" + strings.Repeat("a", 64), want: imageRef{Ref: "registry.example:5000/team/python@sha256:" + strings.Repeat("a", 64), Kind: fromRegistry}},
		{ref: "oci-layout:.convoy/base:python", want: imageRef{Ref: "oci-layout:.convoy/base:python", Kind: fromOCILayout, Path: "/repo/.convoy/base", Tag: "python"}},
		{ref: "oci-layout:/srv/layouts/py", want: imageRef{Ref: "oci-layout:/srv/layouts/py", Kind: fromOCILayout, Path: "/srv/layouts/py"}},
		{ref: "docker-archive:base.tar:python:3.11", want: imageRef{Ref: "docker-archive:base.tar:python:3.11", Kind: fromDockerArchive, Path: "/repo/base.tar", Tag: "python:3.11"}},
		{ref: "oci-layout:", err: `no path after "oci-layout:"`},
		{ref: "Not A Reference", err: `parsing base image "Not A Reference"`},
	} {
		t.Run(tc.ref, func(t *testing.T) {
			got, err := parseBase(tc.ref, "/repo")
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("ParseBase(%q) = %+v, %v; want an error containing %q", tc.ref, got, err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			same(t, "base", got, tc.want)
		})
	}
}

func TestDepsRecipePip(t *testing.T) {
	cfg := load(t, "services.yaml")
	web := cfg.Service("web")
	cert := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(cert, []byte("not really a certificate"), 0o644); err != nil {
		t.Fatal(err)
	}
	tr := hostEnv(map[string]string{
		"https_proxy":   "http://proxy.example:3128",
		"PIP_INDEX_URL": "https://pypi.example/simple",
		"PIP_CERT":      cert,
		"SSL_CERT_FILE": cert,
		"HOME":          "/home/someone", // the host's: never a stage's
		"SECRET_TOKEN":  "no",            // not a package-download variable
	})
	got, err := tr.stage(cfg, web, stage(t, web, stages.Deps))
	if err != nil {
		t.Fatal(err)
	}
	hostCert := hostRoot + filepath.ToSlash(cert)
	uvBin := "/convoy/tools/uv-" + python.UVVersion + "/bin/uv"
	want := recipe{
		Service: "web", Stage: "deps",
		Base: imageRef{Ref: "python:3.11-slim", Kind: fromRegistry},
		Files: []fileCopy{
			{Host: filepath.Join(web.Dir, "requirements.txt"), Path: "/app/src/requirements.txt"},
			{Host: filepath.Join(web.Dir, "requirements-dev.txt"), Path: "/app/src/requirements-dev.txt", Optional: true},
			{Host: filepath.Join(web.Dir, "requirements.lock"), Path: "/app/src/requirements.lock", Optional: true},
			// The host's uv, copied in: the base needs no pip, and no index to get its installer.
			{Host: testUV, Path: uvBin, Executable: true},
		},
		Dirs:   []string{"/convoy/venv"},
		Mounts: []mountSpec{{Host: cert, Path: hostCert, File: true, ReadOnly: true}},
		// pip's cache for installing uv, uv's for everything else.
		Caches: []cacheVolume{{Key: "convoy-pip", Path: "/convoy/cache/pip"}, {Key: "convoy-uv", Path: "/convoy/cache/uv"}},
		Env: env(
			"PATH", "/convoy/venv/bin:${PATH}", "CONVOY_SERVICE", "web", "CONVOY_STAGE", "deps", "DJANGO_SETTINGS_MODULE", "web.settings",
			"HOME", "/tmp", "LANG", "C.UTF-8", "PIP_CACHE_DIR", "/convoy/cache/pip", "PIP_CERT", hostCert,
			"PIP_INDEX_URL", "https://pypi.example/simple", "PYTHONPYCACHEPREFIX", "/convoy/venv/.pycache",
			"PYTHONPATH", "/app/src:/app/libs/kit", "PYTHONUNBUFFERED", "1", "SHARED", "1",
			"SSL_CERT_FILE", hostCert, "VIRTUAL_ENV", "/convoy/venv", "https_proxy", "http://proxy.example:3128",
			// uv reaches the index pip does, keeps its cache in the volume and downloads no Python.
			"UV_CACHE_DIR", "/convoy/cache/uv", "UV_INDEX_URL", "https://pypi.example/simple", "UV_LINK_MODE", "copy",
			"UV_NO_PROGRESS", "1", "UV_PYTHON_DOWNLOADS", "never",
		),
		Workdir: "/app/src",
		Execs: []execStep{
			{Argv: []string{uvBin, "venv", "--no-config", "--quiet", "--python", "python3.11", "/convoy/venv"}},
			// web has a requirements-dev.txt: the deps stage installs it (it includes requirements.txt).
			{Argv: []string{uvBin, "pip", "install", "--no-config", "-r", "requirements-dev.txt"}},
		},
		Timeout: 2 * time.Minute,
	}
	same(t, "deps recipe", got, want)
	if got.envMap()["PATH"] != "/convoy/venv/bin:${PATH}" || !expands(got.Env, "PATH") {
		t.Errorf("PATH = %q (expand %v), want the virtualenv's bin before the base image's PATH", got.envMap()["PATH"], expands(got.Env, "PATH"))
	}
}

func expands(vs []envVar, name string) bool {
	for _, v := range vs {
		if v.Name == name {
			return v.Expand
		}
	}
	return false
}

func TestDepsRecipePipenv(t *testing.T) {
	cfg := load(t, "services.yaml")
	api := cfg.Service("api")
	got, err := hostEnv(nil).stage(cfg, api, stage(t, api, stages.Deps))
	if err != nil {
		t.Fatal(err)
	}
	same(t, "base", got.Base, imageRef{Ref: "oci-layout:images/base:py", Kind: fromOCILayout, Path: filepath.Join(cfg.Root, "images", "base"), Tag: "py"})
	same(t, "files", got.Files, []fileCopy{
		{Host: filepath.Join(api.Dir, "Pipfile"), Path: "/app/src/Pipfile"},
		{Host: filepath.Join(api.Dir, "Pipfile.lock"), Path: "/app/src/Pipfile.lock", Optional: true},
		{Host: filepath.Join(api.Dir, "Pipfile"), Path: "/convoy/pipenv/Pipfile"},
		{Host: filepath.Join(api.Dir, "Pipfile.lock"), Path: "/convoy/pipenv/Pipfile.lock", Optional: true},
	})
	same(t, "dirs", got.Dirs, []string{"/convoy/venv", "/convoy/pipenv"})
	same(t, "execs", got.Execs, []execStep{
		{Argv: []string{"python3.11", "-m", "venv", "/convoy/venv"}},
		{Argv: []string{"python", "-m", "pip", "install", "--quiet", "pipenv==" + python.PipenvVersion}},
		{Argv: []string{"python", "-m", "pipenv", "install", "--dev"}},
	})
	e := got.envMap()
	for k, v := range map[string]string{
		"PIPENV_PIPFILE": "/convoy/pipenv/Pipfile", "PIPENV_VERBOSITY": "-1", "PIPENV_NOSPIN": "1",
		"PIPENV_YES": "1", "PIPENV_IGNORE_VIRTUALENVS": "0", "CONVOY_SERVICE": "api",
	} {
		if e[k] != v {
			t.Errorf("%s = %q, want %q", k, e[k], v)
		}
	}
}

// TestDepsRecipePoetry: poetry is provisioned with uv in the container (as Tools does on the
// host) and installs the committed lock into the virtualenv, with its cache in a volume, no
// virtualenv of its own, and the service's libs where its path dependencies name them.
func TestDepsRecipePoetry(t *testing.T) {
	cfg := load(t, "poetry.yaml")
	books := cfg.Service("books")
	got, err := hostEnv(nil).stage(cfg, books, stage(t, books, stages.Deps))
	if err != nil {
		t.Fatal(err)
	}
	same(t, "files", got.Files, []fileCopy{
		{Host: filepath.Join(books.Dir, "pyproject.toml"), Path: "/app/src/pyproject.toml"},
		{Host: filepath.Join(books.Dir, "poetry.lock"), Path: "/app/src/poetry.lock", Optional: true},
		{Host: testUV, Path: uvBin, Executable: true}, // the host's uv: the base needs no pip
	})
	// services/books's "../../libs/kit", seen from /app/src.
	same(t, "mounts", got.Mounts, []mountSpec{{Host: filepath.Join(cfg.Root, "libs", "kit"), Path: "/libs/kit", Exclude: sourceExclude}})
	same(t, "caches", got.Caches, []cacheVolume{{Key: "convoy-pip", Path: "/convoy/cache/pip"}, {Key: "convoy-uv", Path: "/convoy/cache/uv"},
		{Key: "convoy-poetry", Path: "/convoy/cache/poetry"}})
	poetryDir := "/convoy/tools/poetry-" + python.PoetryVersion
	same(t, "execs", got.Execs, []execStep{
		{Argv: []string{uvBin, "venv", "--no-config", "--quiet", "--relocatable", "--python", "python3.11", poetryDir}},
		{Argv: []string{uvBin, "pip", "install", "--no-config", "--quiet", "--python", poetryDir + "/bin/python",
			"poetry==" + python.PoetryVersion, "poetry-plugin-export==" + python.PoetryExportVersion}},
		{Argv: []string{uvBin, "venv", "--no-config", "--quiet", "--python", "python3.11", "/convoy/venv"}},
		{Argv: []string{poetryDir + "/bin/poetry", "install", "--no-root", "--no-interaction", "--no-ansi"}},
	})
	e := got.envMap()
	for k, v := range map[string]string{"POETRY_CACHE_DIR": "/convoy/cache/poetry", "POETRY_VIRTUALENVS_CREATE": "false",
		"POETRY_KEYRING_ENABLED": "false", "VIRTUAL_ENV": "/convoy/venv", "UV_CACHE_DIR": "/convoy/cache/uv"} {
		if e[k] != v {
			t.Errorf("%s = %q, want %q", k, e[k], v)
		}
	}
}

func TestProcessRecipes(t *testing.T) {
	cfg := load(t, "services.yaml")
	web := cfg.Service("web")
	tr := hostEnv(map[string]string{"https_proxy": "http://proxy.example:3128", "PIP_INDEX_URL": "https://pypi.example/simple"})
	deps, err := tr.stage(cfg, web, stage(t, web, stages.Deps))
	if err != nil {
		t.Fatal(err)
	}
	source := []mountSpec{
		{Host: web.Dir, Path: "/app/src", Exclude: sourceExclude},
		{Host: filepath.Join(cfg.Root, "libs", "kit"), Path: "/app/libs/kit", Exclude: sourceExclude},
	}
	common := map[string]string{
		"CONVOY_SERVICE": "web", "DJANGO_SETTINGS_MODULE": "web.settings", "HOME": "/tmp", "LANG": "C.UTF-8",
		"PATH": "/convoy/venv/bin:${PATH}", "PYTHONPYCACHEPREFIX": "/convoy/venv/.pycache", "PYTHONPATH": "/app/src:/app/libs/kit",
		"PYTHONUNBUFFERED": "1", "SHARED": "1", "VIRTUAL_ENV": "/convoy/venv",
	}
	with := func(kv ...string) []envVar {
		m := map[string]string{}
		for k, v := range common {
			m[k] = v
		}
		for i := 0; i < len(kv); i += 2 {
			m[kv[i]] = kv[i+1]
		}
		return envList(m)
	}
	for _, tc := range []struct {
		stage string
		want  recipe
	}{
		{stage: "unit", want: recipe{
			Dirs: []string{"/convoy/db"},
			Env: with("CONVOY_STAGE", "unit", "DATABASE_URL", "sqlite:////convoy/db/unit.sqlite3",
				"PYTEST_ADDOPTS", "-p no:cacheprovider -o junit_family=xunit1 --junitxml=/tmp/convoy-tests.junit.xml"),
			Execs:   []execStep{{Argv: []string{"python", "check_env.py"}}},
			Offline: true,
			JUnit:   junitPath, // exported to Request.JUnit after the execs
		}},
		{stage: "lint", want: recipe{
			Env:   with("CONVOY_STAGE", "lint"),
			Execs: []execStep{{Argv: []string{"python", "-m", "flake8", "--format=default"}}},
		}},
		{stage: "populate", want: recipe{
			Dirs:    []string{"/convoy/db"},
			Env:     with("CONVOY_STAGE", "populate", "DATABASE_URL", "sqlite:////convoy/db/populate.sqlite3"),
			Execs:   []execStep{{Argv: []string{"python", "manage.py", "migrate", "--noinput"}}, {Argv: []string{"python", "manage.py", "populate"}}},
			Offline: true,
		}},
	} {
		t.Run(tc.stage, func(t *testing.T) {
			got, err := tr.stage(cfg, web, stage(t, web, tc.stage))
			if err != nil {
				t.Fatal(err)
			}
			want := tc.want
			want.Service, want.Stage, want.Base, want.From = "web", tc.stage, deps.Base, &deps
			want.Mounts, want.Workdir, want.Timeout = source, "/app/src", 2*time.Minute
			// What the deps stage set or mounted and this stage does not must go.
			want.Unset = []string{"PIP_CACHE_DIR", "PIP_INDEX_URL", "UV_CACHE_DIR", "UV_INDEX_URL", "UV_LINK_MODE",
				"UV_NO_PROGRESS", "UV_PYTHON_DOWNLOADS", "https_proxy"}
			want.Unmount = []string{"/convoy/cache/pip", "/convoy/cache/uv"}
			same(t, tc.stage+" recipe", got, want)
		})
	}
}

func TestStageErrors(t *testing.T) {
	cfg := load(t, "services.yaml")
	web := cfg.Service("web")
	missing := *web
	missing.Dir = t.TempDir()
	dupLibs := *web
	dupLibs.Libs = []config.Lib{config.NewLib(cfg.Root, "libs/kit"), config.NewLib(cfg.Root, "other/kit")}
	for _, tc := range []struct {
		name string
		svc  *config.Service
		st   stages.Stage
		err  string
	}{
		{"image stage", web, stages.Stage{Name: "image", Kind: stages.KindImage}, `stage "image" of "web": an image or layer stage is not one container`},
		{"no spec", &missing, stage(t, web, stages.Deps), `reading dependency spec of "web"`},
		{"no spec for a later stage", &missing, stage(t, web, stages.Unit), `reading dependency spec of "web"`},
		{"libs with one name", &dupLibs, stage(t, web, stages.Lint), `libs "libs/kit" and "other/kit" would both be /app/libs/kit`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := hostEnv(nil).stage(cfg, tc.svc, tc.st)
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Fatalf("Stage: %v; want an error containing %q", err, tc.err)
			}
		})
	}
}

// TestPackageLibs: a lib that is itself a package (libs/shared/__init__.py, or common/ at the
// repository's root) is mounted at LibsRoot/NAME like any lib, and LibsRoot is its import root.
func TestPackageLibs(t *testing.T) {
	cfg := load(t, "services.yaml")
	api := cfg.Service("api")
	r, err := hostEnv(nil).stage(cfg, api, stage(t, api, stages.Unit))
	if err != nil {
		t.Fatal(err)
	}
	same(t, "mounts", r.Mounts, []mountSpec{
		{Host: api.Dir, Path: "/app/src", Exclude: sourceExclude},
		{Host: filepath.Join(cfg.Root, "libs", "kit"), Path: "/app/libs/kit", Exclude: sourceExclude},
		{Host: filepath.Join(cfg.Root, "libs", "shared"), Path: "/app/libs/shared", Exclude: sourceExclude},
		{Host: filepath.Join(cfg.Root, "common"), Path: "/app/libs/common", Exclude: sourceExclude},
	})
	if got := r.envMap()["PYTHONPATH"]; got != "/app/src:/app/libs/kit:/app/libs" {
		t.Errorf("PYTHONPATH = %q, want /app/src:/app/libs/kit:/app/libs", got)
	}
}

func TestDefaultBaseOverride(t *testing.T) {
	cfg := load(t, "services.yaml")
	tr := hostEnv(nil)
	tr.DefaultBase = func(python string) string { return "oci-layout:.convoy/base:py" + python }
	b, err := tr.imageOf(cfg, cfg.Service("web"))
	if err != nil {
		t.Fatal(err)
	}
	same(t, "base", b, imageRef{Ref: "oci-layout:.convoy/base:py3.11", Kind: fromOCILayout, Path: filepath.Join(cfg.Root, ".convoy", "base"), Tag: "py3.11"})
}

// TestEnvironmentMatchesLocalEngine holds the translation to the local engine's rules: for
// every stage, the same variables, with the same values but for the paths, which map from the
// host's to the container's (the virtualenv, the service and its libs, HOME, the database).
func TestEnvironmentMatchesLocalEngine(t *testing.T) {
	cfg := load(t, "services.yaml")
	cert := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(cert, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	host := map[string]string{
		"PATH": "/usr/bin:/bin", "HOME": "/home/someone",
		"https_proxy": "http://proxy.example:3128", "PIP_INDEX_URL": "https://pypi.example/simple",
		"PIP_CERT": cert, "SSL_CERT_FILE": cert,
	}
	// The local engine lists PIP_* names from the process environment.
	for k, v := range host {
		if strings.HasPrefix(k, "PIP_") {
			t.Setenv(k, v)
		}
	}
	lookup := func(k string) (string, bool) { v, ok := host[k]; return v, ok }
	loc := local.New(t.TempDir(), local.WithHostEnv(lookup))
	tr := translator{LookupEnv: lookup, Environ: os.Environ, UV: testUV}
	for _, svc := range cfg.Services {
		venv, err := loc.Venv(svc)
		if err != nil {
			t.Fatal(err)
		}
		for _, st := range stages.WithImage(svc) {
			t.Run(svc.Name+"/"+st.Name, func(t *testing.T) {
				want, err := loc.Environ(cfg, svc, st)
				if err != nil {
					t.Fatal(err)
				}
				var r recipe
				resolves := st.Kind == stages.KindImage || st.Kind == stages.KindLayer
				if resolves {
					// The image and layer stages' only commands: the runtime requirement resolution.
					rr, err := tr.requirements(cfg, svc, st, python.Target{Version: "3.11.2", Platform: "x86_64-manylinux_2_36"})
					if err != nil {
						t.Fatal(err)
					}
					r = rr.Recipe
				} else if r, err = tr.stage(cfg, svc, st); err != nil {
					t.Fatal(err)
				}
				got := r.envMap()
				// Added by the dagger engine only: the pip cache volume of the stages that
				// download, and what the local engine adds outside Environ for the tool (its
				// scratch and virtualenv variables, pipenv's Pipfile copy; its runtime
				// command's environment, quiet `pipenv requirements`).
				download := st.Kind == stages.KindDeps || resolves
				extra := map[string]bool{"PIP_CACHE_DIR": st.Kind == stages.KindDeps}
				deps := stages.ForService(svc)[0]
				for k := range deps.ScratchVars {
					extra[k] = download
				}
				for _, k := range deps.VenvVars {
					extra[k] = download
				}
				for k := range svc.Tool().Runtime(svc.Project()).Env {
					extra[k] = resolves
				}
				// And uv's settings, which package python adds to the local engine's environment
				// when it runs uv (python.UV.Env).
				// The deps stage of a service installed with uv has them too, and copies
				// from the cache volume (another filesystem) rather than hard-linking.
				uvDeps := st.Kind == stages.KindDeps && st.Installer == python.InstallerUV
				for k := range python.UVEnv(uvCacheDir, want) {
					extra[k] = resolves || uvDeps
				}
				extra["UV_LINK_MODE"] = uvDeps || resolves
				// PYTHONPATH: the service's directory and each lib's import root, by the one rule
				// (config.Lib.ImportRoot), from where the host has them to where containers do.
				pyPath := map[string]string{svc.Dir: sourceRoot}
				for _, l := range svc.Libs {
					pyPath[l.ImportRoot(l.Dir)] = l.ImportRoot(libPath(l))
				}
				seen := map[string]bool{}
				for _, kv := range want {
					k, v, _ := strings.Cut(kv, "=")
					seen[k] = true
					var w string
					switch k {
					case "PATH":
						w = strings.Replace(v, filepath.Join(venv, "bin")+":"+host["PATH"], venvDir+"/bin:${PATH}", 1)
					case "HOME":
						w = containerHome
					case "VIRTUAL_ENV":
						w = venvDir
					case "PYTHONPYCACHEPREFIX":
						w = strings.Replace(v, venv, venvDir, 1)
					case "PYTHONPATH":
						// Two package libs with different parents on the host share LibsRoot.
						var entries []string
						for _, e := range strings.Split(v, ":") {
							if !slices.Contains(entries, pyPath[e]) {
								entries = append(entries, pyPath[e])
							}
						}
						w = strings.Join(entries, ":")
					case "DATABASE_URL":
						w = "sqlite:///" + dbDir + "/" + st.Name + ".sqlite3"
					case "PYTEST_ADDOPTS":
						// Both engines tell the runner where to write JUnit by the one rule
						// (engine.WithJUnit): the local engine a host file, this one JUnitPath.
						w = v
						if j, ok := engine.WithJUnit(st, junitPath).Env[k]; ok {
							w = j
						}
					default:
						w = v
						if v == cert {
							w = hostRoot + cert
						}
					}
					if got[k] != w {
						t.Errorf("%s = %q, want %q (local engine: %q)", k, got[k], w, v)
					}
				}
				for k := range got {
					if !seen[k] && !extra[k] {
						t.Errorf("%s=%q is not in the local engine's environment", k, got[k])
					}
				}
			})
		}
	}
}
