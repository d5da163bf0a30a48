package image

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
)

// labelled is a random image whose config has input hash h.
func labelled(t *testing.T, h string) v1.Image {
	t.Helper()
	img, err := mutate.Config(pythonImage(t), v1.Config{Labels: map[string]string{LabelInputHash: h}})
	if err != nil {
		t.Fatal(err)
	}
	return img
}

func TestStore(t *testing.T) {
	dir := filepath.Join(t.TempDir(), ".convoy", "oci")
	s, err := OpenStore(dir)
	if err != nil {
		t.Fatal(err)
	}
	a, b := labelled(t, "sha256:aa"), labelled(t, "sha256:bb")
	da, err := s.Put(a, "hello:111", "hello:latest")
	if err != nil {
		t.Fatal(err)
	}
	db, err := s.Put(b, "hello:222", "hello:latest") // moves hello:latest
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Put(b, "hello:222"); err != nil { // idempotent
		t.Fatal(err)
	}

	s, err = OpenStore(dir) // reopened: the state is on disk
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		hash     string
		found    bool
		digest   v1.Hash
		wantTags []string
	}{
		{"sha256:aa", true, da, []string{"hello:111"}},
		{"sha256:bb", true, db, []string{"hello:222", "hello:latest"}},
		{"sha256:cc", false, v1.Hash{}, nil},
	}
	for _, tt := range tests {
		e, ok, err := s.Lookup(tt.hash)
		if err != nil {
			t.Fatal(err)
		}
		slices.Sort(e.Tags)
		if ok != tt.found || e.Digest != tt.digest || !slices.Equal(e.Tags, tt.wantTags) {
			t.Errorf("Lookup(%s) = %+v, %v; want %s %q, %v", tt.hash, e, ok, tt.digest, tt.wantTags, tt.found)
		}
	}
	img, err := s.Image("hello:latest")
	if err != nil {
		t.Fatal(err)
	}
	if d := digestOf(t, img); d != db {
		t.Errorf("hello:latest is %s, want %s", d, db)
	}
	if err := s.Tag(da, "hello:v1.0.0"); err != nil {
		t.Fatal(err)
	}
	if img, err := s.Image("hello:v1.0.0"); err != nil || digestOf(t, img) != da {
		t.Errorf("hello:v1.0.0: %v", err)
	}
	if _, err := s.Image("hello:nope"); err == nil || !strings.Contains(err.Error(), `"hello:nope"`) {
		t.Errorf("Image(hello:nope) error = %v", err)
	}

	// The result is a valid layout for go-containerregistry too.
	idx, err := layout.ImageIndexFromPath(dir)
	if err != nil {
		t.Fatal(err)
	}
	im, _ := idx.IndexManifest()
	if len(im.Manifests) != 4 {
		t.Errorf("index has %d descriptors, want 4 (111, 222, latest, v1.0.0)", len(im.Manifests))
	}

	// A missing manifest blob is a miss (the next Put repairs it), not an error.
	os.Remove(filepath.Join(dir, "blobs", "sha256", da.Hex))
	if _, ok, err := s.Lookup("sha256:aa"); ok || err != nil {
		t.Errorf("Lookup with the manifest blob gone = %v, %v; want a miss", ok, err)
	}

	// Same inputs built again from another commit (another digest): the image
	// stored last is the one found.
	dNew, err := s.Put(labelled(t, "sha256:bb"), "hello:333")
	if err != nil {
		t.Fatal(err)
	}
	if e, ok, err := s.Lookup("sha256:bb"); !ok || err != nil || e.Digest != dNew {
		t.Errorf("Lookup(sha256:bb) = %s, %v, %v; want the newer %s", e.Digest, ok, err, dNew)
	}
}

