package image

import (
	"context"
	"encoding/binary"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"golang.org/x/sync/errgroup"

	"github.com/convoy-ci/convoy/python"
)

// needPyPI skips a test that downloads wheels when PyPI cannot be reached.
func needPyPI(t *testing.T) {
	t.Helper()
	c := http.Client{Timeout: 10 * time.Second}
	resp, err := c.Head("https://pypi.org/simple/six/")
	if err != nil {
		t.Skipf("SKIP: PyPI is unreachable (%v): this test downloads wheels with pip", err)
	}
	resp.Body.Close()
}

// TestBuildDeps installs a pinned wheel with the real uv into the image's
// dependency layer; the second build takes the layer from the cache and does
// not run uv at all (the uv it is given does not exist).
func TestBuildDeps(t *testing.T) {
	needPyPI(t)
	ctx := context.Background()
	repo := monorepo(t)
	base := testBase(t, pythonImage(t))
	cache := filepath.Join(t.TempDir(), "layers")

	spec := helloSpec(t, repo, base)
	spec.Requirements = []string{"six==1.16.0", "", "# a comment"}
	spec.CacheDir = cache
	spec.Tools = testTools(t)
	img, err := Build(ctx, spec)
	if err != nil {
		t.Fatal(err)
	}
	layers, _ := img.Layers()
	if len(layers) != 3 {
		t.Fatalf("%d layers, want base + deps + source", len(layers))
	}
	var names []string
	pyc := "app/site-packages/__pycache__/six.cpython-311.pyc"
	for _, e := range layerEntries(t, layers[1]) {
		names = append(names, e.hdr.Name)
		if !e.hdr.ModTime.Equal(depsEpoch) || e.hdr.Uid != 0 {
			t.Errorf("%s: mtime %s uid %d", e.hdr.Name, e.hdr.ModTime, e.hdr.Uid)
		}
		if e.hdr.Name == pyc {
			checkPyc(t, e.data, "/app/site-packages/six.py")
		}
	}
	want := []string{"app/site-packages/six.py", "app/site-packages/six-1.16.0.dist-info/METADATA"}
	if hostPythonMinor(t) == "3.11" { // the test base says Python 3.11.9
		want = append(want, pyc)
	}
	for _, want := range want {
		if !slices.Contains(names, want) {
			t.Errorf("dependency layer lacks %s: %q", want, names)
		}
	}

	spec.Tools = python.NewTools(t.TempDir(), python.WithUV("/nonexistent/uv"))
	again, err := Build(ctx, spec)
	if err != nil {
		t.Fatalf("second build ran uv instead of using the cache: %v", err)
	}
	if digestOf(t, again) != digestOf(t, img) {
		t.Error("the cached dependency layer built another digest")
	}

	spec.Requirements = []string{"six==1.17.0"}
	if _, err := Build(ctx, spec); err == nil || !strings.Contains(err.Error(), "/nonexistent/uv") {
		t.Errorf("new requirements did not run uv: %v", err)
	}
}

// TestBuildNoWheel asks for a package that has only an sdist: the error names
// the package and the platform.
func TestBuildNoWheel(t *testing.T) {
	needPyPI(t)
	repo := monorepo(t)
	spec := helloSpec(t, repo, testBase(t, pythonImage(t)))
	spec.Tools = testTools(t)
	spec.Requirements = []string{"docopt==0.6.2"} // published as an sdist only
	_, err := Build(context.Background(), spec)
	if err == nil {
		t.Fatal("built an image with a dependency that has no wheel")
	}
	t.Log(err)
	for _, want := range []string{"docopt==0.6.2", "linux/amd64", "no wheel"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not say %q", err, want)
		}
	}
}

// TestBuildDepsReproducible installs the same pins twice, each time with a
// new layer cache (so uv runs twice): the layers, and so the images, are the
// same, bit for bit; uv's lock file is not in them and console scripts run the
// image's python3.
func TestBuildDepsReproducible(t *testing.T) {
	needPyPI(t)
	ctx := context.Background()
	repo := monorepo(t)
	spec := helloSpec(t, repo, testBase(t, pythonImage(t)))
	spec.Tools = testTools(t)
	spec.Requirements = []string{"gunicorn==22.0.0", "packaging==24.0", "markupsafe==2.1.5"}
	var digests []v1.Hash
	for range 2 {
		spec.CacheDir = filepath.Join(t.TempDir(), "layers")
		img, err := Build(ctx, spec)
		if err != nil {
			t.Fatal(err)
		}
		digests = append(digests, digestOf(t, img))
		ls, _ := img.Layers()
		var script string
		for _, e := range layerEntries(t, ls[1]) {
			if e.hdr.Name == "app/site-packages/bin/gunicorn" {
				script = e.data
			}
			if path.Base(e.hdr.Name) == ".lock" {
				t.Errorf("uv's lock file is in the layer: %s", e.hdr.Name)
			}
		}
		if first, _, _ := strings.Cut(script, "\n"); first != "#!/usr/bin/env python3" {
			t.Errorf("gunicorn's script starts %q, want the image's python3", first)
		}
	}
	if digests[0] != digests[1] {
		t.Errorf("two installs of the same pins built %s and %s", digests[0], digests[1])
	}
}

