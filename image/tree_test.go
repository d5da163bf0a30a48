package image

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/convoy-ci/convoy/integration/container"
)

// TestWriteTree: a layer's tree has its implied directories (0755, the layer's time), its
// symlinks and in-memory files, and each source file hard-linked when it already is the layer's
// file (its mode, owned by root) and copied with the layer's mode and time when it is not.
func TestWriteTree(t *testing.T) {
	src := t.TempDir()
	same, other := filepath.Join(src, "same.py"), filepath.Join(src, "other.py")
	for _, p := range []string{same, other} {
		if err := os.WriteFile(p, []byte("print(1)\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Chmod(other, 0o600); err != nil {
		t.Fatal(err)
	}
	files := []layerFile{
		{name: "app/site-packages/pkg/same.py", mode: 0o644, src: same, size: 9},
		{name: "app/site-packages/pkg/other.py", mode: 0o644, src: other, size: 9}, // the layer says 0644
		{name: "app/site-packages/bin/tool", mode: 0o755, data: []byte("#!/usr/bin/python3\n")},
		{name: "app/site-packages/link", mode: 0o777, link: "pkg/same.py"},
	}
	dir := t.TempDir()
	if err := writeTree(dir, files, depsEpoch); err != nil {
		t.Fatal(err)
	}
	for _, d := range []string{"app", "app/site-packages", "app/site-packages/pkg", "app/site-packages/bin"} {
		fi, err := os.Stat(filepath.Join(dir, d))
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode() != fs.ModeDir|0o755 || !fi.ModTime().Equal(depsEpoch) {
			t.Errorf("%s: %s at %s, want drwxr-xr-x at %s", d, fi.Mode(), fi.ModTime(), depsEpoch)
		}
	}
	fi := lstat(t, filepath.Join(dir, "app/site-packages/pkg/other.py"))
	if fi.Mode() != 0o644 || !fi.ModTime().Equal(depsEpoch) || os.SameFile(fi, lstat(t, other)) {
		t.Errorf("other.py: %s at %s (a link: %v), want a copy, 0644 at %s", fi.Mode(), fi.ModTime(), os.SameFile(fi, lstat(t, other)), depsEpoch)
	}
	if fi := lstat(t, filepath.Join(dir, "app/site-packages/bin/tool")); fi.Mode() != 0o755 || fi.Size() != 19 {
		t.Errorf("bin/tool: %s, %d bytes", fi.Mode(), fi.Size())
	}
	if target, err := os.Readlink(filepath.Join(dir, "app/site-packages/link")); err != nil || target != "pkg/same.py" {
		t.Errorf("link: %q, %v", target, err)
	}
	linked := os.SameFile(lstat(t, filepath.Join(dir, "app/site-packages/pkg/same.py")), lstat(t, same))
	if want := os.Geteuid() == 0; linked != want { // only root's files are owned by root
		t.Errorf("same.py hard-linked: %v, want %v", linked, want)
	}
}

func lstat(t *testing.T, p string) fs.FileInfo {
	t.Helper()
	fi, err := os.Lstat(p)
	if err != nil {
		t.Fatal(err)
	}
	return fi
}

// TestLayerTreeIsTheUnpackedLayer builds a dependency layer (with a console script, fixed by
// convoy, and bytecode) whose tree goes to a runc runtime's layer cache: preparing the image
// there unpacks only the other layers, and the tree is what unpacking the layer makes in another
// runtime's cache, entry by entry (type, mode, owner, size, content, link target; directories'
// times).
func TestLayerTreeIsTheUnpackedLayer(t *testing.T) {
	needPyPI(t)
	if os.Geteuid() != 0 {
		t.Skip("SKIP: runc keeps layers unpacked for overlay mounts, which need root")
	}
	ctx := context.Background()
	given := runcWithCache(t)
	spec := helloSpec(t, monorepo(t), testBase(t, pythonImage(t)))
	spec.Requirements = []string{"six==1.16.0", "sqlparse==0.5.0"}
	spec.CacheDir, spec.Tools, spec.LayerTrees = filepath.Join(t.TempDir(), "layers"), testTools(t), given.AddLayer
	img, err := Build(ctx, spec)
	if err != nil {
		t.Fatal(err)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	deps := cf.RootFS.DiffIDs[1]
	if d := prepared(t, given, img); !strings.Contains(d, "overlay of 3 layers, 2 unpacked now") {
		t.Errorf("with the tree given: %s, want the deps layer not unpacked", d)
	}
	unpacked := runcWithCache(t)
	if d := prepared(t, unpacked, img); !strings.Contains(d, "overlay of 3 layers, 3 unpacked now") {
		t.Errorf("without: %s", d)
	}
	want := treeEntries(t, filepath.Join(unpacked.LayerCache(), deps.Hex))
	got := treeEntries(t, filepath.Join(given.LayerCache(), deps.Hex))
	if len(want) < 20 {
		t.Fatalf("the unpacked layer has %d entries", len(want))
	}
	for p, w := range want {
		if got[p] != w {
			t.Errorf("%s: %q, unpacked %q", p, got[p], w)
		}
	}
	for p := range got {
		if _, ok := want[p]; !ok {
			t.Errorf("%s: not in the layer", p)
		}
	}
	if _, ok := want["app/site-packages/bin/sqlformat"]; !ok {
		t.Error("the layer has no console script")
	}
}

// runcWithCache is a runc runtime with a layer cache of its own.
func runcWithCache(t *testing.T) *container.Runc {
	t.Helper()
	rt, err := container.NewRunc(container.WithWorkDir(t.TempDir()), container.WithLayerCache(t.TempDir()))
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("runc: %v (CI=true: required)", err)
		}
		t.Skipf("SKIP: runc: %v", err)
	}
	return rt
}

// prepared prepares img's root filesystem in rt and says how it was made.
func prepared(t *testing.T, rt *container.Runc, img v1.Image) string {
	t.Helper()
	l := rt.Launcher("hello", fmt.Sprint(time.Now().UnixNano()), img)
	if err := l.Prepare(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := l.Close(); err != nil {
			t.Error(err)
		}
	})
	return l.Describe()
}

// treeEntries describes every entry under root: type and mode, owner, then the size and content
// hash of a file, the target of a link, the time of a directory.
func treeEntries(t *testing.T, root string) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || p == root {
			return err
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		st := fi.Sys().(*syscall.Stat_t)
		e := fmt.Sprintf("%s %d:%d", fi.Mode(), st.Uid, st.Gid)
		switch {
		case fi.IsDir():
			e += " " + fi.ModTime().UTC().String()
		case fi.Mode()&fs.ModeSymlink != 0:
			target, err := os.Readlink(p)
			if err != nil {
				return err
			}
			e += " -> " + target
		default:
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			sum := sha256.Sum256(b)
			e += fmt.Sprintf(" %d %s", len(b), hex.EncodeToString(sum[:8]))
		}
		rel, _ := filepath.Rel(root, p)
		out[filepath.ToSlash(rel)] = e
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}
