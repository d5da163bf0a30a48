package images

import (
	"archive/tar"
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/convoy-ci/convoy/integration"
	"github.com/convoy-ci/convoy/integration/container"
	"github.com/convoy-ci/convoy/internal/gittest"
	"github.com/convoy-ci/convoy/internal/imagetest"
	"github.com/convoy-ci/convoy/pipeline/config"
)

// Values only the stage environment holds: no image may carry them.
const (
	defaultsSecret = "jwt-secret-from-defaults-env-7f3a"
	serviceSecret  = "api-token-from-service-env-91c2"
)

// manifest is the fixture's services.yaml; base is its base image reference.
func manifest(base string) string {
	return `version: 1
defaults:
  base: "` + base + `"
  env: {JWT_SECRET: ` + defaultsSecret + `}
  image:
    env: {LOG_LEVEL: info, TZ: UTC}
services:
  - name: web
    path: services/web
    libs: [libs/kit, libs/shared, common]
    env: {API_TOKEN: ` + serviceSecret + `, DJANGO_SETTINGS_MODULE: web.settings}
    image:
      env: {FEATURE_FLAG: image-env-value-5d0e}
    serve: [python, -m, http.server, "${PORT}"]
`
}

// fixture is a git repository holding one service and three libs — a project (libs/kit), a
// package (libs/shared) and a package at the repository's root (common) — with a base image in
// an OCI layout, and its loaded config.
type fixture struct {
	root string
	cfg  *config.Config
}

func newFixture(t *testing.T, base string) *fixture {
	t.Helper()
	gittest.Isolate(t, "convoy", "convoy@example.invalid")
	root := gittest.NewRepo(t, map[string]string{
		".gitignore":                     ".env\n*.sqlite3\n.convoy/\n",
		"services/web/requirements.txt":  "",
		"services/web/app.py":            "import common, kit, shared\nfrom shared import util\nVALUE = util.VALUE + kit.VALUE + common.VALUE\n",
		"services/web/tests/test_app.py": "def test(): pass\n",
		"libs/kit/kit/__init__.py":       "VALUE = 1\n",
		"libs/kit/tests/test_kit.py":     "",
		"libs/shared/__init__.py":        "",
		"libs/shared/util.py":            "VALUE = 10\n",
		"common/__init__.py":             "VALUE = 100\n",
		"top_level.py":                   "raise SystemExit('the repository root is not in images')\n",
	})
	gittest.WriteFile(t, filepath.Join(root, "services/web/.env"), "JWT_SECRET="+defaultsSecret+"\n")
	f := &fixture{root: root}
	f.load(t, manifest(base))
	return f
}

// load (re)writes services.yaml and loads it.
func (f *fixture) load(t *testing.T, text string) {
	t.Helper()
	gittest.WriteFile(t, filepath.Join(f.root, config.FileName), text)
	cfg, err := config.Load(config.FileName, f.root)
	if err != nil {
		t.Fatal(err)
	}
	f.cfg = cfg
}

