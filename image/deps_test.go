package image

import (
	"context"
	"net/http"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
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

func TestWheelPlatforms(t *testing.T) {
	tests := []struct {
		platform v1.Platform
		glibc    string
		first    string
		has      []string
		hasNot   []string
		wantErr  string
	}{
		{v1.Platform{OS: "linux", Architecture: "amd64"}, "2.36", "manylinux_2_36_x86_64",
			[]string{"manylinux_2_28_x86_64", "manylinux2014_x86_64", "manylinux2010_x86_64", "manylinux1_x86_64", "manylinux_2_5_x86_64"}, nil, ""},
		{v1.Platform{OS: "linux", Architecture: "arm64"}, "2.28", "manylinux_2_28_aarch64",
			[]string{"manylinux2014_aarch64"}, []string{"manylinux1_aarch64", "manylinux_2_31_aarch64"}, ""},
		{v1.Platform{OS: "linux", Architecture: "amd64"}, "2.17", "manylinux_2_17_x86_64",
			nil, []string{"manylinux_2_28_x86_64"}, ""},
		{v1.Platform{OS: "windows", Architecture: "amd64"}, "2.36", "", nil, nil, "only linux"},
		{v1.Platform{OS: "linux", Architecture: "riscv64"}, "2.36", "", nil, nil, `architecture "riscv64"`},
		{v1.Platform{OS: "linux", Architecture: "amd64"}, "musl", "", nil, nil, `glibc version "musl"`},
	}
	for _, tt := range tests {
		t.Run(tt.platform.String()+"/"+tt.glibc, func(t *testing.T) {
			got, err := wheelPlatforms(tt.platform, tt.glibc)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got[0] != tt.first {
				t.Errorf("first tag %s, want %s", got[0], tt.first)
			}
			for _, h := range tt.has {
				if !slices.Contains(got, h) {
					t.Errorf("missing %s in %q", h, got)
				}
			}
			for _, h := range tt.hasNot {
				if slices.Contains(got, h) {
					t.Errorf("unexpected %s in %q", h, got)
				}
			}
		})
	}
}

// TestBuildDeps installs a pinned wheel with the real pip into the image's
// dependency layer; the second build takes the layer from the cache and does
// not run pip at all (the pip it is given does not exist).
func TestBuildDeps(t *testing.T) {
	needPyPI(t)
	ctx := context.Background()
	repo := monorepo(t)
	base := testBase(t, pythonImage(t))
	cache := filepath.Join(t.TempDir(), "layers")

	spec := helloSpec(t, repo, base)
	spec.Requirements = []string{"six==1.16.0", "", "# a comment"}
	spec.CacheDir = cache
	img, err := Build(ctx, spec)
	if err != nil {
		t.Fatal(err)
	}
	layers, _ := img.Layers()
	if len(layers) != 3 {
		t.Fatalf("%d layers, want base + deps + source", len(layers))
	}
	var names []string
	for _, e := range layerEntries(t, layers[1]) {
		names = append(names, e.hdr.Name)
		if !e.hdr.ModTime.Equal(depsEpoch) || e.hdr.Uid != 0 {
			t.Errorf("%s: mtime %s uid %d", e.hdr.Name, e.hdr.ModTime, e.hdr.Uid)
		}
		if strings.HasSuffix(e.hdr.Name, ".pyc") {
			t.Errorf("bytecode in the dependency layer: %s", e.hdr.Name)
		}
	}
	for _, want := range []string{"app/site-packages/six.py", "app/site-packages/six-1.16.0.dist-info/METADATA"} {
		if !slices.Contains(names, want) {
			t.Errorf("dependency layer lacks %s: %q", want, names)
		}
	}

	spec.Pip = []string{"/nonexistent/pip"}
	again, err := Build(ctx, spec)
	if err != nil {
		t.Fatalf("second build ran pip instead of using the cache: %v", err)
	}
	if digestOf(t, again) != digestOf(t, img) {
		t.Error("the cached dependency layer built another digest")
	}

	spec.Requirements = []string{"six==1.17.0"}
	if _, err := Build(ctx, spec); err == nil || !strings.Contains(err.Error(), "/nonexistent/pip") {
		t.Errorf("new requirements did not run pip: %v", err)
	}
}

// TestBuildNoWheel asks for a package that has only an sdist: the error names
// the package and the platform.
func TestBuildNoWheel(t *testing.T) {
	needPyPI(t)
	repo := monorepo(t)
	spec := helloSpec(t, repo, testBase(t, pythonImage(t)))
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
