package container

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// TestPruneLayers: a layer an open launcher's overlay uses is kept however old the cutoff says
// it is; once the launcher is closed it is kept while its last use is after the cutoff, listed
// (not removed) by a dry run, then removed with its use mark; the next launcher unpacks it again.
func TestPruneLayers(t *testing.T) {
	base := baseImage(t)
	cf, err := base.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	work, cache := t.TempDir(), t.TempDir()
	rt, err := NewRunc(WithWorkDir(work), WithLayerCache(cache), WithSharedLayers(testLayerCache(), cf.RootFS.DiffIDs...))
	if err != nil {
		unavailableHere(t, "%v", err)
	}
	img := testImage(t, base, "")
	l := prepared(t, rt.Launcher("a", runID(), img))
	own := layerDirs(cache) // the image's own layer: the base's are in the shared cache
	if len(own) != 1 {
		t.Fatalf("the layer cache holds %v, want the image's own layer", own)
	}
	future := time.Now().Add(time.Hour) // every layer's last use is before it

	if got, err := PruneLayers(cache, future, false); err != nil || len(got) > 0 {
		t.Errorf("PruneLayers while a launcher uses the layer = %v, %v; want nothing", got, err)
	}
	if log := runIn(t, l, rt, "serve", "import os; print('SEES', os.path.exists('/app/probe.py'))"); !strings.Contains(log, "SEES True") {
		t.Errorf("the container lost its layer to a prune:\n%s", log)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if got, err := PruneLayers(cache, time.Now().Add(-time.Minute), false); err != nil || len(got) > 0 {
		t.Errorf("PruneLayers of a layer used a moment ago = %v, %v; want nothing", got, err)
	}
	dry, err := PruneLayers(cache, future, true)
	if err != nil || len(dry) != 1 || dry[0].Path != filepath.Join(cache, own[0]) || dry[0].Size < int64(len(probeScript)) ||
		time.Since(dry[0].LastUsed) > time.Minute {
		t.Fatalf("dry PruneLayers = %+v, %v; want the layer %s with its size and last use", dry, err, own[0])
	}
	if got := layerDirs(cache); !slices.Equal(got, own) {
		t.Fatalf("the dry run left %v, want %v", got, own)
	}
	got, err := PruneLayers(cache, future, false)
	if err != nil || len(got) != 1 || got[0].DiffID.Hex != own[0] {
		t.Fatalf("PruneLayers = %+v, %v; want the layer %s", got, err, own[0])
	}
	if names := listDir(cache); len(names) > 0 {
		t.Errorf("the layer cache holds %v after the prune, want nothing (no use mark either)", names)
	}

	before := rt.layers.unpacks.Load()
	l = prepared(t, rt.Launcher("a", runID(), img))
	if n := rt.layers.unpacks.Load() - before; n != 1 {
		t.Errorf("the next launcher unpacked %d layers, want the pruned one again", n)
	}
	if log := runIn(t, l, rt, "serve", "import os; print('SEES', os.path.exists('/app/probe.py'))"); !strings.Contains(log, "SEES True") {
		t.Errorf("the container after the prune lacks its layer:\n%s", log)
	}
}

// TestPruneLayersOnDisk: a layer unpacked before use marks existed is judged by its directory's
// time; its size is what removing it frees (a file hard-linked from outside the cache counts
// nothing); an interrupted unpack's directory goes after an hour, not before; a use mark whose
// layer is gone goes; a dry run removes nothing at all.
func TestPruneLayersOnDisk(t *testing.T) {
	dir, outside := t.TempDir(), t.TempDir()
	old := time.Now().Add(-30 * 24 * time.Hour)
	id := func(c byte) v1.Hash { return v1.Hash{Algorithm: "sha256", Hex: strings.Repeat(string(c), 64)} }
	write := func(p, body string) {
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	legacy, recent := filepath.Join(dir, id('a').Hex), filepath.Join(dir, id('b').Hex)
	write(filepath.Join(legacy, "own"), strings.Repeat("o", 100))
	write(filepath.Join(outside, "shared"), strings.Repeat("s", 1000))
	if err := os.Link(filepath.Join(outside, "shared"), filepath.Join(legacy, "linked")); err != nil {
		t.Fatal(err)
	}
	write(filepath.Join(recent, "f"), "recent")
	orphan := filepath.Join(dir, id('c').Hex+".used") // its layer removed by hand
	write(orphan, "")
	staleTmp, freshTmp := filepath.Join(dir, tmpPrefix+"stale"), filepath.Join(dir, tmpPrefix+"fresh")
	write(filepath.Join(staleTmp, "half"), "half")
	write(filepath.Join(freshTmp, "half"), "half")
	for _, p := range []string{legacy, staleTmp} {
		if err := os.Chtimes(p, old, old); err != nil {
			t.Fatal(err)
		}
	}
	cutoff := time.Now().Add(-7 * 24 * time.Hour)

	dry, err := PruneLayers(dir, cutoff, true)
	if err != nil || len(dry) != 1 || dry[0].DiffID != id('a') || dry[0].Size != 100 || dry[0].LastUsed.Sub(old).Abs() > time.Second {
		t.Fatalf("dry PruneLayers = %+v, %v; want the legacy layer, 100 bytes, last used a month ago", dry, err)
	}
	if !exists(legacy) || !exists(staleTmp) || !exists(orphan) {
		t.Fatal("the dry run removed something")
	}
	got, err := PruneLayers(dir, cutoff, false)
	if err != nil || len(got) != 1 || got[0].DiffID != id('a') {
		t.Fatalf("PruneLayers = %+v, %v; want the legacy layer", got, err)
	}
	if want := []string{tmpPrefix + "fresh", id('b').Hex, id('b').Hex + ".used"}; !slices.Equal(listDir(dir), want) {
		t.Errorf("the cache holds %v, want %v", listDir(dir), want)
	}
	if b, err := os.ReadFile(filepath.Join(outside, "shared")); err != nil || len(b) != 1000 {
		t.Errorf("the file linked from outside: %d bytes, %v", len(b), err)
	}
}