func (f *fixture) builder(t *testing.T) *Builder {
	t.Helper()
	b, err := New(f.cfg, Options{StoreDir: filepath.Join(t.TempDir(), "oci"), CacheDir: t.TempDir(), GatesDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// baseLayout stores a random image whose config says Python 3.11 in a new OCI layout (tag py)
// and returns its oci-layout: reference: these tests need no Python in the image.
func baseLayout(t *testing.T) string {
	return imagetest.Base(t, func(c *v1.Config) { c.Env = []string{"PATH=/usr/bin:/bin", "PYTHON_VERSION=3.11.9"} })
}

// build builds and stores the image of the fixture's service and returns it from the store.
func (f *fixture) build(t *testing.T) v1.Image {
	t.Helper()
	ctx := context.Background()
	b := f.builder(t)
	svc := f.cfg.Service("web")
	hash, err := b.InputHash(ctx, svc)
	if err != nil {
		t.Fatal(err)
	}
	ref, err := b.Build(ctx, svc, hash, nil, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	img, err := b.Store().Image(ref.Digest)
	if err != nil {
		t.Fatal(err)
	}
	return img
}

// TestStageEnvNotInImages: the stage environment's values are in no blob of the image, not even
// in its input hash's inputs; image.env is in its config.
func TestStageEnvNotInImages(t *testing.T) {
	img := newFixture(t, baseLayout(t)).build(t)
	raw, err := img.RawConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	blobs := map[string][]byte{"config": raw}
	layers, err := img.Layers()
	if err != nil {
		t.Fatal(err)
	}
	for i, l := range layers {
		blobs[fmt.Sprintf("layer %d", i)] = readAll(t, l.Uncompressed)
	}
	for name, blob := range blobs {
		for _, s := range []string{defaultsSecret, serviceSecret, "API_TOKEN", "JWT_SECRET", "DJANGO_SETTINGS_MODULE"} {
			if bytes.Contains(blob, []byte(s)) {
				t.Errorf("%s of the image holds %q, from the stage environment", name, s)
			}
		}
	}
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	for _, kv := range []string{"LOG_LEVEL=info", "TZ=UTC", "FEATURE_FLAG=image-env-value-5d0e"} {
		if !slices.Contains(cf.Config.Env, kv) {
			t.Errorf("config env %q lacks %s from image.env", cf.Config.Env, kv)
		}
	}
}

// TestHashes: the input hash follows what is in the image (image.env included) and never the
// stage environment; the gate key follows everything the gates see.
func TestHashes(t *testing.T) {
	base := baseLayout(t)
	keys := func(t *testing.T, f *fixture) (string, string) {
		t.Helper()
		b := f.builder(t)
		svc := f.cfg.Service("web")
		h, err := b.InputHash(context.Background(), svc)
		if err != nil {
			t.Fatal(err)
		}
		k, err := b.GateKey(context.Background(), svc)
		if err != nil {
			t.Fatal(err)
		}
		return h, k
	}
	wantHash, wantKey := keys(t, newFixture(t, base))
	edit := func(old, new string) func(*testing.T, *fixture) {
		return func(t *testing.T, f *fixture) { f.load(t, strings.Replace(manifest(base), old, new, 1)) }
	}
	write := func(rel, content string) func(*testing.T, *fixture) {
		return func(t *testing.T, f *fixture) { gittest.WriteFile(t, filepath.Join(f.root, rel), content) }
	}
	tests := []struct {
		name                  string
		change                func(*testing.T, *fixture)
		sameHash, sameGateKey bool
	}{
		{"nothing", func(*testing.T, *fixture) {}, true, true},
		{"defaults.env value", edit(defaultsSecret, "rotated"), true, false},
		{"service env value", edit(serviceSecret, "rotated"), true, false},
		{"unit argv", edit("    serve:", "    unit: [python, -m, pytest, -x]\n    serve:"), true, false},
		{"a test", write("services/web/tests/test_app.py", "def test(): assert 0\n"), true, false},
		{"a lib's test", write("libs/kit/tests/test_kit.py", "x = 1\n"), true, false},
		{"a gitignored file", write("services/web/.env", "JWT_SECRET=other\n"), true, true},
		{"defaults image.env", edit("LOG_LEVEL: info", "LOG_LEVEL: debug"), false, false},
		{"service image.env", edit("image-env-value-5d0e", "other"), false, false},
		{"image.include", edit("      env: {FEATURE_FLAG", "      include: [tests]\n      env: {FEATURE_FLAG"), false, false},
		{"serve argv", edit("http.server", "http.server2"), false, false},
		{"the service's source", write("services/web/app.py", "VALUE = 0\n"), false, false},
		{"a package lib becomes a project", func(t *testing.T, f *fixture) {
			if err := os.Remove(filepath.Join(f.root, "libs/shared/__init__.py")); err != nil {
				t.Fatal(err)
			}
			f.load(t, manifest(base))
		}, false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, base) // another directory: host paths are no input
			tt.change(t, f)
			h, k := keys(t, f)
			if (h == wantHash) != tt.sameHash || (k == wantKey) != tt.sameGateKey {
				t.Errorf("same input hash %v, same gate key %v; want %v, %v", h == wantHash, k == wantKey, tt.sameHash, tt.sameGateKey)
			}
		})
	}
}

// TestCachedNeedsPassedGates: an image built from the same inputs skips the gates only when they
// passed for the current gate inputs; a changed test runs them again.
func TestCachedNeedsPassedGates(t *testing.T) {
	f := newFixture(t, baseLayout(t))
	ctx := context.Background()
	svc := f.cfg.Service("web")
	opts := Options{StoreDir: filepath.Join(t.TempDir(), "oci"), CacheDir: t.TempDir(), GatesDir: t.TempDir()}
	builder := func() *Builder {
		b, err := New(f.cfg, opts)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	b := builder()
	hash, err := b.InputHash(ctx, svc)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.Build(ctx, svc, hash, nil, io.Discard); err != nil {
		t.Fatal(err)
	}
	cached := func(what string, want bool) {
		t.Helper()
		_, _, ok, err := builder().Cached(ctx, svc)
		if err != nil {
			t.Fatal(err)
		}
		if ok != want {
			t.Errorf("%s: cached = %v, want %v", what, ok, want)
		}
	}
	cached("after the build", true)
	gittest.WriteFile(t, filepath.Join(f.root, "services/web/tests/test_app.py"), "def test(): assert 0\n")
	cached("after a test changed", false)
	if h, err := builder().InputHash(ctx, svc); err != nil || h != hash {
		t.Errorf("input hash after a test changed = %s (%v), want the image's %s", h, err, hash)
	}
}

// TestPackageLibImports unpacks the image's source layer into a directory and imports the
// service with the host's Python and the image's PYTHONPATH mapped onto that directory: a
// runtime-free check that project libs, package libs and a package at the repository's root
// import as in the gates, and that only the libs — not the repository root — are in the image.
func TestPackageLibImports(t *testing.T) {
	python, err := exec.LookPath("python3")
	if err != nil {
		t.Skip("no python3 on PATH")
	}
	img := newFixture(t, baseLayout(t)).build(t)
	dir := t.TempDir()
	var libs []string
	for _, name := range untar(t, lastLayer(t, img), dir) {
		if rest, ok := strings.CutPrefix(name, "app/libs/"); ok {
			libs = append(libs, rest)
		}
	}
	want := []string{"common/__init__.py", "kit/kit/__init__.py", "shared/__init__.py", "shared/util.py"}
	if !slices.Equal(libs, want) {
		t.Errorf("/app/libs holds %q, want %q (lib tests are dev-only; nothing else of the repository)", libs, want)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	var pyPath string
	for _, kv := range cf.Config.Env {
		if v, ok := strings.CutPrefix(kv, "PYTHONPATH="); ok {
			pyPath = v
		}
	}
	if pyPath != "/app/src:/app/libs/kit:/app/libs:/app/site-packages" {
		t.Errorf("PYTHONPATH = %q, want /app/src:/app/libs/kit:/app/libs:/app/site-packages", pyPath)
	}
	var mapped []string
	for _, p := range strings.Split(pyPath, ":") {
		mapped = append(mapped, filepath.Join(dir, p))
	}
	cmd := exec.Command(python, "-B", "-c", "import app; assert app.VALUE == 111, app.VALUE")
	cmd.Dir = filepath.Join(dir, "app", "src")
	cmd.Env = []string{"PYTHONPATH=" + strings.Join(mapped, ":"), "HOME=" + t.TempDir()}
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Errorf("importing the service from the unpacked image: %v\n%s", err, out)
	}
}

func lastLayer(t *testing.T, img v1.Image) v1.Layer {
	t.Helper()
	ls, err := img.Layers()
	if err != nil {
		t.Fatal(err)
	}
	return ls[len(ls)-1]
}

// untar unpacks layer l's directories and regular files into dir and returns the files' names.
func untar(t *testing.T, l v1.Layer, dir string) []string {
	t.Helper()
	rc, err := l.Uncompressed()
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	var names []string
	tr := tar.NewReader(rc)
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return names
		}
		if err != nil {
			t.Fatal(err)
		}
		target := filepath.Join(dir, filepath.FromSlash(hdr.Name))
		if hdr.Typeflag == tar.TypeDir {
			if err := os.MkdirAll(target, 0o755); err != nil {
				t.Fatal(err)
			}
			continue
		}
		gittest.WriteFile(t, target, string(readAll(t, func() (io.ReadCloser, error) { return io.NopCloser(tr), nil })))
		names = append(names, hdr.Name)
	}
}

func readAll(t *testing.T, open func() (io.ReadCloser, error)) []byte {
	t.Helper()
	rc, err := open()
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestCachedFromRegistryGates: a fresh checkout (no image store, no local gate record) whose push
// target holds the image and its gates tag skips the gates — the registry is the cache of fresh
// CI runners — but not once a test changed, which the gates tag does not cover.
func TestCachedFromRegistryGates(t *testing.T) {
	f := newFixture(t, baseLayout(t))
	ctx := context.Background()
	svc := f.cfg.Service("web")
	reg := httptest.NewServer(registry.New(registry.Logger(log.New(io.Discard, "", 0))))
	defer reg.Close()
	push := strings.TrimPrefix(reg.URL, "http://") + "/team"
	fresh := func() *Builder {
		b, err := New(f.cfg, Options{StoreDir: filepath.Join(t.TempDir(), "oci"), CacheDir: t.TempDir(),
			GatesDir: t.TempDir(), Push: push, Insecure: true})
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	b := fresh()
	hash, err := b.InputHash(ctx, svc)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, ok, err := b.Cached(ctx, svc); err != nil || ok {
		t.Fatalf("cached before any build = %v (%v), want false", ok, err)
	}
	built, err := b.Build(ctx, svc, hash, nil, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	_, digest, ok, err := fresh().Cached(ctx, svc)
	if err != nil || !ok || digest != built.Digest {
		t.Fatalf("fresh checkout: cached = %v %s (%v), want the pushed %s", ok, digest, err, built.Digest)
	}
	gittest.WriteFile(t, filepath.Join(f.root, "services/web/tests/test_app.py"), "def test(): assert 0\n")
	if _, _, ok, err := fresh().Cached(ctx, svc); err != nil || ok {
		t.Errorf("fresh checkout after a test changed: cached = %v (%v), want false", ok, err)
	}
}

// TestPackageLibImportsInRunc starts the built image in runc and imports the service there —
// its own interpreter, site-packages, user, working directory and PYTHONPATH — the way
// integration will: project libs, package libs and a package at the repository's root import.
func TestPackageLibImportsInRunc(t *testing.T) {
	base := cmp.Or(os.Getenv("CONVOY_BASE_DIR"), "/var/cache/convoy/base")
	if _, err := os.Stat(filepath.Join(base, "index.json")); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("no base image in %s: CI builds it first (scripts/base-image.sh)", base)
		}
		t.Skipf("no base image in %s: run scripts/base-image.sh", base)
	}
	img := newFixture(t, "oci-layout:"+base+":python").build(t)
	rt, err := container.NewRunc(container.WithWorkDir(t.TempDir()), container.WithLayerCache(t.TempDir()))
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("no runc here: %v", err)
		}
		t.Skipf("no runc here: %v", err)
	}
	l := rt.Launcher("web", "imports", img)
	defer func() {
		if err := l.Close(); err != nil {
			t.Error(err)
		}
	}()
	if err := l.Prepare(t.Context()); err != nil {
		t.Fatal(err)
	}
	var log bytes.Buffer
	p, err := l.Start(integration.Command{Name: "import", Log: &log,
		Argv: []string{"python3", "-c", "import app; assert app.VALUE == 111, app.VALUE; print('imported')"}})
	if err != nil {
		t.Fatal(err)
	}
	<-p.Done()
	code := p.ExitCode()
	if err := p.Stop(syscall.SIGTERM, time.Second); err != nil {
		t.Error(err)
	}
	if code != 0 || !strings.Contains(log.String(), "imported") {
		t.Errorf("importing the service in its image: exit %d\n%s", code, log.String())
	}
}
