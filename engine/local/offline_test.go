package local

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/convoy-ci/convoy/pipeline/config"
	"github.com/convoy-ci/convoy/stages"
)

// TestOfflineFirst: the deps stage of a uv workspace's service (`uv sync --locked`) tries uv's
// cache alone first. With an empty uv cache that fails and the stage installs online; a second
// new virtualenv with the cache now filled installs offline, with no online command after it.
func TestOfflineFirst(t *testing.T) {
	if testing.Short() {
		t.Skip("installs from PyPI; skipped with -short")
	}
	root := filepath.Join(t.TempDir(), "repo")
	if err := os.CopyFS(root, os.DirFS(filepath.Join("..", "..", "testdata", "uv-workspace"))); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(config.FileName, root)
	if err != nil {
		t.Fatal(err)
	}
	cache := t.TempDir() // an empty uv cache; the provisioned tools shared with the other tests
	if err := os.Symlink(filepath.Join(testCache(t), "tools"), filepath.Join(cache, "tools")); err != nil {
		t.Fatal(err)
	}
	svc := cfg.Service("catalog")
	for i, want := range []struct{ online bool }{{online: true}, {online: false}} {
		e := New(filepath.Join(t.TempDir(), ".convoy"), WithCacheDir(cache))
		if i > 0 {
			venv, err := e.Venv(svc)
			if err != nil {
				t.Fatal(err)
			}
			if err := os.RemoveAll(venv); err != nil { // a new virtualenv, the uv cache kept
				t.Fatal(err)
			}
		}
		_, log := runStage(t, e, cfg, svc, stages.Deps)
		offline := strings.Contains(log, "sync --locked --no-install-workspace --offline")
		online := strings.Contains(log, "installing online")
		if !offline || online != want.online {
			t.Errorf("install %d: tried offline %v, then online %v; want offline first, online %v\n%s", i+1, offline, online, want.online, log)
		}
	}
}
