package pgcluster

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// fakeInstall creates dir with the given programs as empty executables.
func fakeInstall(t *testing.T, dir string, progs ...string) string {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, p := range progs {
		if err := os.WriteFile(filepath.Join(dir, p), []byte("#!/bin/sh\n"), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func TestFindBinDir(t *testing.T) {
	root := t.TempDir()
	all := []string{"initdb", "pg_ctl", "postgres"}
	v96 := fakeInstall(t, filepath.Join(root, "lib/postgresql/9.6/bin"), all...)
	v15 := fakeInstall(t, filepath.Join(root, "lib/postgresql/15/bin"), all...)
	v16 := fakeInstall(t, filepath.Join(root, "lib/postgresql/16/bin"), all...)
	fakeInstall(t, filepath.Join(root, "lib/postgresql/17/bin"), "initdb", "pg_ctl") // incomplete
	partial := fakeInstall(t, filepath.Join(root, "partial"), "initdb")
	onPath := fakeInstall(t, filepath.Join(root, "onpath"), all...)
	links := fakeInstall(t, filepath.Join(root, "links"))
	if err := os.Symlink(filepath.Join(v15, "initdb"), filepath.Join(links, "initdb")); err != nil {
		t.Fatal(err)
	}
	glob := []string{filepath.Join(root, "lib/postgresql/*/bin")}

	tests := []struct {
		name  string
		path  []string
		globs []string
		want  string
	}{
		{"newest versioned directory", nil, glob, v16},
		{"PATH wins over versioned directories", []string{partial, onPath}, glob, onPath},
		{"symlink on PATH resolves to its installation", []string{links}, glob, v15},
		{"only old version", nil, []string{v96}, v96},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := findBinDir(tt.path, tt.globs)
			if err != nil {
				t.Fatalf("findBinDir: %v", err)
			}
			if got != tt.want {
				t.Errorf("findBinDir = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestFindBinDirMissing(t *testing.T) {
	root := t.TempDir()
	partial := fakeInstall(t, filepath.Join(root, "bin"), "pg_ctl")
	_, err := findBinDir([]string{partial}, []string{filepath.Join(root, "none/*/bin")})
	if !errors.Is(err, ErrNoBinaries) {
		t.Fatalf("err = %v, want ErrNoBinaries", err)
	}
	for _, want := range []string{"apt-get install -y postgresql", "--postgres URL"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %q", err, want)
		}
	}
}

func TestVersionLess(t *testing.T) {
	tests := []struct {
		a, b string
		want bool
	}{
		{"/usr/lib/postgresql/9.6/bin", "/usr/lib/postgresql/15/bin", true},
		{"/usr/lib/postgresql/16/bin", "/usr/lib/postgresql/15/bin", false},
		{"/usr/pgsql-12/bin", "/usr/pgsql-13/bin", true},
		{"/usr/local/pgsql/bin", "/usr/lib/postgresql/10/bin", true},
	}
	for _, tt := range tests {
		if got := versionLess(versionOf(tt.a), versionOf(tt.b)); got != tt.want {
			t.Errorf("versionLess(%q, %q) = %v, want %v", tt.a, tt.b, got, tt.want)
		}
	}
}
