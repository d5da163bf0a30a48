package dagger

import (
	"archive/tar"
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/random"

	"github.com/moby/patternmatcher"

	"github.com/convoy-ci/convoy/image"
	"github.com/convoy-ci/convoy/internal/gittest"
	"github.com/convoy-ci/convoy/internal/imagetest"
)

// baseLayout writes a small Python-like base image into an OCI layout and returns its
// oci-layout: reference.
func baseLayout(t *testing.T, user string) string {
	return imagetest.Base(t, func(c *v1.Config) {
		*c = v1.Config{
			Env:          []string{"PATH=/usr/local/bin:/usr/bin:/bin", "PYTHON_VERSION=3.11.9", "LANG=C.UTF-8"},
			Labels:       map[string]string{"org.opencontainers.image.title": "python", "org.opencontainers.image.version": "3.11", "vendor": "example"},
			ExposedPorts: map[string]struct{}{"9999/tcp": {}},
			Entrypoint:   []string{"/docker-entrypoint.sh"},
			Cmd:          []string{"python3"},
			User:         user,
		}
	})
}

func webSpec(t *testing.T, cfg *imageFixture) image.Spec {
	return image.Spec{
		Service: "web", Base: cfg.base, Python: "3.11",
		Source: image.Source{Root: cfg.root, Dir: cfg.src, Libs: []image.Lib{{Dir: cfg.lib, Path: "/app/libs/kit"}}},
		Cmd:    []string{"python", "-m", "gunicorn", "web.wsgi", "--bind", "0.0.0.0:8000"}, Port: 8000, Health: "/healthz",
		Env: map[string]string{"DJANGO_SETTINGS_MODULE": "web.settings"},
		Git: image.GitInfo{Source: "https://git.example/monorepo", Revision: strings.Repeat("ab", 20), Short: strings.Repeat("ab", 6),
			Version: "v1.2.3", Created: time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)},
		InputHash: "sha256:" + strings.Repeat("c", 64),
	}
}

type imageFixture struct {
	root, src, lib string
	base           *image.BaseImage
}

func newImageFixture(t *testing.T, user string) *imageFixture {
	t.Helper()
	cfg := load(t, "services.yaml")
	base, err := image.LoadBase(context.Background(), baseLayout(t, user))
	if err != nil {
		t.Fatal(err)
	}
	return &imageFixture{root: cfg.Root, src: cfg.Service("web").Dir, lib: filepath.Join(cfg.Root, "libs", "kit"), base: base}
}

// TestImageConfigMatchesImageBuild holds the dagger engine's images to package image's: the
// configuration a Dagger engine gives the base image after applying the recipe — environment,
// user, command, working directory, ports, health check and every label — is the one
// image.Build gives the same spec.
func TestImageConfigMatchesImageBuild(t *testing.T) {
	for _, user := range []string{"", "app"} {
		t.Run("user="+user, func(t *testing.T) {
			fx := newImageFixture(t, user)
			spec := webSpec(t, fx)
			built, err := image.Build(context.Background(), spec)
			if err != nil {
				t.Fatal(err)
			}
			bcf, err := built.ConfigFile()
			if err != nil {
				t.Fatal(err)
			}
			want := bcf.Config
			r, err := Translator{}.Image(spec, "/repo")
			if err != nil {
				t.Fatal(err)
			}
			base, err := fx.base.Image.ConfigFile()
			if err != nil {
				t.Fatal(err)
			}
			got := applyImageRecipe(base.Config, &r)
			same(t, "labels", got.Labels, want.Labels)
			same(t, "env", sortedCopy(got.Env), sortedCopy(want.Env))
			same(t, "user", got.User, want.User)
			same(t, "cmd", got.Cmd, want.Cmd)
			same(t, "entrypoint", len(got.Entrypoint), len(want.Entrypoint))
			same(t, "workdir", got.WorkingDir, want.WorkingDir)
			same(t, "ports", got.ExposedPorts, want.ExposedPorts)
			same(t, "healthcheck", got.Healthcheck, want.Healthcheck)
			for _, k := range []string{"org.opencontainers.image.source", "org.opencontainers.image.revision", "org.opencontainers.image.created",
				"org.opencontainers.image.version", "org.opencontainers.image.title", image.LabelInputHash} {
				if got.Labels[k] == "" {
					t.Errorf("label %s missing", k)
				}
			}
		})
	}
}

