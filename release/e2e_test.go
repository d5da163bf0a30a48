package release

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestE2ERealRegistry releases the four services against a real registry
// (Debian's docker-registry, the distribution registry v2) and checks every
// image tag with independent clients (skopeo and/or crane) and the git
// commits and tags with the git CLI. It runs only when CONVOY_E2E_REGISTRY
// names a disposable registry (HOST:PORT, plain HTTP on loopback); use
// `scripts/registry.sh e2e`, which starts one.
//
// convoy talks to the registry through a counting proxy on 127.0.0.1, so the
// test can show that retagging moves zero blob bytes; the independent
// clients talk to the registry directly.
func TestE2ERealRegistry(t *testing.T) {
	addr := os.Getenv("CONVOY_E2E_REGISTRY")
	if addr == "" {
		t.Skip("CONVOY_E2E_REGISTRY not set (run scripts/registry.sh e2e)")
	}
	clients := independentClients(t)
	if len(clients) == 0 {
		t.Fatal("neither skopeo nor crane found (scripts/registry.sh install)")
	}
	target, err := url.Parse("http://" + addr)
	if err != nil {
		t.Fatalf("parsing CONVOY_E2E_REGISTRY %q: %v", addr, err)
	}
	if resp, err := http.Get(target.String() + "/v2/"); err != nil {
		t.Fatalf("registry %s: %v", addr, err)
	} else {
		resp.Body.Close()
	}
	proxy := newFaultyProxy(t, httputil.NewSingleHostReverseProxy(target))
	ns := fmt.Sprintf("e2e%d", time.Now().UnixNano())
	f := newFixtureAt(t, proxy, ns)
	ctx := context.Background()

	// checkTags reads every service's tag with each independent client,
	// straight from the registry.
	checkTags := func(tag string, m Manifest) {
		t.Helper()
		for _, s := range m.Services {
			ref := addr + "/" + ns + "/" + s.Name + ":" + tag
			for name, digestOf := range clients {
				got, err := digestOf(ref)
				if err != nil {
					t.Errorf("%s %s: %v", name, ref, err)
					continue
				}
				if got != s.Digest {
					t.Errorf("%s says %s -> %s, manifest says %s", name, ref, got, s.Digest)
				}
			}
		}
	}

	// v1.4.0: two services frozen and rebuilt, two retagged.
	res, err := Release(ctx, f.spec())
	if err != nil {
		t.Fatalf("Release v1.4.0: %v", err)
	}
	m140 := f.checkReleased("v1.4.0")
	checkTags("v1.4.0", m140)
	if res.FreezeCommit == "" || f.git("log", "-1", "--format=%s", "v1.4.0") != "release v1.4.0: manifest" {
		t.Errorf("git history:\n%s", f.git("log", "--format=%h %s", "-5"))
	}
	t.Logf("v1.4.0: %d blob bytes through the proxy (the two rebuilt images)", blobBytes(proxy))

	// v1.4.1: nothing changed, every image is retagged: no layer moves.
	proxy.reset()
	spec := f.spec()
	spec.Tag = "v1.4.1"
	res, err = Release(ctx, spec)
	if err != nil {
		t.Fatalf("Release v1.4.1: %v", err)
	}
	m141 := f.checkReleased("v1.4.1")
	checkTags("v1.4.1", m141)
	// Only each image's configuration is read (where it comes from: built for this release or
	// carried over); no layer moves, nothing is uploaded.
	onlyConfigsFetched(t, proxy.fetchedBlobs(), m141)
	if up := proxy.count("POST upload") + proxy.count("PATCH upload") + proxy.count("PUT upload"); up != 0 {
		t.Errorf("retag-only release: %d upload requests, want 0", up)
	}
	if got := proxy.count("PUT manifest"); got != 4 {
		t.Errorf("retag-only release wrote %d manifests, want 4", got)
	}
	for i := range m141.Services {
		if m141.Services[i].Digest != m140.Services[i].Digest {
			t.Errorf("%s: v1.4.1 digest differs from v1.4.0 although nothing changed", m141.Services[i].Name)
		}
	}
	t.Logf("v1.4.1: %d manifest PUTs, %d blob bytes (image configurations)", proxy.count("PUT manifest"), blobBytes(proxy))

	// Re-running it changes nothing.
	proxy.reset()
	head := f.head()
	res, err = Release(ctx, spec)
	if err != nil || !res.NothingToDo || f.head() != head || f.registryWrites() != 0 {
		t.Errorf("re-run of v1.4.1: NothingToDo %v, writes %d, err %v", res.NothingToDo, f.registryWrites(), err)
	}

	// v1.4.2 with a registry outage in the middle of stamping, then resumed.
	proxy.reset()
	proxy.addFault(fault{method: http.MethodPut, path: "/manifests/v1.4.2", nth: 3, kind: fail500})
	spec.Tag = "v1.4.2"
	if _, err := Release(ctx, spec); err == nil {
		t.Fatal("Release v1.4.2 succeeded through an outage")
	}
	proxy.reset()
	if _, err := Release(ctx, spec); err != nil {
		t.Fatalf("resumed Release v1.4.2: %v", err)
	}
	m142 := f.checkReleased("v1.4.2")
	checkTags("v1.4.2", m142)
	if got := proxy.count("PUT manifest"); got != 2 {
		t.Errorf("resume wrote %d tags, want the 2 missing ones", got)
	}

	// The git side, as a person would look at it.
	t.Logf("git log:\n%s", f.git("log", "--format=%h %s%d", "-8"))
	for _, tag := range []string{"v1.4.0", "v1.4.1", "v1.4.2"} {
		if ty := f.git("cat-file", "-t", tag); ty != "tag" {
			t.Errorf("%s is a %s", tag, ty)
		}
		if _, err := os.Stat(filepath.Join(f.dir, "releases", tag+".json")); err != nil {
			t.Errorf("releases/%s.json missing from the worktree", tag)
		}
	}
}

func blobBytes(fr *faultyRegistry) int64 {
	_, b := fr.blobTraffic()
	return b
}

// independentClients returns, by name, functions that read a tag's digest
// with a client that is not convoy: skopeo (containers/image) and crane
// (CONVOY_CRANE or PATH).
func independentClients(t *testing.T) map[string]func(ref string) (string, error) {
	out := map[string]func(string) (string, error){}
	if skopeo, err := exec.LookPath("skopeo"); err == nil {
		out["skopeo"] = func(ref string) (string, error) {
			raw, err := exec.Command(skopeo, "inspect", "--raw", "--tls-verify=false", "docker://"+ref).Output()
			if err != nil {
				return "", fmt.Errorf("skopeo inspect --raw: %w%s", err, stderrOf(err))
			}
			sum := sha256.Sum256(raw)
			return "sha256:" + hex.EncodeToString(sum[:]), nil
		}
	}
	crane := os.Getenv("CONVOY_CRANE")
	if crane == "" {
		crane, _ = exec.LookPath("crane")
	}
	if crane != "" {
		out["crane"] = func(ref string) (string, error) {
			d, err := exec.Command(crane, "digest", "--insecure", ref).Output()
			if err != nil {
				return "", fmt.Errorf("crane digest: %w%s", err, stderrOf(err))
			}
			return strings.TrimSpace(string(d)), nil
		}
	}
	for n := range out {
		t.Logf("independent client: %s", n)
	}
	return out
}
