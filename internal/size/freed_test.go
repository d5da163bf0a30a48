package size

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestFreed: a file counts once however many of its links are in the tree, and not at all when
// a link is outside it; symlinks and directories count nothing.
func TestFreed(t *testing.T) {
	dir, outside := t.TempDir(), t.TempDir()
	write := func(p string, n int) {
		if err := os.WriteFile(p, []byte(strings.Repeat("x", n)), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	link := func(old, new string) {
		if err := os.Link(old, new); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Mkdir(filepath.Join(dir, "sub"), 0o755); err != nil {
		t.Fatal(err)
	}
	write(filepath.Join(dir, "own"), 100)
	link(filepath.Join(dir, "own"), filepath.Join(dir, "sub", "own-again"))
	write(filepath.Join(outside, "shared"), 1000)
	link(filepath.Join(outside, "shared"), filepath.Join(dir, "shared"))
	if err := os.Symlink(filepath.Join(outside, "shared"), filepath.Join(dir, "symlink")); err != nil {
		t.Fatal(err)
	}
	if n, err := Freed(dir); err != nil || n != 100 {
		t.Errorf("Freed = %d, %v; want 100", n, err)
	}
	if _, err := Freed(filepath.Join(dir, "missing")); err == nil {
		t.Error("Freed of a missing directory: no error")
	}
}