// applyImageRecipe does to a base image's config what BuildImage asks the engine to do.
func applyImageRecipe(c v1.Config, r *ImageRecipe) v1.Config {
	c = *c.DeepCopy()
	for _, v := range r.Env {
		found := false
		for i, kv := range c.Env {
			if k, _, _ := strings.Cut(kv, "="); k == v.Name {
				c.Env[i], found = v.Name+"="+v.Value, true
			}
		}
		if !found {
			c.Env = append(c.Env, v.Name+"="+v.Value)
		}
	}
	c.Entrypoint, c.Cmd, c.WorkingDir, c.User = nil, r.Cmd, r.Workdir, r.User
	for _, p := range r.DropPorts {
		delete(c.ExposedPorts, p)
	}
	if r.Port != 0 {
		if c.ExposedPorts == nil {
			c.ExposedPorts = map[string]struct{}{}
		}
		c.ExposedPorts[strconv.Itoa(r.Port)+"/tcp"] = struct{}{}
	}
	if len(c.ExposedPorts) == 0 {
		c.ExposedPorts = nil
	}
	for _, k := range r.DropLabels {
		delete(c.Labels, k)
	}
	for k, v := range r.Labels {
		c.Labels[k] = v
	}
	c.Healthcheck = nil
	if len(r.Healthcheck) > 0 {
		c.Healthcheck = &v1.HealthConfig{Test: append([]string{"CMD"}, r.Healthcheck...)}
	}
	return c
}

func sortedCopy(s []string) []string {
	out := append([]string(nil), s...)
	sort.Strings(out)
	return out
}

func TestImageRecipe(t *testing.T) {
	fx := newImageFixture(t, "")
	spec := webSpec(t, fx)
	spec.Requirements = []string{"  django==5.0  ", "# pinned", "", "asgiref==3.8.1", "django==5.0"}
	spec.Git.Version = "" // the base's version label is the base's: it must go
	r, err := Translator{}.Image(spec, "/repo")
	if err != nil {
		t.Fatal(err)
	}
	same(t, "requirements", r.Requirements, []string{"asgiref==3.8.1", "django==5.0"})
	same(t, "install", r.Install, append([]string(nil), "python3", "-m", "pip", "install", "--target", "/app/site-packages",
		"--no-deps", "--only-binary=:all:", "--no-compile", "--no-input", "--disable-pip-version-check",
		"--no-warn-script-location", "--progress-bar", "off", "-r", "/convoy/requirements.txt"))
	same(t, "sources", r.Sources, []Mount{
		// requirements-dev.txt is dev-only.
		{Host: fx.src, Path: "/app/src", Include: []string{"check_env.py", "manage.py", "requirements.txt"}},
		{Host: fx.lib, Path: "/app/libs/kit", Include: []string{"kit.py"}},
	})
	if r.Created != time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC).Unix() {
		t.Errorf("created = %d", r.Created)
	}
	same(t, "drop labels", r.DropLabels, []string{"org.opencontainers.image.version"})
	if r.Labels["vendor"] != "example" || r.Labels["org.opencontainers.image.title"] != "web" {
		t.Errorf("labels = %v: want the base's own labels kept and the title the service's", r.Labels)
	}
	same(t, "drop ports", r.DropPorts, []string{"9999/tcp"})
	if r.Base.Kind != FromOCILayout || r.Base.Tag != "py" {
		t.Errorf("base = %+v", r.Base)
	}
}

