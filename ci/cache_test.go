package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestCachePrune runs convoy cache prune on a cache holding a stale dependency layer and a
// stale unpacked layer, the machine's layer cache holding a stale base layer and a recent one,
// and a state directory holding a stale Dagger retry record: the dry run lists the stale ones
// with their sizes and keeps them, the real run removes them; a wrong subcommand is a usage
// error.
func TestCachePrune(t *testing.T) {
	root := writeRepo(t, map[string]string{
		"services.yaml":          "version: 1\nservices: [{name: a, path: svc/a}]\n",
		"svc/a/requirements.txt": "",
	})
	cache, xdg := t.TempDir(), t.TempDir()
	layer := filepath.Join(cache, "layers", "deps-old.tar.gz")
	writeFiles(t, cache, map[string]string{"layers/deps-old.tar.gz": strings.Repeat("x", 3*1024)})
	retry := filepath.Join(root, ".convoy", "dagger", "retry", "0123abcd-0")
	writeFiles(t, root, map[string]string{".convoy/dagger/retry/0123abcd-0": strings.Repeat("f", 32)})
	unpacked := filepath.Join(cache, "rootfs", strings.Repeat("1", 64))
	writeFiles(t, unpacked, map[string]string{"app/main.py": strings.Repeat("p", 2*1024)})
	base, recent := filepath.Join(xdg, "convoy", "rootfs", strings.Repeat("2", 64)), filepath.Join(xdg, "convoy", "rootfs", strings.Repeat("3", 64))
	writeFiles(t, base, map[string]string{"usr/bin/python3": strings.Repeat("b", 1024)})
	writeFiles(t, recent, map[string]string{"usr/bin/python3": "recent"})
	old := time.Now().Add(-30 * 24 * time.Hour)
	for _, p := range []string{layer, retry, unpacked, base} {
		if err := os.Chtimes(p, old, old); err != nil {
			t.Fatal(err)
		}
	}
	run := func(args ...string) (string, int) {
		cmd := exec.Command(convoyBin, append(args, "-C", root, "--cache-dir", cache)...)
		cmd.Env = append(os.Environ(), "XDG_CACHE_HOME="+xdg)
		out, err := cmd.CombinedOutput()
		if ee, ok := err.(*exec.ExitError); ok {
			return string(out), ee.ExitCode()
		}
		if err != nil {
			t.Fatal(err)
		}
		return string(out), 0
	}
	out, code := run("cache", "prune", "--dry-run")
	if code != 0 || !strings.Contains(out, "3.0 KiB  dependency layer") || !strings.Contains(out, "32 B  dagger retry record   "+retry) ||
		!strings.Contains(out, "2.0 KiB  unpacked layer        "+unpacked) || !strings.Contains(out, "1.0 KiB  unpacked layer        "+base) ||
		!strings.Contains(out, "would reclaim 6.0 KiB in 4 entries") {
		t.Fatalf("dry run: exit %d\n%s", code, out)
	}
	for _, p := range []string{layer, retry, unpacked, base, recent} {
		if _, err := os.Stat(p); err != nil {
			t.Fatalf("the dry run removed %s: %v", p, err)
		}
	}
	if out, code = run("cache", "prune"); code != 0 || !strings.Contains(out, "reclaimed 6.0 KiB in 4 entries") {
		t.Fatalf("prune: exit %d\n%s", code, out)
	}
	for _, p := range []string{layer, retry, unpacked, base} {
		if _, err := os.Stat(p); !os.IsNotExist(err) {
			t.Errorf("%s is still there: %v", p, err)
		}
	}
	if _, err := os.Stat(recent); err != nil {
		t.Errorf("the recently used layer is gone: %v", err)
	}
	if out, code = run("cache", "clear"); code != exitUsage {
		t.Errorf("cache clear: exit %d, want %d\n%s", code, exitUsage, out)
	}
}
