package local

import (
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/convoy-ci/convoy/pipeline/config"
	"github.com/convoy-ci/convoy/stages"
)

// TestEnvironLibImportRoots: a stage's PYTHONPATH holds each lib's import root — a project lib
// itself, a package lib's parent (the repository's root for a package at the top) — and a real
// Python imports every lib with it.
func TestEnvironLibImportRoots(t *testing.T) {
	python, err := exec.LookPath("python3")
	if err != nil {
		t.Skip("no python3 on PATH")
	}
	root := t.TempDir()
	for p, content := range map[string]string{
		"services/web/requirements.txt": "",
		"libs/kit/kit/__init__.py":      "VALUE = 1\n",
		"libs/shared/__init__.py":       "",
		"libs/shared/util.py":           "VALUE = 10\n",
		"common/__init__.py":            "VALUE = 100\n",
	} {
		full := filepath.Join(root, filepath.FromSlash(p))
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	manifest := "version: 1\nservices: [{name: web, path: services/web, libs: [libs/kit, libs/shared, common]}]\n"
	cfg, err := config.Parse([]byte(manifest), config.FileName, root)
	if err != nil {
		t.Fatal(err)
	}
	svc := cfg.Service("web")
	env, err := New(t.TempDir()).Environ(cfg, svc, stages.ForService(svc)[1])
	if err != nil {
		t.Fatal(err)
	}
	var pyPath string
	for _, kv := range env {
		if v, ok := strings.CutPrefix(kv, "PYTHONPATH="); ok {
			pyPath = v
		}
	}
	want := strings.Join([]string{svc.Dir, filepath.Join(root, "libs", "kit"), filepath.Join(root, "libs"), root}, ":")
	if pyPath != want {
		t.Errorf("PYTHONPATH = %q, want %q", pyPath, want)
	}
	cmd := exec.Command(python, "-B", "-c", "import common, kit; from shared import util; assert util.VALUE + kit.VALUE + common.VALUE == 111")
	cmd.Dir = svc.Dir
	cmd.Env = env
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Errorf("importing the libs with the stage's environment: %v\n%s", err, out)
	}
}

// TestEnvironOwnsReservedEnv: the variables a gate stage gets from convoy are exactly the ones
// the manifest loader refuses in env: (config.ReservedEnv), LANG and the database's — named by
// database.env, and absent from the unit stage with database.unit: none.
func TestEnvironOwnsReservedEnv(t *testing.T) {
	root := t.TempDir()
	for _, dir := range []string{"services/a", "services/b"} {
		if err := os.MkdirAll(filepath.Join(root, dir), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(root, dir, "requirements.txt"), nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	manifest := `version: 1
defaults: {database: {env: SQLALCHEMY_URL}, env: {OWN: "1"}}
services:
  - {name: a, path: services/a}
  - {name: b, path: services/b, database: {unit: none}}
`
	cfg, err := config.Parse([]byte(manifest), config.FileName, root)
	if err != nil {
		t.Fatal(err)
	}
	eng := New(t.TempDir(), WithHostEnv(func(k string) (string, bool) { return "/host/" + k, true }))
	for _, tt := range []struct {
		svc, stage string
		db         bool
	}{{"a", stages.Unit, true}, {"a", stages.Lint, false}, {"a", stages.Populate, true}, {"b", stages.Unit, false}, {"b", stages.Populate, true}} {
		svc := cfg.Service(tt.svc)
		var st stages.Stage
		for _, s := range stages.ForService(svc) {
			if s.Name == tt.stage {
				st = s
			}
		}
		env, err := eng.Environ(cfg, svc, st)
		if err != nil {
			t.Fatal(err)
		}
		owned := append([]string{"LANG", "OWN"}, config.ReservedEnv...)
		var db string
		for _, kv := range env {
			k, v, _ := strings.Cut(kv, "=")
			switch {
			case k == "SQLALCHEMY_URL":
				db = v
			case !slices.Contains(owned, k):
				t.Errorf("%s/%s: convoy sets %s, which config.ReservedEnv does not list", tt.svc, tt.stage, k)
			}
		}
		if got := db != ""; got != tt.db {
			t.Errorf("%s/%s: SQLALCHEMY_URL=%q, want it set: %v", tt.svc, tt.stage, db, tt.db)
		}
		if db != "" && !strings.HasPrefix(db, "sqlite:///") {
			t.Errorf("%s/%s: SQLALCHEMY_URL=%q, want a SQLite file", tt.svc, tt.stage, db)
		}
	}
}
