package container

import (
	"archive/tar"
	"bufio"
	"context"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
)

// newRuncCache returns a runc runtime with a work directory and a layer cache of its own.
func newRuncCache(t *testing.T) (rt *Runc, work, cache string) {
	t.Helper()
	work, cache = t.TempDir(), t.TempDir()
	rt, err := NewRunc(WithWorkDir(work), WithLayerCache(cache))
	if err != nil {
		unavailableHere(t, "%v", err)
	}
	return rt, work, cache
}

// withLayer is img with one more layer of entries.
func withLayer(t *testing.T, img v1.Image, entries []tarEntry) v1.Image {
	t.Helper()
	out, err := mutate.Append(img, mutate.Addendum{Layer: tarLayer(t, entries)})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// runIn runs `python3 -c script` in l to its end and returns its log.
func runIn(t *testing.T, l Launcher, rt *Runc, name, script string) string {
	t.Helper()
	h := runcHooks(rt)
	p, log := start(t, l, h, name, nil, "python3", "-c", script)
	waitDone(t, p)
	if p.ExitCode() != 0 {
		t.Errorf("%s exited %d:\n%s", name, p.ExitCode(), log)
	}
	stop(t, p, h, syscall.SIGTERM, time.Second)
	return log.String()
}

// mountsUnder returns the mount points under dir in /proc/self/mountinfo.
func mountsUnder(t *testing.T, dir string) []string {
	t.Helper()
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if fields := strings.Fields(sc.Text()); len(fields) > 4 && strings.HasPrefix(fields[4], dir+"/") {
			out = append(out, fields[4])
		}
	}
	return out
}

// mountOptions returns the super options of the mount at dir (/proc/self/mountinfo).
func mountOptions(t *testing.T, dir string) string {
	t.Helper()
	b, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		mount, super, ok := strings.Cut(line, " - ")
		if fields := strings.Fields(mount); ok && len(fields) > 4 && fields[4] == dir {
			if f := strings.Fields(super); len(f) == 3 {
				return f[2]
			}
		}
	}
	t.Fatalf("%s is not a mount point", dir)
	return ""
}

