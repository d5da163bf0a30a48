package main

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/convoy-ci/convoy/release"
)

// TestReleaseE2E releases the repository's four services to a real registry (Debian's
// docker-registry, started by scripts/registry.sh e2e, which sets CONVOY_E2E_REGISTRY and
// CONVOY_CRANE), then checks every tag with crane and the commits and tag with the git CLI. A
// rerun changes nothing; `release --check` compares lockfiles; and a QA tag on the unchanged tree
// makes `convoy run` cut a second release that retags every image.
func TestReleaseE2E(t *testing.T) {
	addr, crane := os.Getenv("CONVOY_E2E_REGISTRY"), os.Getenv("CONVOY_CRANE")
	if addr == "" || crane == "" {
		t.Skip("needs a real registry: run scripts/registry.sh e2e (sets CONVOY_E2E_REGISTRY and CONVOY_CRANE)")
	}
	needBase(t)
	root := copyMonorepo(t) // a git repository already
	git := func(args ...string) string {
		t.Helper()
		cmd := exec.Command("git", append([]string{"-C", root}, args...)...)
		cmd.Env = gitEnv()
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("git %v: %v %s", args, err, out)
		}
		return strings.TrimSpace(string(out))
	}
	registry := addr + "/convoy"
	cut := func(tag string) runResult {
		t.Helper()
		res := convoy(t, root, []string{"CI=true"}, "release", "--tag", tag, "--registry", registry, "--insecure")
		if res.code != 0 {
			t.Fatalf("convoy release %s: exit %d\n%s\n%s", tag, res.code, res.stdout, res.stderr)
		}
		return res
	}
	manifest := func(tag string) release.Manifest {
		t.Helper()
		m, err := release.ParseManifest([]byte(git("show", "HEAD:releases/"+tag+".json")))
		if err != nil {
			t.Fatal(err)
		}
		return m
	}
	source := git("rev-parse", "HEAD")

	cut("v1.0.0")
	m := manifest("v1.0.0")
	if len(m.Services) != 4 {
		t.Fatalf("manifest lists %d services, want 4", len(m.Services))
	}
	// Git: an annotated tag on the manifest commit, whose parent froze the lockfiles; clean tree.
	if typ := git("cat-file", "-t", "v1.0.0"); typ != "tag" {
		t.Errorf("v1.0.0 is a %s, want an annotated tag", typ)
	}
	if git("rev-list", "-n1", "v1.0.0") != git("rev-parse", "HEAD") || git("rev-parse", "HEAD~2") != source {
		t.Errorf("unexpected history:\n%s", git("log", "--oneline", "-5"))
	}
	if st := git("status", "--porcelain"); st != "" {
		t.Errorf("the release left the worktree dirty:\n%s", st)
	}
	for _, s := range m.Services {
		if s.Action != "built" {
			t.Errorf("%s action %q, want built", s.Name, s.Action)
		}
		// The lockfile is committed, and its hash is the manifest's.
		if got := git("ls-tree", "--name-only", "HEAD", s.Lockfile); got != s.Lockfile {
			t.Errorf("lockfile %s not committed", s.Lockfile)
		}
		// An independent client sees the tag at the manifest's digest.
		out, err := exec.Command(crane, "digest", "--insecure", registry+"/"+s.Name+":v1.0.0").CombinedOutput()
		if err != nil || strings.TrimSpace(string(out)) != s.Digest {
			t.Errorf("crane digest %s:v1.0.0 = %s (%v), manifest says %s", s.Name, out, err, s.Digest)
		}
	}

	// --check: right after the freeze the committed lockfiles match what the gates install; a
	// committed lockfile pinned to something else is reported; nothing is written either way.
	if res := convoy(t, root, []string{"CI=true"}, "release", "--check"); res.code != 0 || !strings.Contains(res.stdout, "every lockfile matches") {
		t.Errorf("release --check after the release: exit %d\n%s\n%s", res.code, res.stdout, res.stderr)
	}
	lock := filepath.Join(root, "services", "events", "requirements.lock")
	data, err := os.ReadFile(lock)
	if err != nil {
		t.Fatal(err)
	}
	tampered := strings.Replace(string(data), "sqlparse==", "sqlparse==0.4.4\n# was sqlparse==", 1)
	if err := os.WriteFile(lock, []byte(tampered), 0o644); err != nil {
		t.Fatal(err)
	}
	git("commit", "-q", "-am", "pin sqlparse back")
	if res := convoy(t, root, []string{"CI=true"}, "release", "--check"); res.code != 1 || !strings.Contains(res.stdout, "sqlparse") {
		t.Errorf("release --check with a tampered lockfile: exit %d, want 1 naming sqlparse\n%s\n%s", res.code, res.stdout, res.stderr)
	}
	if st := git("status", "--porcelain"); st != "" {
		t.Errorf("release --check wrote to the worktree:\n%s", st)
	}
	git("reset", "-q", "--hard", "HEAD~1")

	// Rerunning a finished release changes nothing.
	head := git("rev-parse", "HEAD")
	again := cut("v1.0.0")
	if !strings.Contains(again.stdout, "nothing to do") || git("rev-parse", "HEAD") != head || git("rev-list", "-n1", "v1.0.0") != head {
		t.Errorf("rerun changed something or did not say so:\n%s", again.stdout)
	}

	// QA tags the commit and CI runs `convoy run`: that cuts the release. The tree is unchanged,
	// so every image is retagged (same digests) and no lockfile is committed again.
	git("tag", "v1.0.1")
	if res := convoy(t, root, []string{"CI=true"}, "run", "--push", registry, "--insecure"); res.code != 0 {
		t.Fatalf("convoy run on a release tag: exit %d\n%s\n%s", res.code, res.stdout, res.stderr)
	}
	if typ := git("cat-file", "-t", "v1.0.1"); typ != "tag" || git("rev-list", "-n1", "v1.0.1") != git("rev-parse", "HEAD") {
		t.Errorf("the QA tag v1.0.1 was not moved to the release commit as an annotated tag:\n%s", git("log", "--oneline", "--decorate", "-4"))
	}
	m2 := manifest("v1.0.1")
	if git("rev-parse", "HEAD~1") != head {
		t.Errorf("v1.0.1 made more than its manifest commit:\n%s", git("log", "--oneline", "-4"))
	}
	for i, s := range m2.Services {
		if s.Action != "retagged" || s.Digest != m.Services[i].Digest {
			t.Errorf("%s in v1.0.1: %s %s, want retagged %s", s.Name, s.Action, s.Digest, m.Services[i].Digest)
		}
		out, err := exec.Command(crane, "digest", "--insecure", registry+"/"+s.Name+":v1.0.1").CombinedOutput()
		if err != nil || strings.TrimSpace(string(out)) != s.Digest {
			t.Errorf("crane digest %s:v1.0.1 = %s (%v), want %s", s.Name, out, err, s.Digest)
		}
	}
	var raw map[string]any
	if err := json.Unmarshal([]byte(git("show", "HEAD:"+filepath.ToSlash(release.ManifestPath("v1.0.1")))), &raw); err != nil {
		t.Errorf("manifest is not JSON: %v", err)
	}
}
