package image

import (
	"context"
	"io"
	"log"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

func newRegistry(t *testing.T) string {
	t.Helper()
	s := httptest.NewServer(registry.New(registry.Logger(log.New(io.Discard, "", 0))))
	t.Cleanup(s.Close)
	return strings.TrimPrefix(s.URL, "http://")
}

// TestPushAndLookupRemote pushes a built image to an in-memory registry and
// finds it again by its input hash: the cache check against a push target.
func TestPushAndLookupRemote(t *testing.T) {
	ctx := context.Background()
	host := newRegistry(t)
	repo := host + "/convoy/hello"
	img := labelled(t, "sha256:"+strings.Repeat("ab", 32))
	digest := digestOf(t, img)

	if _, ok, err := LookupRemote(ctx, repo, "sha256:"+strings.Repeat("ab", 32), WithInsecure(true)); ok || err != nil {
		t.Fatalf("LookupRemote before Push = %v, %v; want a miss", ok, err)
	}
	got, err := Push(ctx, img, repo, []string{"1a2b3c4d5e6f", "latest"}, WithInsecure(true))
	if err != nil {
		t.Fatal(err)
	}
	if got.String() != repo+"@"+digest.String() {
		t.Errorf("Push = %s, want %s@%s", got, repo, digest)
	}
	for _, tag := range []string{"1a2b3c4d5e6f", "latest", InputTag("sha256:" + strings.Repeat("ab", 32))} {
		ref, _ := name.ParseReference(repo + ":" + tag)
		desc, err := remote.Head(ref)
		if err != nil || desc.Digest != digest {
			t.Errorf("%s: %v, digest %v; want %s", ref, err, desc, digest)
		}
	}

	tests := []struct {
		hash  string
		found bool
	}{
		{"sha256:" + strings.Repeat("ab", 32), true},
		{"sha256:" + strings.Repeat("cd", 32), false},
	}
	for _, tt := range tests {
		d, ok, err := LookupRemote(ctx, repo, tt.hash, WithInsecure(true))
		if err != nil || ok != tt.found || (ok && d.DigestStr() != digest.String()) {
			t.Errorf("LookupRemote(%s) = %s, %v, %v; want found=%v", tt.hash, d, ok, err, tt.found)
		}
	}

	if err := Retag(ctx, got.String(), "v1.0.0", WithInsecure(true)); err != nil {
		t.Fatal(err)
	}
	ref, _ := name.ParseReference(repo + ":v1.0.0")
	if desc, err := remote.Head(ref); err != nil || desc.Digest != digest {
		t.Errorf("after Retag, v1.0.0 = %v, %v", desc, err)
	}
}

func TestRemoteErrors(t *testing.T) {
	ctx := context.Background()
	img := labelled(t, "sha256:aa")
	// Nothing listens on port 1.
	if _, _, err := LookupRemote(ctx, "127.0.0.1:1/convoy/hello", "sha256:aa"); err == nil || !strings.Contains(err.Error(), "127.0.0.1:1/convoy/hello") {
		t.Errorf("LookupRemote on a dead registry: %v", err)
	}
	if _, err := Push(ctx, img, "127.0.0.1:1/convoy/hello", []string{"x"}); err == nil || !strings.Contains(err.Error(), "connection refused") {
		t.Errorf("Push to a dead registry: %v", err)
	}
	if _, err := Push(ctx, img, "Not/A Repo", nil); err == nil || !strings.Contains(err.Error(), `parsing repository "Not/A Repo"`) {
		t.Errorf("Push to a bad repository: %v", err)
	}
}

// TestWriteDockerTarball round-trips an image through a docker tarball.
func TestWriteDockerTarball(t *testing.T) {
	img := labelled(t, "sha256:aa")
	path := filepath.Join(t.TempDir(), "hello.tar")
	if err := WriteDockerTarball(img, "hello:1a2b", path); err != nil {
		t.Fatal(err)
	}
	tag, _ := name.NewTag("hello:1a2b")
	back, err := tarball.ImageFromPath(path, &tag)
	if err != nil {
		t.Fatal(err)
	}
	want, _ := img.ConfigName()
	if got, err := back.ConfigName(); err != nil || got != want {
		t.Errorf("config %s, %v; want %s", got, err, want)
	}
	if err := WriteDockerTarball(img, "Bad Tag", path); err == nil {
		t.Error("bad tag accepted")
	}
}