// TestImageRecipeSources: a Dagger image copies exactly the files package image puts in its
// source layer (image.SourceFiles), whatever their names.
func TestImageRecipeSources(t *testing.T) {
	gittest.Isolate(t, "convoy", "convoy@example.invalid")
	repo := gittest.NewRepo(t, map[string]string{
		".gitignore":                ".env\n",
		".dockerignore":             "**/*.md\n",
		"svc/app.py":                "",
		"svc/NOTES.md":              "",
		"svc/[odd]*name?.py":        "",
		"svc/!bang.py":              "",
		"svc/back\\slash.py":        "",
		"svc/tests/test_app.py":     "",
		"shared/__init__.py":        "",
		"shared/tests/test_util.py": "",
	})
	gittest.WriteFile(t, filepath.Join(repo, "svc/.env"), "SECRET=1")
	gittest.WriteFile(t, filepath.Join(repo, "svc/empty/tests/test_x.py"), "")
	src := image.Source{Root: repo, Dir: filepath.Join(repo, "svc"),
		Libs: []image.Lib{{Dir: filepath.Join(repo, "shared"), Path: "/app/libs/shared", ImportRoot: "/app/libs"},
			{Dir: filepath.Join(repo, "svc", "empty"), Path: "/app/libs/empty"}}}
	got, err := sourceCopies(src)
	if err != nil {
		t.Fatal(err)
	}
	same(t, "sources", got, []Mount{
		{Host: src.Dir, Path: "/app/src", Include: []string{`\!bang.py`, `\[odd]\*name\?.py`, "app.py", `back\\slash.py`}},
		{Host: filepath.Join(repo, "shared"), Path: "/app/libs/shared", Include: []string{"__init__.py"}},
		// A lib with no file in the image: no upload at all (no Include would upload everything).
	})
	for _, m := range got {
		pm, err := patternmatcher.New(m.Include)
		if err != nil {
			t.Fatal(err)
		}
		for _, name := range []string{"app.py", "!bang.py", "[odd]*name?.py", `back\slash.py`, "__init__.py", "NOTES.md", "oddXnameY.py", ".env"} {
			match, err := pm.MatchesOrParentMatches(name)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := os.Stat(filepath.Join(m.Host, name)); match != (err == nil && name != "NOTES.md" && name != ".env") {
				t.Errorf("%s: pattern match of %q = %v", m.Path, name, match)
			}
		}
	}
}

func TestImageRecipeErrors(t *testing.T) {
	fx := newImageFixture(t, "")
	for _, tc := range []struct {
		name   string
		change func(*image.Spec)
		err    string
	}{
		{"no base", func(s *image.Spec) { s.Base = nil }, "no base image"},
		{"other python", func(s *image.Spec) { s.Python = "3.12" }, "uses Python 3.12 but base image"},
		{"no command", func(s *image.Spec) { s.Cmd = nil }, "no command"},
		{"no source", func(s *image.Spec) { s.Source.Dir = filepath.Join(t.TempDir(), "gone") }, "source directory"},
		{"libs with one name", func(s *image.Spec) {
			s.Source.Libs = append(s.Source.Libs, image.Lib{Dir: filepath.Join(fx.root, "services"), Path: "/app/libs/kit"})
		}, "would both be /app/libs/kit"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			spec := webSpec(t, fx)
			tc.change(&spec)
			_, err := Translator{}.Image(spec, "/repo")
			if err == nil || !strings.Contains(err.Error(), tc.err) || !strings.Contains(err.Error(), `image of "web"`) {
				t.Fatalf("Image: %v; want an error about the image of \"web\" containing %q", err, tc.err)
			}
		})
	}
}

