package repo

import (
	"testing"

	"github.com/convoy-ci/convoy/internal/gittest"
)

// isolateGit gives the test a fresh HOME with a known identity (see gittest.Isolate).
func isolateGit(t *testing.T) string { return gittest.Isolate(t, "Test User", "test@example.com") }

// git runs the git CLI in dir and returns its trimmed stdout.
func git(t *testing.T, dir string, args ...string) string { return gittest.Git(t, dir, args...) }

func writeFile(t *testing.T, path, content string) { gittest.WriteFile(t, path, content) }

// newGitRepo creates a repository with the CLI, commits files (path → content) and returns its
// directory.
func newGitRepo(t *testing.T, files map[string]string) string { return gittest.NewRepo(t, files) }

func openRepo(t *testing.T, dir string) *Repo {
	t.Helper()
	r, err := Open(dir)
	if err != nil {
		t.Fatalf("Open(%q): %v", dir, err)
	}
	return r
}

func isolateGitB(b *testing.B) { gittest.Isolate(b, "Bench", "bench@example.com") }

func newGitRepoB(b *testing.B, files map[string]string) string { return gittest.NewRepo(b, files) }
