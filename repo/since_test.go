package repo

import (
	"errors"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// TestChangedSinceMatchesGit: ChangedSince is what `git diff --name-only REF` (the commits and
// the uncommitted tracked changes, both sides of a rename) and `git ls-files --others
// --exclude-standard` (untracked, not ignored) list together; an unknown revision is
// ErrUnknownRevision.
func TestChangedSinceMatchesGit(t *testing.T) {
	isolateGit(t)
	dir := newGitRepo(t, map[string]string{
		".gitignore": "*.log\n", "a/one.py": "1\n", "a/two.py": "2\n", "b/three.py": "3\n", "c/four.py": "4\n",
	})
	git(t, dir, "tag", "base")
	git(t, dir, "mv", "a/two.py", "a/deux.py")
	git(t, dir, "rm", "-q", "c/four.py")
	git(t, dir, "commit", "-q", "-m", "rename and delete")
	writeFile(t, filepath.Join(dir, "b/three.py"), "three\n")    // unstaged
	writeFile(t, filepath.Join(dir, "d/new.py"), "new\n")        // untracked
	writeFile(t, filepath.Join(dir, "d/debug.log"), "ignored\n") // ignored
	got, err := openRepo(t, dir).ChangedSince("base")
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(git(t, dir, "diff", "--no-renames", "--name-only", "base")+"\n"+
		git(t, dir, "ls-files", "--others", "--exclude-standard"), "\n")
	slices.Sort(lines)
	want := slices.Compact(lines)
	if !slices.Equal(got, want) {
		t.Errorf("ChangedSince(base) = %q\ngit says %q", got, want)
	}
	if !slices.Contains(got, "a/two.py") || !slices.Contains(got, "a/deux.py") || slices.Contains(got, "d/debug.log") {
		t.Errorf("ChangedSince(base) = %q: want both sides of the rename and no ignored file", got)
	}
	if _, err := openRepo(t, dir).ChangedSince("nope"); !errors.Is(err, ErrUnknownRevision) {
		t.Errorf("unknown revision: err = %v, want ErrUnknownRevision", err)
	}
}