func TestFixScripts(t *testing.T) {
	tests := []struct {
		name, script, want string
	}{
		{"shebang", "#!/root/.cache/venv/bin/python3.11\n# -*- coding: utf-8 -*-\nimport sys\n",
			"#!/usr/bin/env python3\n# -*- coding: utf-8 -*-\nimport sys\n"},
		{"long path through sh", "#!/bin/sh\n'''exec' '/a/very/long/path/bin/python3.11' \"$0\" \"$@\"\n' '''\nimport sys\n",
			"#!/usr/bin/env python3\nimport sys\n"},
		{"shell script", "#!/bin/sh\necho hello\n", "#!/bin/sh\necho hello\n"},
		{"not a script", "ELF...", "ELF..."},
	}
	dir := t.TempDir()
	for _, tt := range tests {
		if err := os.WriteFile(filepath.Join(dir, tt.name), []byte(tt.script), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	// The installer hard-links files from its cache: the cache's copy must not change.
	cached := filepath.Join(t.TempDir(), "cached-script")
	if err := os.Link(filepath.Join(dir, "shebang"), cached); err != nil {
		t.Fatal(err)
	}
	if err := fixScripts(dir); err != nil {
		t.Fatal(err)
	}
	if b, err := os.ReadFile(cached); err != nil || string(b) != tests[0].script {
		t.Errorf("the installer's cache was changed through a hard link: %q, %v", b, err)
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, err := os.ReadFile(filepath.Join(dir, tt.name))
			if err != nil || string(b) != tt.want {
				t.Errorf("= %q, %v; want %q", b, err, tt.want)
			}
		})
	}
	if err := fixScripts(filepath.Join(dir, "missing")); err != nil {
		t.Errorf("no bin directory: %v", err)
	}
}

// checkPyc checks that the .pyc data is valid whatever the source's mtime (PEP 552: hash-based,
// unchecked) and names the module's path in the image, not where it was compiled.
func checkPyc(t *testing.T, data, imagePath string) {
	t.Helper()
	if len(data) < 16 || binary.LittleEndian.Uint32([]byte(data[4:8])) != 0b01 {
		t.Errorf("bytecode is not an unchecked hash-based .pyc (flags %x)", data[4:8])
	}
	if !strings.Contains(data, imagePath) {
		t.Errorf("bytecode does not name %s", imagePath)
	}
}

// hostPythonMinor is the version (3.11) of the python3 on PATH, which compiles bytecode.
func hostPythonMinor(t *testing.T) string {
	t.Helper()
	out, err := exec.Command("python3", "-c", "import sys; print('%d.%d' % sys.version_info[:2])").Output()
	if err != nil {
		t.Fatalf("asking python3 its version: %v", err)
	}
	return strings.TrimSpace(string(out))
}

// TestBuildDepsOnce: two images with the same requirements built at once (two services with
// the same runtime dependencies, in one run or two) install their dependency layer once — the
// second waits for the first and reuses its layer — and get the same layer.
func TestBuildDepsOnce(t *testing.T) {
	needPyPI(t)
	ctx := context.Background()
	uv, err := testTools(t).UV(ctx)
	if err != nil {
		t.Fatal(err)
	}
	// A uv that counts its installs, then runs the real one.
	dir := t.TempDir()
	count := filepath.Join(dir, "installs")
	wrapper := filepath.Join(dir, "uv")
	script := fmt.Sprintf("#!/bin/sh\n[ \"$1 $2\" = \"pip install\" ] && echo x >>%q\nexec %q \"$@\"\n", count, uv.Path)
	if err := os.WriteFile(wrapper, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	repo := monorepo(t)
	base := testBase(t, pythonImage(t))
	cache := filepath.Join(t.TempDir(), "layers")
	var g errgroup.Group
	digests := make([]v1.Hash, 2)
	for i := range digests {
		spec := helloSpec(t, repo, base)
		spec.Requirements = []string{"six==1.16.0"}
		spec.CacheDir = cache
		spec.Tools = python.NewTools(t.TempDir(), python.WithUV(wrapper))
		g.Go(func() error {
			img, err := Build(ctx, spec)
			if err != nil {
				return err
			}
			ls, err := img.Layers()
			if err != nil {
				return err
			}
			digests[i], err = ls[1].Digest()
			return err
		})
	}
	if err := g.Wait(); err != nil {
		t.Fatal(err)
	}
	installs, _ := os.ReadFile(count)
	if n := strings.Count(string(installs), "x"); n != 1 {
		t.Errorf("uv installed the dependency layer %d times, want once", n)
	}
	if digests[0] != digests[1] {
		t.Errorf("the two images have dependency layers %s and %s", digests[0], digests[1])
	}
}

// TestBuildDependencies builds the dependency layer alone (a layer stage); Build then takes it
// from the cache and runs no uv. Without a cache there is nowhere to keep it; without
// requirements there is none.
func TestBuildDependencies(t *testing.T) {
	needPyPI(t)
	ctx := context.Background()
	spec := helloSpec(t, monorepo(t), testBase(t, pythonImage(t)))
	spec.Requirements, spec.Tools = []string{"six==1.16.0"}, testTools(t)
	if _, err := BuildDependencies(ctx, spec); err == nil || !strings.Contains(err.Error(), "no layer cache") {
		t.Errorf("without a cache: %v", err)
	}
	spec.CacheDir = filepath.Join(t.TempDir(), "layers")
	size, err := BuildDependencies(ctx, spec)
	if err != nil || size == 0 {
		t.Fatalf("BuildDependencies = %d, %v", size, err)
	}
	spec.Tools = python.NewTools(t.TempDir(), python.WithUV("/nonexistent/uv"))
	img, err := Build(ctx, spec)
	if err != nil {
		t.Fatalf("Build ran uv instead of taking the layer built: %v", err)
	}
	layers, _ := img.Layers()
	if got, _ := layers[1].Size(); got != size {
		t.Errorf("the image's dependency layer has %d bytes, the layer built %d", got, size)
	}
	spec.Requirements = nil
	if size, err := BuildDependencies(ctx, spec); size != 0 || err != nil {
		t.Errorf("no requirements: %d, %v", size, err)
	}
}
