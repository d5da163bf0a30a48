package local

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/convoy-ci/convoy/engine"
	"github.com/convoy-ci/convoy/image"
	"github.com/convoy-ci/convoy/internal/imagetest"
	"github.com/convoy-ci/convoy/pipeline/config"
	"github.com/convoy-ci/convoy/pipeline/images"
	"github.com/convoy-ci/convoy/python"
	"github.com/convoy-ci/convoy/stages"
)

// baseDir is the offline base image scripts/base-image.sh builds (Debian bookworm, Python 3.11.2).
func baseDir() string {
	if d := os.Getenv("CONVOY_BASE_DIR"); d != "" {
		return d
	}
	return "/var/cache/convoy/base"
}

// needBase skips (or, under CI=true, fails) when the offline base image has not been built.
func needBase(t testing.TB) {
	t.Helper()
	if _, err := os.Stat(filepath.Join(baseDir(), "index.json")); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("no base image in %s: CI must run scripts/base-image.sh first (make test does)", baseDir())
		}
		t.Skipf("SKIP: no base image in %s: run scripts/base-image.sh (as root) to build it", baseDir())
	}
}

// needPyPI skips a test that installs from PyPI when it cannot be reached.
func needPyPI(t testing.TB) {
	t.Helper()
	c := http.Client{Timeout: 10 * time.Second}
	resp, err := c.Head("https://pypi.org/simple/six/")
	if err != nil {
		t.Skipf("SKIP: PyPI is unreachable (%v)", err)
	}
	resp.Body.Close()
}

// testCache keeps virtualenvs and tools: $CONVOY_TEST_CACHE (shared by every package's tests),
// else a directory of the test's own.
func testCache(t testing.TB) string {
	if d := os.Getenv("CONVOY_TEST_CACHE"); d != "" {
		return d
	}
	return t.TempDir()
}

