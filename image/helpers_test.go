package image

import (
	"archive/tar"
	"context"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/convoy-ci/convoy/python"
)

// run runs a command in dir and fails the test if it fails.
func run(t testing.TB, dir string, argv ...string) string {
	t.Helper()
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(),
		"GIT_AUTHOR_NAME=convoy", "GIT_AUTHOR_EMAIL=convoy@example.invalid",
		"GIT_COMMITTER_NAME=convoy", "GIT_COMMITTER_EMAIL=convoy@example.invalid",
		"GIT_AUTHOR_DATE=2024-05-01T12:00:00Z", "GIT_COMMITTER_DATE=2024-05-01T12:00:00Z",
		"GIT_CONFIG_GLOBAL=/dev/null", "GIT_CONFIG_NOSYSTEM=1")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%q in %s: %v\n%s", argv, dir, err, out)
	}
	return strings.TrimSpace(string(out))
}

// copyTree copies the directory src into dst.
func copyTree(t testing.TB, src, dst string) {
	t.Helper()
	err := filepath.WalkDir(src, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		target := filepath.Join(dst, rel)
		if d.IsDir() {
			return os.MkdirAll(target, 0o755)
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		info, _ := d.Info()
		return os.WriteFile(target, b, info.Mode().Perm())
	})
	if err != nil {
		t.Fatal(err)
	}
}

// monorepo makes a git repository holding testdata's hello service at
// services/hello and its lib at libs/greet, committed, and returns its path.
func monorepo(t testing.TB) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "origin")
	copyTree(t, "testdata/hello", filepath.Join(dir, "services", "hello"))
	copyTree(t, "testdata/libs/greet", filepath.Join(dir, "libs", "greet"))
	if err := os.WriteFile(filepath.Join(dir, ".gitignore"), []byte("*.log\n.convoy/\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	run(t, dir, "git", "init", "-q", "-b", "main")
	run(t, dir, "git", "add", "-A")
	run(t, dir, "git", "commit", "-q", "-m", "hello")
	return dir
}

// clone clones repo into a new temporary directory.
func clone(t testing.TB, repo string) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "clone")
	run(t, filepath.Dir(dir), "git", "clone", "-q", repo, dir)
	return dir
}

// pythonImage is a random image whose config says it has Python 3.11.
func pythonImage(t testing.TB) v1.Image {
	t.Helper()
	img, err := random.Image(512, 1)
	if err != nil {
		t.Fatal(err)
	}
	img = mutate.MediaType(img, types.OCIManifestSchema1)
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	cf = cf.DeepCopy()
	cf.OS, cf.Architecture = "linux", "amd64"
	cf.Config.Env = []string{"PATH=/usr/bin:/bin", "PYTHON_VERSION=3.11.9"}
	img, err = mutate.ConfigFile(img, cf)
	if err != nil {
		t.Fatal(err)
	}
	return img
}

// testBase stores img in a new OCI layout tagged "py" and loads it from there.
func testBase(t testing.TB, img v1.Image) *BaseImage {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "base")
	s, err := OpenStore(dir)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Put(img, "py"); err != nil {
		t.Fatal(err)
	}
	b, err := LoadBase(context.Background(), "oci-layout:"+dir+":py")
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// helloSpec is the Spec of the hello service in the monorepo at repo.
func helloSpec(t testing.TB, repo string, base *BaseImage) Spec {
	t.Helper()
	info, err := RepoInfo(repo)
	if err != nil {
		t.Fatal(err)
	}
	return Spec{
		Service:   "hello",
		Source:    helloSource(repo),
		Base:      base,
		Cmd:       []string{"python", "app.py"},
		Port:      8000,
		Health:    "/healthz",
		Git:       info,
		InputHash: "sha256:0123",
	}
}

// helloSource is the Source of the hello service in the monorepo at repo.
func helloSource(repo string) Source {
	return Source{
		Root: repo,
		Dir:  filepath.Join(repo, "services", "hello"),
		Libs: []Lib{{Dir: filepath.Join(repo, "libs", "greet"), Path: LibsRoot + "/greet"}},
	}
}

// tarEntry is a layer entry as a test sees it.
type tarEntry struct {
	hdr  *tar.Header
	data string
}

// layerEntries reads every entry of layer l, in order.
func layerEntries(t testing.TB, l v1.Layer) []tarEntry {
	t.Helper()
	rc, err := l.Uncompressed()
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	var out []tarEntry
	tr := tar.NewReader(rc)
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(tr)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, tarEntry{hdr, string(b)})
	}
}

func lastLayer(t testing.TB, img v1.Image) v1.Layer {
	t.Helper()
	ls, err := img.Layers()
	if err != nil {
		t.Fatal(err)
	}
	return ls[len(ls)-1]
}

func digestOf(t testing.TB, img v1.Image) v1.Hash {
	t.Helper()
	d, err := img.Digest()
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// testTools are the Python tools of every test: uv provisioned into
// $CONVOY_TEST_CACHE (shared with the other packages' tests), else into
// convoy's default cache.
func testTools(t testing.TB) *python.Tools {
	t.Helper()
	dir := os.Getenv("CONVOY_TEST_CACHE")
	if dir == "" {
		dir = python.DefaultCacheDir()
	}
	return python.NewTools(dir)
}
