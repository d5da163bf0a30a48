// Package imagetest makes base images for tests that need an image config, not a working
// Python: a random linux/amd64 image with the config a test sets, in an OCI image layout.
package imagetest

import (
	"path/filepath"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"

	"github.com/convoy-ci/convoy/image"
)

// Base writes a random linux/amd64 image of one layer, whose runtime config set fills, into a
// new OCI image layout under t.TempDir() tagged "py", and returns its reference
// "oci-layout:DIR:py" (what services.yaml's base: takes).
func Base(t testing.TB, set func(*v1.Config)) string {
	t.Helper()
	img, err := random.Image(256, 1)
	if err != nil {
		t.Fatal(err)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	cf = cf.DeepCopy()
	cf.OS, cf.Architecture = "linux", "amd64"
	set(&cf.Config)
	if img, err = mutate.ConfigFile(img, cf); err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "base")
	s, err := image.OpenStore(dir)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Put(img, "py"); err != nil {
		t.Fatal(err)
	}
	return "oci-layout:" + dir + ":py"
}
