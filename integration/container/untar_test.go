package container

import (
	"archive/tar"
	"bytes"
	"context"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestUntar: what a flattened image stream holds is written with its modes, owners, times and
// links; devices and FIFOs are skipped; parents listed after their content get their own mode.
func TestUntar(t *testing.T) {
	mtime := time.Date(2023, 1, 2, 3, 4, 5, 0, time.UTC)
	root := t.TempDir()
	archive := tarBytes(t, []tarEntry{
		{hdr: tar.Header{Name: "late/dir/file.txt", Typeflag: tar.TypeReg, Mode: 0o640, ModTime: mtime}, body: "upper layer"},
		{hdr: tar.Header{Name: "./bin/tool", Typeflag: tar.TypeReg, Mode: 0o4755, Uid: 1234, Gid: 5678}, body: "#!/bin/sh\n"},
		{hdr: tar.Header{Name: "bin/", Typeflag: tar.TypeDir, Mode: 0o750, ModTime: mtime}},
		{hdr: tar.Header{Name: "late/", Typeflag: tar.TypeDir, Mode: 0o700}},
		{hdr: tar.Header{Name: "/abs/name", Typeflag: tar.TypeReg, Mode: 0o644}, body: "absolute"},
		{hdr: tar.Header{Name: "usr/bin/", Typeflag: tar.TypeDir, Mode: 0o755}},
		{hdr: tar.Header{Name: "usr/bin/python3", Typeflag: tar.TypeSymlink, Linkname: "python3.11", Uid: 7, Gid: 8}},
		{hdr: tar.Header{Name: "usr/bin/python3.11", Typeflag: tar.TypeReg, Mode: 0o755}, body: "ELF"},
		{hdr: tar.Header{Name: "usr/bin/python3.11-again", Typeflag: tar.TypeLink, Linkname: "usr/bin/python3.11"}},
		{hdr: tar.Header{Name: "etc/alt", Typeflag: tar.TypeSymlink, Linkname: "/usr/bin/python3"}},
		{hdr: tar.Header{Name: "lib", Typeflag: tar.TypeSymlink, Linkname: "usr/lib"}},
		{hdr: tar.Header{Name: "dev/null", Typeflag: tar.TypeChar, Mode: 0o666, Devmajor: 1, Devminor: 3}},
		{hdr: tar.Header{Name: "run/fifo", Typeflag: tar.TypeFifo, Mode: 0o600}},
	})
	stats, err := untar(context.Background(), bytes.NewReader(archive), root)
	if err != nil {
		t.Fatal(err)
	}
	want := UnpackStats{Files: 4, Dirs: 3, Symlinks: 3, Hardlinks: 1, Bytes: int64(len("upper layer#!/bin/sh\nabsoluteELF")), Skipped: 2}
	stats.Duration = 0
	if stats != want {
		t.Errorf("stats = %+v, want %+v", stats, want)
	}

	modes := []struct {
		path string
		mode fs.FileMode
	}{
		{"late/dir/file.txt", 0o640},
		{"late/dir", fs.ModeDir | 0o755}, // implicit: never listed
		{"late", fs.ModeDir | 0o700},
		{"bin", fs.ModeDir | 0o750},
		{"bin/tool", fs.ModeSetuid | 0o755},
		{"abs/name", 0o644},
		{"usr/bin/python3", fs.ModeSymlink | 0o777},
	}
	for _, m := range modes {
		fi, err := os.Lstat(filepath.Join(root, m.path))
		if err != nil {
			t.Errorf("%s: %v", m.path, err)
			continue
		}
		if fi.Mode() != m.mode {
			t.Errorf("%s: mode %v, want %v", m.path, fi.Mode(), m.mode)
		}
	}
	if os.Geteuid() == 0 {
		for path, ids := range map[string][2]uint32{"bin/tool": {1234, 5678}, "usr/bin/python3": {7, 8}} {
			fi, _ := os.Lstat(filepath.Join(root, path))
			if st := fi.Sys().(*syscall.Stat_t); st.Uid != ids[0] || st.Gid != ids[1] {
				t.Errorf("%s: owner %d:%d, want %d:%d", path, st.Uid, st.Gid, ids[0], ids[1])
			}
		}
	}
	for _, path := range []string{"late/dir/file.txt", "bin"} {
		if fi, _ := os.Stat(filepath.Join(root, path)); fi == nil || !fi.ModTime().Equal(mtime) {
			t.Errorf("%s: modification time not %s", path, mtime)
		}
	}
	for link, target := range map[string]string{"usr/bin/python3": "python3.11", "etc/alt": "/usr/bin/python3", "lib": "usr/lib"} {
		if got, err := os.Readlink(filepath.Join(root, link)); got != target {
			t.Errorf("%s -> %q (%v), want %q", link, got, err, target)
		}
	}
	a, _ := os.Stat(filepath.Join(root, "usr/bin/python3.11"))
	b, _ := os.Stat(filepath.Join(root, "usr/bin/python3.11-again"))
	if a == nil || b == nil || !os.SameFile(a, b) {
		t.Error("usr/bin/python3.11-again is not a hard link of usr/bin/python3.11")
	}
	if exists(filepath.Join(root, "dev/null")) || exists(filepath.Join(root, "run/fifo")) {
		t.Error("a device node or FIFO was created")
	}
}

// TestUntarRefuses: no entry writes outside the root, neither through ".." nor through a link.
func TestUntarRefuses(t *testing.T) {
	tests := []struct {
		name    string
		entries func(outside string) []tarEntry
		want    string
	}{
		{"a name climbing out", func(string) []tarEntry {
			return []tarEntry{{hdr: tar.Header{Name: "../pwned", Typeflag: tar.TypeReg, Mode: 0o644}, body: "x"}}
		}, "escapes the root"},
		{"a name climbing out past a directory", func(string) []tarEntry {
			return []tarEntry{{hdr: tar.Header{Name: "a/../../pwned", Typeflag: tar.TypeReg, Mode: 0o644}, body: "x"}}
		}, "escapes the root"},
		{"a file through an absolute symlink", func(outside string) []tarEntry {
			return []tarEntry{
				{hdr: tar.Header{Name: "link", Typeflag: tar.TypeSymlink, Linkname: outside}},
				{hdr: tar.Header{Name: "link/pwned", Typeflag: tar.TypeReg, Mode: 0o644}, body: "x"},
			}
		}, "escapes"},
		{"a file through a relative symlink climbing out", func(string) []tarEntry {
			return []tarEntry{
				{hdr: tar.Header{Name: "up", Typeflag: tar.TypeSymlink, Linkname: "../outside"}},
				{hdr: tar.Header{Name: "up/pwned", Typeflag: tar.TypeReg, Mode: 0o644}, body: "x"},
			}
		}, "escapes"},
		{"a directory through a symlink", func(outside string) []tarEntry {
			return []tarEntry{
				{hdr: tar.Header{Name: "link", Typeflag: tar.TypeSymlink, Linkname: outside}},
				{hdr: tar.Header{Name: "link/pwned/", Typeflag: tar.TypeDir, Mode: 0o755}},
			}
		}, "escapes"},
		{"a hard link to a file outside", func(string) []tarEntry {
			return []tarEntry{{hdr: tar.Header{Name: "secret", Typeflag: tar.TypeLink, Linkname: "../outside/secret"}}}
		}, "escapes the root"},
		{"a hard link through a symlink", func(outside string) []tarEntry {
			return []tarEntry{
				{hdr: tar.Header{Name: "link", Typeflag: tar.TypeSymlink, Linkname: outside}},
				{hdr: tar.Header{Name: "secret", Typeflag: tar.TypeLink, Linkname: "link/secret"}},
			}
		}, "escapes"},
		{"a lower layer's symlink under a higher layer's file", func(string) []tarEntry {
			return []tarEntry{
				{hdr: tar.Header{Name: "bin/new", Typeflag: tar.TypeReg, Mode: 0o755}, body: "x"},
				{hdr: tar.Header{Name: "bin", Typeflag: tar.TypeSymlink, Linkname: "usr/bin"}},
			}
		}, "not supported"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			root, outside := filepath.Join(dir, "root"), filepath.Join(dir, "outside")
			for _, d := range []string{root, outside} {
				if err := os.Mkdir(d, 0o755); err != nil {
					t.Fatal(err)
				}
			}
			if err := os.WriteFile(filepath.Join(outside, "secret"), []byte("secret"), 0o600); err != nil {
				t.Fatal(err)
			}
			_, err := untar(context.Background(), bytes.NewReader(tarBytes(t, tt.entries(outside))), root)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("untar = %v, want an error with %q", err, tt.want)
			}
			if got := listDir(outside); !slices.Equal(got, []string{"secret"}) {
				t.Errorf("outside the root: %v", got)
			}
			if got := listDir(dir); !slices.Equal(got, []string{"outside", "root"}) {
				t.Errorf("beside the root: %v", got)
			}
			if fi, _ := os.Stat(filepath.Join(outside, "secret")); fi == nil || fi.Mode().Perm() != 0o600 {
				t.Errorf("the file outside changed: %v", fi)
			}
		})
	}
}

// TestUntarCancelled: a cancelled context stops unpacking.
func TestUntarCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	archive := tarBytes(t, []tarEntry{{hdr: tar.Header{Name: "f", Typeflag: tar.TypeReg, Mode: 0o644}, body: "x"}})
	if _, err := untar(ctx, bytes.NewReader(archive), t.TempDir()); err != context.Canceled {
		t.Errorf("untar = %v, want context.Canceled", err)
	}
}