// imageRepo copies testdata/NAME into a new git repository, with every service's base the
// offline base image (and files as given), committed, and returns its configuration.
func imageRepo(t testing.TB, name string, files map[string]string) *config.Config {
	t.Helper()
	root := filepath.Join(t.TempDir(), "repo")
	if err := os.CopyFS(root, os.DirFS(filepath.Join("testdata", name))); err != nil {
		t.Fatal(err)
	}
	files[".gitignore"] = ".convoy/\n"
	for p, content := range files {
		full := filepath.Join(root, filepath.FromSlash(p))
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	manifest, err := os.ReadFile(filepath.Join(root, config.FileName))
	if err != nil {
		t.Fatal(err)
	}
	manifest = bytes.Replace(manifest, []byte("defaults:\n"), []byte("defaults:\n  base: \"oci-layout:"+baseDir()+":python\"\n"), 1)
	if err := os.WriteFile(filepath.Join(root, config.FileName), manifest, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{{"init", "-q"}, {"add", "-A"}, {"commit", "-q", "-m", "fixture"}} {
		cmd := exec.Command("git", args...)
		cmd.Dir = root
		cmd.Env = append(os.Environ(), "GIT_AUTHOR_NAME=convoy", "GIT_AUTHOR_EMAIL=convoy@example.invalid",
			"GIT_COMMITTER_NAME=convoy", "GIT_COMMITTER_EMAIL=convoy@example.invalid",
			"GIT_AUTHOR_DATE=2026-01-01T00:00:00Z", "GIT_COMMITTER_DATE=2026-01-01T00:00:00Z", "GIT_CONFIG_GLOBAL=/dev/null")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("git %v: %v\n%s", args, err, out)
		}
	}
	cfg, err := config.Load(config.FileName, root)
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

// imageEngine is a local engine that builds images into a store of the test's own.
func imageEngine(t testing.TB, cfg *config.Config) (*Engine, *images.Builder) {
	t.Helper()
	cache := testCache(t)
	b, err := images.New(cfg, images.Options{StoreDir: filepath.Join(t.TempDir(), "oci"),
		CacheDir: filepath.Join(t.TempDir(), "layers"), Tools: python.NewTools(cache), NoCache: true})
	if err != nil {
		t.Fatal(err)
	}
	return New(filepath.Join(cfg.Root, ".convoy"), WithCacheDir(cache), WithImages(b)), b
}

// runStage runs svc's stage called name (of its stages with the image) and returns its result
// and log.
func runStage(t testing.TB, e *Engine, cfg *config.Config, svc *config.Service, name string) (engine.Result, string) {
	t.Helper()
	for _, st := range stages.WithImage(svc) {
		if st.Name != name {
			continue
		}
		var log bytes.Buffer
		res, err := e.Run(context.Background(), engine.Request{Config: cfg, Service: svc, Stage: st, Log: &log})
		if err != nil {
			t.Fatalf("%s/%s: %v\n%s", svc.Name, name, err, log.String())
		}
		return res, log.String()
	}
	t.Fatalf("%s has no stage %s", svc.Name, name)
	return engine.Result{}, ""
}

// sitePackages lists the files of the image's dependency layer, relative to /app/site-packages.
func sitePackages(t testing.TB, img v1.Image) []string {
	t.Helper()
	layers, err := img.Layers()
	if err != nil {
		t.Fatal(err)
	}
	var files []string
	for _, l := range layers[1:] {
		rc, err := l.Uncompressed()
		if err != nil {
			t.Fatal(err)
		}
		tr := tar.NewReader(rc)
		for {
			hdr, err := tr.Next()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
			if rel, ok := strings.CutPrefix(hdr.Name, "app/site-packages/"); ok && rel != "" {
				files = append(files, rel)
			}
		}
		rc.Close()
	}
	return files
}

// TestImageDepsFollowTheBase proves that an image's dependencies are those of its base's
// interpreter, not the host's: the gates (host 3.11, at 3.11.3 or later) install idna, which
// the markers select there; the image, on Debian bookworm's 3.11.2, gets six and not idna — for
// a pip service (requirements.txt), a pipenv one (Pipfile markers kept through `pipenv
// requirements`) and a uv one (uv.lock's markers kept through `uv export`) alike. The layer
// stage installs them; the image stage after it installs nothing.
func TestImageDepsFollowTheBase(t *testing.T) {
	if testing.Short() {
		t.Skip("installs the fixture's dependencies from PyPI; skipped with -short")
	}
	needBase(t)
	needPyPI(t)
	cfg := imageRepo(t, "markers", map[string]string{})
	e, b := imageEngine(t, cfg)
	for _, name := range []string{"pipmarkers", "pipenvmarkers", "uvmarkers"} {
		t.Run(name, func(t *testing.T) {
			svc := cfg.Service(name)
			runStage(t, e, cfg, svc, stages.Deps)
			venv, err := e.Venv(svc)
			if err != nil {
				t.Fatal(err)
			}
			gated, err := python.Freeze(venv)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Contains(gated, "idna==3.7") || slices.Contains(gated, "six==1.16.0") {
				t.Fatalf("the gates' virtualenv holds %q: want idna and not six (the host's python%s must be 3.11.3 or later)", gated, svc.Python)
			}

			if svc.Tool().Runtime(svc.Project()).FromScratch != nil {
				sameRuntimeRequirements(t, e, cfg, svc, venv)
			}

			// The layer stage resolves and installs; the image stage finds both done.
			_, log := runStage(t, e, cfg, svc, stages.Layer)
			wants := []string{"for CPython 3.11.2 (x86_64-manylinux_2_36) with uv " + python.UVVersion,
				"runtime requirements of " + name + " (2): asgiref==3.8.1 six==1.16.0\n", "convoy: dependency layer of " + name + ": "}
			if name == "pipmarkers" { // the first: the others find its layer (the same pins) cached
				wants = append(wants, " pip install ")
			}
			for _, want := range wants {
				if !strings.Contains(log, want) {
					t.Errorf("layer log lacks %q:\n%s", want, log)
				}
			}
			res, log := runStage(t, e, cfg, svc, stages.Image)
			if strings.Contains(log, " pip install ") || !strings.Contains(log, "runtime requirements of "+name+" (2): asgiref==3.8.1 six==1.16.0\n") {
				t.Errorf("the image stage installed the dependencies the layer stage had:\n%s", log)
			}
			again, log := runStage(t, e, cfg, svc, stages.Image)
			if strings.Contains(log, "resolving") || !strings.Contains(log, "no resolver run") || again.Digest != res.Digest {
				t.Errorf("unchanged dependencies were resolved again, or built another image (%s, then %s):\n%s", res.Digest, again.Digest, log)
			}
			img, err := b.Store().Image(res.Digest)
			if err != nil {
				t.Fatal(err)
			}
			files := sitePackages(t, img)
			for _, want := range []string{"six.py", "six-1.16.0.dist-info/METADATA", "asgiref/__init__.py"} {
				if !slices.Contains(files, want) {
					t.Errorf("/app/site-packages lacks %s: %q", want, files)
				}
			}
			for _, f := range files {
				if strings.HasPrefix(f, "idna") {
					t.Errorf("/app/site-packages has %s: idna is the host's, not the image's", f)
				}
			}
		})
	}
}

// sameRuntimeRequirements: what convoy reads from the scratch directory the deps stage left
// (pipenv's lock) is what the tool's own command (`pipenv requirements`) prints.
func sameRuntimeRequirements(t *testing.T, e *Engine, cfg *config.Config, svc *config.Service, venv string) {
	t.Helper()
	req := engine.Request{Config: cfg, Service: svc, Stage: stages.Stage{Name: stages.Image, Kind: stages.KindImage}, Log: io.Discard}
	env, err := e.environ(req, venv)
	if err != nil {
		t.Fatal(err)
	}
	rt := svc.Tool().Runtime(svc.Project())
	got, ok, err := rt.FromScratch(scratchDir(venv, svc.Tool()))
	if err != nil || !ok {
		t.Fatalf("reading the scratch directory: %q, %v, %v", got, ok, err)
	}
	out, err := e.runtimeLines(context.Background(), req, python.Runtime{Argv: rt.Argv}, venv, env)
	if err != nil {
		t.Fatal(err)
	}
	want := strings.Split(strings.TrimSpace(out), "\n")
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("read from the scratch directory %q, printed by %q %q", got, rt.Argv, want)
	}
}

// shortBase writes an image whose config states Python 3.11 without its patch level into an
// OCI layout and returns its reference.
func shortBase(t *testing.T) string {
	return imagetest.Base(t, func(c *v1.Config) { c.Labels = map[string]string{image.LabelPythonVersion: "3.11"} })
}

// TestRuntimeRequirementsErrors: what stops the resolution before uv runs is a failed stage,
// said in its log.
func TestRuntimeRequirementsErrors(t *testing.T) {
	cfg := imageRepo(t, "markers", map[string]string{})
	withImages, _ := imageEngine(t, cfg)
	tests := []struct {
		name string
		e    *Engine
		base string
		want string
	}{
		{"no images", New(t.TempDir()), "", "this run builds no images"},
		{"no base image", withImages, "oci-layout:" + filepath.Join(t.TempDir(), "none") + ":python", "not an OCI image layout"},
		{"base without a patch level", withImages, shortBase(t), "states Python 3.11 without its patch level"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			svc := *cfg.Service("pipmarkers")
			if tt.base != "" {
				svc.Base = tt.base
			}
			var log bytes.Buffer
			st := stages.Stage{Name: stages.Image, Kind: stages.KindImage}
			_, err := tt.e.RuntimeRequirements(context.Background(), engine.Request{Config: cfg, Service: &svc, Stage: st, Log: &log}, t.TempDir())
			var se *engine.StageError
			if !errors.As(err, &se) || se.Reason != engine.Failed || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error = %v, want a failed stage saying %q", err, tt.want)
			}
			if !strings.Contains(log.String(), tt.want) {
				t.Errorf("log = %q", log.String())
			}
		})
	}
}
