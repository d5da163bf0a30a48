package local

import (
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/convoy-ci/convoy/pipeline/config"
	"github.com/convoy-ci/convoy/python"
	"github.com/convoy-ci/convoy/stages"
)

// TestPrune fills a real cache — two virtualenvs made by the deps stage, dependency layers,
// runtime requirements, gate records and bytecode stores — drops a service from the manifest and ages some
// entries: a dry run lists exactly the stale ones with their sizes and removes nothing; a real
// one removes them and keeps what the manifest refers to, however old, and what was used
// recently.
func TestPrune(t *testing.T) {
	if testing.Short() {
		t.Skip("makes virtualenvs with uv; skipped with -short")
	}
	root, cache, state := t.TempDir(), t.TempDir(), t.TempDir()
	writeTree(t, root, map[string]string{
		"services/a/requirements.txt": "# a " + root + "\n",
		"services/b/requirements.txt": "# b " + root + "\n",
	})
	load := func(manifest string) *config.Config {
		cfg, err := config.Parse([]byte(manifest), config.FileName, root)
		if err != nil {
			t.Fatal(err)
		}
		return cfg
	}
	both := load("version: 1\nservices: [{name: a, path: services/a}, {name: b, path: services/b}]\n")
	e := New(state, WithCacheDir(cache), WithTools(python.NewTools(testCache(t))))
	venv := map[string]string{}
	for _, svc := range both.Services {
		runStage(t, e, both, svc, stages.Deps)
		v, err := e.Venv(svc)
		if err != nil {
			t.Fatal(err)
		}
		venv[svc.Name] = v
	}
	month := time.Now().Add(-30 * 24 * time.Hour)
	age := func(p string) {
		if err := os.Chtimes(p, month, month); err != nil {
			t.Fatal(err)
		}
	}
	age(filepath.Join(venv["a"], readyMarker))
	age(filepath.Join(venv["b"], readyMarker))
	writeTree(t, cache, map[string]string{
		"layers/deps-old.tar.gz": "old layer", "layers/deps-old.tar.gz.json": "{}",
		"layers/deps-new.tar.gz": "new layer", "gates/b/k1": "", "gates/a/k2": "", "gates/a/k3": "",
		"bytecode/cpython-310/0a.pyc": "old bytecode", "bytecode/cpython-311/0b.pyc": "new bytecode",
	})
	age(filepath.Join(cache, "bytecode", "cpython-310"))
	writeTree(t, state, map[string]string{"requirements/old.txt": "six==1.16.0\n", "requirements/new.txt": "six\n"})
	age(filepath.Join(cache, "layers", "deps-old.tar.gz"))
	age(filepath.Join(state, "requirements", "old.txt"))
	age(filepath.Join(cache, "gates", "a", "k3"))

	onlyA := load("version: 1\nservices: [{name: a, path: services/a}]\n")
	want := []string{venv["b"], filepath.Join(cache, "layers", "deps-old.tar.gz"), filepath.Join(state, "requirements", "old.txt"),
		filepath.Join(cache, "gates", "b", "k1"), filepath.Join(cache, "gates", "a", "k3"), filepath.Join(cache, "bytecode", "cpython-310")}
	slices.Sort(want)
	paths := func(rs []Reclaimable) []string {
		var out []string
		for _, r := range rs {
			out = append(out, r.Path)
		}
		slices.Sort(out)
		return out
	}
	dry, err := e.Prune(t.Context(), onlyA, DefaultKeepFor, true)
	if err != nil {
		t.Fatal(err)
	}
	if got := paths(dry); !slices.Equal(got, want) {
		t.Fatalf("dry run lists %q, want %q", got, want)
	}
	if dry[0].Path != venv["b"] || dry[0].Size < 1000 {
		t.Errorf("largest first: %+v, want b's virtualenv with its size", dry[0])
	}
	for _, p := range want {
		if _, err := os.Stat(p); err != nil {
			t.Errorf("the dry run removed %s", p)
		}
	}
	done, err := e.Prune(t.Context(), onlyA, DefaultKeepFor, false)
	if err != nil {
		t.Fatal(err)
	}
	if got := paths(done); !slices.Equal(got, want) {
		t.Errorf("pruned %q, want %q", got, want)
	}
	for _, p := range append(want, filepath.Join(cache, "layers", "deps-old.tar.gz.json")) {
		if _, err := os.Stat(p); !os.IsNotExist(err) {
			t.Errorf("%s is still there (%v)", p, err)
		}
	}
	for _, p := range []string{filepath.Join(venv["a"], readyMarker), filepath.Join(cache, "layers", "deps-new.tar.gz"),
		filepath.Join(state, "requirements", "new.txt"), filepath.Join(cache, "gates", "a", "k2"),
		filepath.Join(cache, "bytecode", "cpython-311", "0b.pyc")} {
		if _, err := os.Stat(p); err != nil {
			t.Errorf("pruned what it should keep: %v", err)
		}
	}
}