// TestStoreConcurrentPut stores images from many goroutines (a parallel build)
// and loses none of their tags.
func TestStoreConcurrentPut(t *testing.T) {
	s, err := OpenStore(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	const n = 8
	imgs := make([]v1.Image, n)
	for i := range imgs {
		imgs[i] = labelled(t, "sha256:"+strings.Repeat("a", i+1))
	}
	var wg sync.WaitGroup
	for i, img := range imgs {
		wg.Go(func() {
			if _, err := s.Put(img, "svc"+strings.Repeat("x", i)+":1"); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	entries, err := s.List()
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != n {
		t.Errorf("%d images in the store, want %d", len(entries), n)
	}
}

// TestStoreTwoProcesses: two Stores on one directory (what two convoy processes in one
// repository hold) put images at once; no tag is lost and the layout stays readable.
func TestStoreTwoProcesses(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "oci")
	const n = 12
	imgs := make([]v1.Image, 2*n)
	for i := range imgs {
		imgs[i] = labelled(t, "sha256:"+strings.Repeat("b", i+1))
	}
	var wg sync.WaitGroup
	for p := range 2 {
		wg.Go(func() {
			s, err := OpenStore(dir)
			if err != nil {
				t.Error(err)
				return
			}
			for i := p * n; i < (p+1)*n; i++ {
				if _, err := s.Put(imgs[i], fmt.Sprintf("svc%d:1", i)); err != nil {
					t.Error(err)
				}
			}
		})
	}
	wg.Wait()
	s, err := OpenStore(dir)
	if err != nil {
		t.Fatal(err)
	}
	entries, err := s.List()
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 2*n {
		t.Errorf("%d images in the store, want %d: tags were lost", len(entries), 2*n)
	}
	for i := range imgs {
		if _, err := s.Image(fmt.Sprintf("svc%d:1", i)); err != nil {
			t.Error(err)
		}
	}
}

// TestStoreCorrupt opens directories that are not valid layouts: an error that
// names the directory, and not a byte changed.
func TestStoreCorrupt(t *testing.T) {
	tests := []struct {
		name  string
		files map[string]string
		want  string
	}{
		{"not a layout", map[string]string{"README": "mine"}, "not an OCI image layout"},
		{"bad oci-layout", map[string]string{"oci-layout": "{", "index.json": "{}"}, "not an OCI image layout"},
		{"truncated index", map[string]string{"oci-layout": `{"imageLayoutVersion":"1.0.0"}`, "index.json": `{"schemaVersion":2,"manifests":[`}, "corrupt"},
		{"no index", map[string]string{"oci-layout": `{"imageLayoutVersion":"1.0.0"}`}, "corrupt"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			for name, content := range tt.files {
				os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644)
			}
			_, err := OpenStore(dir)
			if err == nil || !strings.Contains(err.Error(), tt.want) || !strings.Contains(err.Error(), dir) {
				t.Errorf("OpenStore error = %v, want it to name %s and say %q", err, dir, tt.want)
			}
			entries, _ := os.ReadDir(dir)
			if len(entries) != len(tt.files) {
				t.Errorf("%d files in %s after OpenStore, want %d", len(entries), dir, len(tt.files))
			}
			for name, content := range tt.files {
				if b, _ := os.ReadFile(filepath.Join(dir, name)); string(b) != content {
					t.Errorf("%s changed to %q", name, b)
				}
			}
		})
	}

	// A layout that turns corrupt after it was opened: Put refuses to write.
	dir := t.TempDir()
	s, err := OpenStore(dir)
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(dir, "index.json"), []byte("garbage"), 0o644)
	if _, err := s.Put(labelled(t, "sha256:aa"), "x:1"); err == nil {
		t.Fatal("Put into a corrupt layout succeeded")
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "index.json")); string(b) != "garbage" {
		t.Errorf("index.json overwritten: %q", b)
	}
	if _, err := os.Stat(filepath.Join(dir, "blobs")); err == nil {
		if entries, _ := os.ReadDir(filepath.Join(dir, "blobs", "sha256")); len(entries) > 0 {
			t.Errorf("Put wrote %d blobs into a corrupt layout", len(entries))
		}
	}
}
