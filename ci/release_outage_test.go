package main

import (
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/google/go-containerregistry/pkg/crane"
	"github.com/google/go-containerregistry/pkg/registry"

	"github.com/convoy-ci/convoy/release"
)

// outageRegistry is go-containerregistry's in-memory registry behind a switch: while down is
// set, every PUT of a manifest under tag answers 503 (and is counted in failed).
type outageRegistry struct {
	srv    *httptest.Server
	down   atomic.Bool
	failed atomic.Int64
}

func newOutageRegistry(t *testing.T, tag string) *outageRegistry {
	t.Helper()
	o := &outageRegistry{}
	reg := registry.New(registry.Logger(log.New(io.Discard, "", 0)))
	o.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if o.down.Load() && r.Method == http.MethodPut && strings.HasSuffix(r.URL.Path, "/manifests/"+tag) {
			o.failed.Add(1)
			http.Error(w, "registry down for maintenance", http.StatusServiceUnavailable)
			return
		}
		reg.ServeHTTP(w, r)
	}))
	t.Cleanup(o.srv.Close)
	return o
}

// TestReleaseRegistryOutageResumes: `convoy release` against a registry that goes down while
// the release stamps its tag fails (exit 1, not a usage error) with the freeze committed and no
// manifest or git tag; run again once the registry is back, it finishes the release, and the
// manifest records what really happened — the image built for this release (by the first
// attempt) at the digest the registry's tag names.
func TestReleaseRegistryOutageResumes(t *testing.T) {
	if testing.Short() {
		t.Skip("builds an image and runs integration in runc and PostgreSQL; skipped with -short")
	}
	needBase(t)
	const tag = "v1.0.0"
	reg := newOutageRegistry(t, tag)
	root := imageRepo(t, "pass", "")
	data, err := os.ReadFile(filepath.Join(root, "services.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	writeFiles(t, root, map[string]string{"services.yaml": string(data) + "release:\n  tag_pattern: '^v[0-9]+\\.[0-9]+\\.[0-9]+$'\n"})
	gitCommitAll(t, root)
	source := gitIn(t, root, "rev-parse", "HEAD")
	repo := strings.TrimPrefix(reg.srv.URL, "http://") + "/convoy"
	cut := func() runResult {
		return convoy(t, root, []string{"CONVOY_RUNTIME="}, "release", "--tag", tag, "--registry", repo, "--insecure", "--runtime", "runc")
	}

	reg.down.Store(true)
	res := cut()
	if res.code != exitFailed || reg.failed.Load() == 0 {
		t.Fatalf("release through the outage: exit %d after %d failed PUTs, want exit %d\n%s\n%s",
			res.code, reg.failed.Load(), exitFailed, res.stdout, res.stderr)
	}
	if got := gitIn(t, root, "rev-list", "--count", source+"..HEAD"); got != "1" {
		t.Errorf("%s commits after the failed release, want 1 (the freeze)", got)
	}
	if gitIn(t, root, "tag", "-l", tag) != "" {
		t.Error("git tag written although stamping failed")
	}
	if _, err := os.Stat(filepath.Join(root, release.ManifestPath(tag))); !os.IsNotExist(err) {
		t.Errorf("release manifest written although stamping failed (%v)", err)
	}

	reg.down.Store(false)
	if res := cut(); res.code != 0 {
		t.Fatalf("resumed release: exit %d\n%s\n%s", res.code, res.stdout, res.stderr)
	}
	m, err := release.ParseManifest([]byte(gitIn(t, root, "show", "HEAD:"+filepath.ToSlash(release.ManifestPath(tag)))))
	if err != nil {
		t.Fatal(err)
	}
	if len(m.Services) != 1 || m.Services[0].Action != release.ActionBuilt {
		t.Fatalf("manifest services = %+v, want web built for this release", m.Services)
	}
	digest, err := crane.Digest(repo+"/web:"+tag, crane.Insecure)
	if err != nil || digest != m.Services[0].Digest {
		t.Errorf("registry's %s names %s (%v), the manifest says %s", tag, digest, err, m.Services[0].Digest)
	}
	if gitIn(t, root, "rev-list", "-n1", tag) != gitIn(t, root, "rev-parse", "HEAD") || gitIn(t, root, "rev-parse", "HEAD~2") != source {
		t.Errorf("unexpected history:\n%s", gitIn(t, root, "log", "--oneline", "--decorate", "-4"))
	}
}
