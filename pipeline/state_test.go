package pipeline

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/convoy-ci/convoy/internal/gittest"
	"github.com/convoy-ci/convoy/repo"
)

// TestStateDirKeepsWorktreeClean checks with the git CLI and convoy's own dirty check that
// convoy's state directory, once prepared, never makes a repository dirty — whatever is put in
// it later — and that a .gitignore the user wrote there is kept.
func TestStateDirKeepsWorktreeClean(t *testing.T) {
	gittest.Isolate(t, "Test", "test@example.com")
	root := gittest.NewRepo(t, map[string]string{"services.yaml": "version: 1\n"})
	state := filepath.Join(root, StateDirName)
	if err := PrepareStateDir(state); err != nil {
		t.Fatal(err)
	}
	gittest.WriteFile(t, filepath.Join(state, "logs", "api", "unit.log"), "ok\n")
	gittest.WriteFile(t, filepath.Join(state, "history.json"), "{}\n")
	if out := gittest.Git(t, root, "status", "--porcelain", "--untracked-files=all", "--ignored=no"); out != "" {
		t.Fatalf("git status after convoy wrote its state:\n%s", out)
	}
	r, err := repo.Open(root)
	if err != nil {
		t.Fatal(err)
	}
	if dirty, err := r.Dirty(); err != nil || len(dirty) > 0 {
		t.Fatalf("Dirty() = %v, %v; want a clean worktree", dirty, err)
	}
	// A second preparation (every command does one) keeps the user's own file.
	if err := os.WriteFile(filepath.Join(state, ".gitignore"), []byte("*\n!keep\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := PrepareStateDir(state); err != nil {
		t.Fatal(err)
	}
	if data, _ := os.ReadFile(filepath.Join(state, ".gitignore")); string(data) != "*\n!keep\n" {
		t.Fatalf(".gitignore rewritten: %q", data)
	}
}
