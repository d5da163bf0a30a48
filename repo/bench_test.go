package repo

import (
	"github.com/convoy-ci/convoy/internal/gittest"

	"fmt"
	"path/filepath"
	"testing"

	gogit "github.com/go-git/go-git/v5"
)

// BenchmarkChanges compares Changes with go-git's Worktree.Status on a
// repository whose ignored virtualenv holds 20,000 files (as a service's
// .venv or .convoy/ does).
func BenchmarkChanges(b *testing.B) {
	isolateGitB(b)
	files := map[string]string{".gitignore": ".venv/\n"}
	for i := range 200 {
		files[fmt.Sprintf("src/pkg%d/mod.py", i)] = "x\n"
	}
	dir := newGitRepoB(b, files)
	for i := range 20000 {
		gittest.WriteFile(b, filepath.Join(dir, ".venv", "lib", fmt.Sprintf("d%d", i%100), fmt.Sprintf("f%d.py", i)), "y\n")
	}
	r, err := Open(dir)
	if err != nil {
		b.Fatal(err)
	}
	b.Run("convoy", func(b *testing.B) {
		for range b.N {
			if cs, err := r.Changes(); err != nil || len(cs) != 0 {
				b.Fatal(cs, err)
			}
		}
	})
	b.Run("go-git", func(b *testing.B) {
		wt, _ := r.r.Worktree()
		for range b.N {
			st, err := wt.StatusWithOptions(gogit.StatusOptions{Strategy: gogit.Preload})
			if err != nil || !st.IsClean() {
				b.Fatal(st, err)
			}
		}
	})
}
