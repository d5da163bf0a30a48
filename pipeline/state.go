package pipeline

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// StateDirName is the directory at a repository's root where convoy keeps its working state
// (logs, the image store, caches, stage history).
const StateDirName = ".convoy"

// stateIgnore is the .gitignore convoy keeps in its state directory: it ignores everything
// there, itself included, so the directory never shows in git status.
const stateIgnore = "# Written by convoy: its working state is never part of the repository.\n*\n"

// PrepareStateDir creates the state directory dir when it is missing and makes sure it holds a
// .gitignore ignoring all of it: git (and convoy release's clean-worktree check) never sees
// convoy's state, whether or not the repository's own .gitignore names it. A .gitignore already
// there is left as it is.
func PrepareStateDir(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("creating convoy's state directory %s: %w", dir, err)
	}
	f, err := os.OpenFile(filepath.Join(dir, ".gitignore"), os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if errors.Is(err, fs.ErrExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("ignoring convoy's state directory %s in git: %w", dir, err)
	}
	if _, err := f.WriteString(stateIgnore); err != nil {
		f.Close()
		return fmt.Errorf("ignoring convoy's state directory %s in git: %w", dir, err)
	}
	return f.Close()
}