// TestLoadOCITarball reads back an image layout packed the way Container.Export writes one.
func TestLoadOCITarball(t *testing.T) {
	img, err := random.Image(512, 2)
	if err != nil {
		t.Fatal(err)
	}
	src := t.TempDir()
	p, err := layout.Write(src, empty.Index)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.AppendImage(img); err != nil {
		t.Fatal(err)
	}
	tarball := filepath.Join(t.TempDir(), "image.tar")
	f, err := os.Create(tarball)
	if err != nil {
		t.Fatal(err)
	}
	if err := writeTar(f, src); err != nil {
		t.Fatal(err)
	}
	f.Close()
	got, err := LoadOCITarball(tarball, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	want, _ := img.Digest()
	if d, err := got.Digest(); err != nil || d != want {
		t.Fatalf("digest = %v, %v; want %v", d, err, want)
	}
	// Into the store the local engine's images go to, under a tag.
	store, err := image.OpenStore(filepath.Join(t.TempDir(), "oci"))
	if err != nil {
		t.Fatal(err)
	}
	if d, err := ImageStore(store).Put(got, "web-abc"); err != nil || d != want {
		t.Fatalf("Put = %v, %v; want %v", d, err, want)
	}
}

func TestLoadOCITarballRejects(t *testing.T) {
	for _, tc := range []struct {
		name    string
		entries map[string]string
		err     string
	}{
		{"escaping entry", map[string]string{"../evil": "x"}, `entry "../evil" leaves the archive`},
		{"not a layout", map[string]string{"hello.txt": "hi"}, "reading image tarball"},
		{"empty index", map[string]string{"oci-layout": `{"imageLayoutVersion":"1.0.0"}`, "index.json": `{"schemaVersion":2,"manifests":[]}`}, "0 manifests in its index, expected 1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var buf bytes.Buffer
			tw := tar.NewWriter(&buf)
			names := make([]string, 0, len(tc.entries))
			for n := range tc.entries {
				names = append(names, n)
			}
			sort.Strings(names)
			for _, n := range names {
				tw.WriteHeader(&tar.Header{Name: n, Mode: 0o644, Size: int64(len(tc.entries[n])), Typeflag: tar.TypeReg})
				io.WriteString(tw, tc.entries[n])
			}
			tw.Close()
			tarball := filepath.Join(t.TempDir(), "x.tar")
			os.WriteFile(tarball, buf.Bytes(), 0o644)
			_, err := LoadOCITarball(tarball, t.TempDir())
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Fatalf("LoadOCITarball: %v; want an error containing %q", err, tc.err)
			}
		})
	}
}

// TestWriteTar: an OCI layout packs into the same bytes whatever the files' times, with
// relative, sorted names.
func TestWriteTar(t *testing.T) {
	dir := t.TempDir()
	os.MkdirAll(filepath.Join(dir, "blobs", "sha256"), 0o755)
	os.WriteFile(filepath.Join(dir, "oci-layout"), []byte("{}"), 0o600)
	os.WriteFile(filepath.Join(dir, "blobs", "sha256", "aa"), []byte("blob"), 0o600)
	pack := func() []byte {
		var b bytes.Buffer
		if err := writeTar(&b, dir); err != nil {
			t.Fatal(err)
		}
		return b.Bytes()
	}
	first := pack()
	later := time.Now().Add(time.Hour)
	os.Chtimes(filepath.Join(dir, "oci-layout"), later, later)
	if !bytes.Equal(first, pack()) {
		t.Error("packing the same layout twice gave different bytes")
	}
	var names []string
	tr := tar.NewReader(bytes.NewReader(first))
	for {
		h, err := tr.Next()
		if err != nil {
			break
		}
		names = append(names, h.Name)
		if !h.ModTime.IsZero() && h.ModTime.Unix() != 0 || h.Uid != 0 || h.Gid != 0 {
			t.Errorf("%s: time %v, owner %d:%d; want none", h.Name, h.ModTime, h.Uid, h.Gid)
		}
	}
	if !reflect.DeepEqual(names, []string{"blobs/", "blobs/sha256/", "blobs/sha256/aa", "oci-layout"}) {
		t.Errorf("names = %q", names)
	}
}