// filesUnder returns what is not a directory under dir.
func filesUnder(t *testing.T, dir string) []string {
	t.Helper()
	var out []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() {
			out = append(out, p)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

const (
	writeScript = `open("/app/mine", "w").write("written by " + __import__("os").environ.get("WHO", "?"))
print("WROTE", flush=True)`
	readScript = `import os
print("SEES", os.path.exists("/app/mine"), os.path.exists("/app/only-b"), flush=True)`
)

// TestRuncOverlay: two services of images sharing the base layer unpack it once into the layer
// cache; each has a root filesystem of its own, which its later commands share; Close leaves no
// mount and no file in the work directory, and the cache for the next run.
func TestRuncOverlay(t *testing.T) {
	rt, work, cache := newRuncCache(t)
	base := baseImage(t)
	imgA := testImage(t, base, "")
	imgB := withLayer(t, testImage(t, base, ""), []tarEntry{
		{hdr: tar.Header{Name: "app/only-b", Typeflag: tar.TypeReg, Mode: 0o644}, body: "b"},
	})
	run := runID()
	la, lb := rt.Launcher("a", run, imgA), rt.Launcher("b", run, imgB)
	var wg sync.WaitGroup
	for _, l := range []Launcher{la, lb} { // at once, as integration.Run does
		wg.Go(func() { prepared(t, l) })
	}
	wg.Wait()
	if t.Failed() {
		t.FailNow()
	}
	for _, l := range []Launcher{la, lb} {
		if d := l.Describe(); !strings.Contains(d, "(overlay of ") {
			t.Errorf("Describe() = %q, want an overlay", d)
		}
		t.Logf("%s: %s", l.Describe(), l.(*runcLauncher).Stats())
	}
	// base, the test layer (the same in both images), and b's own.
	if got := rt.layers.unpacks.Load(); got != 3 {
		t.Errorf("%d layers unpacked, want 3", got)
	}
	if got := layerDirs(cache); len(got) != 3 {
		t.Errorf("the layer cache holds %v, want 3 layers", got)
	}
	if got := mountsUnder(t, work); len(got) != 2 {
		t.Errorf("mounts under the work directory: %v, want 2", got)
	}
	for _, l := range []Launcher{la, lb} {
		// Linux 6.8 and later say fsync=volatile.
		opts := "," + mountOptions(t, l.(*runcLauncher).rootfs) + ","
		if !strings.Contains(opts, ",volatile,") && !strings.Contains(opts, ",fsync=volatile,") && !volatileRefused.Load() {
			t.Errorf("%s is mounted with %q: not volatile (unmounting it syncs the disk)", l.(*runcLauncher).rootfs, opts)
		}
	}

	if log := runIn(t, la, rt, "migrate", writeScript); !strings.Contains(log, "WROTE") {
		t.Fatalf("migrate of a:\n%s", log)
	}
	if log := runIn(t, la, rt, "serve", readScript); !strings.Contains(log, "SEES True False") {
		t.Errorf("a's later command does not see what a's migrate wrote (or sees b's layer):\n%s", log)
	}
	if log := runIn(t, lb, rt, "serve", readScript); !strings.Contains(log, "SEES False True") {
		t.Errorf("b sees what a wrote (or not its own layer):\n%s", log)
	}
	if got := mountsUnder(t, cache); len(got) > 0 {
		t.Errorf("mounts under the layer cache: %v", got)
	}
	cacheFiles := len(filesUnder(t, cache))

	for _, l := range []Launcher{la, lb} {
		if err := l.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	}
	if got := mountsUnder(t, work); len(got) > 0 {
		t.Errorf("mounts under the work directory after Close: %v", got)
	}
	if got := filesUnder(t, work); len(got) > 0 {
		t.Errorf("files under the work directory after Close: %v", got)
	}
	for _, dir := range []string{rt.rootfsDir, rt.upperDir, rt.bundleDir, rt.stateRoot} {
		if names := listDir(dir); len(names) > 0 {
			t.Errorf("%s has %v after Close", dir, names)
		}
	}
	if got := len(filesUnder(t, cache)); got != cacheFiles || got < 5000 {
		t.Errorf("the layer cache holds %d files after Close, %d before", got, cacheFiles)
	}

	// The next run unpacks nothing, and starts from the image again.
	l := prepared(t, rt.Launcher("a", runID(), imgA))
	if got := rt.layers.unpacks.Load(); got != 3 {
		t.Errorf("%d layers unpacked after the second run's Prepare, want still 3", got)
	}
	if log := runIn(t, l, rt, "serve", readScript); !strings.Contains(log, "SEES False False") {
		t.Errorf("the next run sees what the last one wrote:\n%s", log)
	}
}

// TestSharedLayers: the base image's layers, named by WithSharedLayers, are unpacked into the
// shared directory, once for every runtime (every repository's cache) that shares it; the
// image's own layers go to each runtime's layer cache.
func TestSharedLayers(t *testing.T) {
	base := baseImage(t)
	cf, err := base.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	img := testImage(t, base, "")
	shared := t.TempDir()
	newRuntime := func() (*Runc, string) {
		work, cache := t.TempDir(), t.TempDir()
		rt, err := NewRunc(WithWorkDir(work), WithLayerCache(cache), WithSharedLayers(shared, cf.RootFS.DiffIDs...))
		if err != nil {
			unavailableHere(t, "%v", err)
		}
		return rt, cache
	}
	baseDirs := make([]string, len(cf.RootFS.DiffIDs))
	for i, id := range cf.RootFS.DiffIDs {
		baseDirs[i] = id.Hex
	}
	for i := range 2 {
		rt, cache := newRuntime()
		l := prepared(t, rt.Launcher("a", runID(), img))
		if got := layerDirs(shared); !slices.Equal(got, baseDirs) {
			t.Errorf("runtime %d: the shared directory holds %v, want the base's layers %v", i, got, baseDirs)
		}
		if got := layerDirs(cache); len(got) != 1 || slices.Contains(baseDirs, got[0]) {
			t.Errorf("runtime %d: its layer cache holds %v, want the image's own layer alone", i, got)
		}
		wantShared := int64(len(baseDirs))
		if i > 0 {
			wantShared = 0 // the first runtime unpacked them
		}
		if got := rt.shared.unpacks.Load(); got != wantShared {
			t.Errorf("runtime %d unpacked %d shared layers, want %d", i, got, wantShared)
		}
		if got := rt.layers.unpacks.Load(); got != 1 {
			t.Errorf("runtime %d unpacked %d layers of its own, want 1", i, got)
		}
		if log := runIn(t, l, rt, "serve", "import os; print('SEES', os.path.exists('/app/probe.py'), os.path.exists('/usr/bin/python3'))"); !strings.Contains(log, "SEES True True") {
			t.Errorf("runtime %d: the container lacks its image's files:\n%s", i, log)
		}
	}
}

// TestRuncOverlayWhiteout: a file deleted by a higher layer (.wh.NAME) and a directory a higher
// layer made opaque (.wh..wh..opq) are hidden in the container, as an overlay (the whiteouts
// converted) and flattened (the fallback, forced).
func TestRuncOverlayWhiteout(t *testing.T) {
	lower := withLayer(t, baseImage(t), []tarEntry{
		{hdr: tar.Header{Name: "app/", Typeflag: tar.TypeDir, Mode: 0o755}},
		{hdr: tar.Header{Name: "app/somefile", Typeflag: tar.TypeReg, Mode: 0o644}, body: "deleted above"},
		{hdr: tar.Header{Name: "app/kept", Typeflag: tar.TypeReg, Mode: 0o644}, body: "kept"},
		{hdr: tar.Header{Name: "app/dir/", Typeflag: tar.TypeDir, Mode: 0o755}},
		{hdr: tar.Header{Name: "app/dir/old", Typeflag: tar.TypeReg, Mode: 0o644}, body: "hidden by the opaque dir"},
	})
	img := withLayer(t, lower, []tarEntry{
		{hdr: tar.Header{Name: "app/", Typeflag: tar.TypeDir, Mode: 0o755}},
		{hdr: tar.Header{Name: "app/.wh.somefile", Typeflag: tar.TypeReg, Mode: 0o644}},
		{hdr: tar.Header{Name: "app/dir/", Typeflag: tar.TypeDir, Mode: 0o755}},
		{hdr: tar.Header{Name: "app/dir/.wh..wh..opq", Typeflag: tar.TypeReg, Mode: 0o644}},
		{hdr: tar.Header{Name: "app/dir/new", Typeflag: tar.TypeReg, Mode: 0o644}, body: "new"},
	})
	const script = `import os
print("LS", sorted(os.listdir("/app")), sorted(os.listdir("/app/dir")), flush=True)`
	const want = `LS ['dir', 'kept'] ['new']`
	for _, tt := range []struct {
		name, how string
		maxData   int
	}{
		{"overlay", "(overlay of 3 layers", maxMountData},
		{"flattened", "(flattened: ", 10},
	} {
		t.Run(tt.name, func(t *testing.T) {
			defer func(m int) { maxMountData = m }(maxMountData)
			maxMountData = tt.maxData
			rt, work, _ := newRuncCache(t)
			l := prepared(t, rt.Launcher("wh", runID(), img))
			if d := l.Describe(); !strings.Contains(d, tt.how) {
				t.Errorf("Describe() = %q, want %q", d, tt.how)
			}
			t.Logf("%s: %s", l.Describe(), l.(*runcLauncher).Stats())
			if log := runIn(t, l, rt, "ls", script); !strings.Contains(log, want) {
				t.Errorf("the container sees:\n%s\nwant %s", log, want)
			}
			if err := l.Close(); err != nil {
				t.Fatal(err)
			}
			if got := filesUnder(t, work); len(got) > 0 || len(mountsUnder(t, work)) > 0 {
				t.Errorf("after Close: files %v, mounts %v", got, mountsUnder(t, work))
			}
		})
	}
}

// TestLayerCacheRace: two caches over one directory (two convoy processes) unpacking the same
// layer at once both end with it complete; one copy stays, no temporary directory.
func TestLayerCacheRace(t *testing.T) {
	if os.Geteuid() != 0 {
		unavailableHere(t, "whiteouts need root")
	}
	dir := t.TempDir()
	layer := tarLayer(t, []tarEntry{
		{hdr: tar.Header{Name: "d/", Typeflag: tar.TypeDir, Mode: 0o750}},
		{hdr: tar.Header{Name: "d/f", Typeflag: tar.TypeReg, Mode: 0o640, Uid: 12, Gid: 34}, body: "content"},
		{hdr: tar.Header{Name: "d/.wh.gone", Typeflag: tar.TypeReg}},
	})
	diffID, err := layer.DiffID()
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	paths := make([]string, 4)
	for i := range paths {
		c := &layerCache{dir: dir} // a cache of its own: no singleflight between them
		wg.Go(func() {
			var err error
			if paths[i], _, err = c.ensure(context.Background(), layer, diffID); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if got := layerDirs(dir); !slices.Equal(got, []string{diffID.Hex}) {
		t.Errorf("cache holds %v, want only %s", got, diffID.Hex)
	}
	for _, p := range paths {
		if b, err := os.ReadFile(filepath.Join(p, "d", "f")); string(b) != "content" {
			t.Errorf("%s: %q, %v", p, b, err)
		}
	}
	fi, err := os.Lstat(filepath.Join(dir, diffID.Hex, "d", "gone"))
	if err != nil || fi.Mode()&fs.ModeCharDevice == 0 || fi.Sys().(*syscall.Stat_t).Rdev != 0 {
		t.Errorf("d/gone is not a 0/0 character device: %v, %v", fi, err)
	}
	fi, _ = os.Lstat(filepath.Join(dir, diffID.Hex, "d", "f"))
	if st := fi.Sys().(*syscall.Stat_t); fi.Mode().Perm() != 0o640 || st.Uid != 12 || st.Gid != 34 {
		t.Errorf("d/f: %v %d:%d", fi.Mode(), st.Uid, st.Gid)
	}

	// A layer whose content is not its DiffID is refused, and leaves nothing.
	wrong := v1.Hash{Algorithm: "sha256", Hex: strings.Repeat("0", 64)}
	if _, _, err := (&layerCache{dir: dir}).ensure(context.Background(), layer, wrong); err == nil ||
		!strings.Contains(err.Error(), "has DiffID") {
		t.Errorf("ensure with a wrong DiffID = %v", err)
	}
	if got := layerDirs(dir); !slices.Equal(got, []string{diffID.Hex}) {
		t.Errorf("cache holds %v after a refused layer", got)
	}
}
