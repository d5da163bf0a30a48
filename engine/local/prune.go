package local

import (
	"context"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/convoy-ci/convoy/internal/filelock"
	"github.com/convoy-ci/convoy/internal/size"
	"github.com/convoy-ci/convoy/pipeline/config"
	"github.com/convoy-ci/convoy/python"
	"github.com/convoy-ci/convoy/stages"
)

// DefaultKeepFor is how long Prune keeps a cache entry nothing in the manifest refers to, after
// its last use.
const DefaultKeepFor = 7 * 24 * time.Hour

// Reclaimable is one cache entry Prune removes (or, dry, would remove).
type Reclaimable struct {
	// Path is the entry's file or directory.
	Path string
	// Size is what removing it frees, in bytes (size.Freed: files hard-linked from elsewhere,
	// uv's cache or the bytecode store, free nothing).
	Size int64
	// Kind is what it is: "virtualenv", "dependency layer", "runtime requirements", "gate record"
	// or "bytecode store" (convoy cache prune adds "dagger retry record" and "unpacked layer").
	Kind string
	// LastUsed is when it was last used (written, or reused for a virtualenv).
	LastUsed time.Time
}

// Prune removes the cache entries the manifest cfg no longer refers to and that no run used
// for keepFor: virtualenvs (those of cfg's services, as their deps stages and releases install
// them, and of the integration suite are always kept), image dependency layers, resolved
// runtime requirements, gate records (those of services cfg no longer has go at once) and
// bytecode stores (one per interpreter version, whole). With
// dry set it removes nothing. It returns what it removed, or would, largest first.
func (e *Engine) Prune(ctx context.Context, cfg *config.Config, keepFor time.Duration, dry bool) ([]Reclaimable, error) {
	keep, err := e.referencedVenvs(cfg)
	if err != nil {
		return nil, err
	}
	cutoff := time.Now().Add(-keepFor)
	var out []Reclaimable
	venvs, err := e.staleVenvs(keep, cutoff)
	if err != nil {
		return nil, err
	}
	out = append(out, venvs...)
	for _, c := range []struct{ dir, kind string }{
		{filepath.Join(e.cacheDir, "layers"), "dependency layer"},
		{filepath.Join(e.stateDir, "requirements"), "runtime requirements"},
	} {
		old, err := staleEntries(c.dir, c.kind, cutoff, false)
		if err != nil {
			return nil, err
		}
		out = append(out, old...)
	}
	gates, err := staleGateRecords(filepath.Join(e.cacheDir, "gates"), cfg, cutoff)
	if err != nil {
		return nil, err
	}
	out = append(out, gates...)
	// A store in use is kept whole: what it holds for packages no longer installed costs
	// disk, never correctness.
	stores, err := staleEntries(python.BytecodeDir(e.cacheDir), bytecodeStore, cutoff, true)
	if err != nil {
		return nil, err
	}
	out = append(out, stores...)
	sort.SliceStable(out, func(i, j int) bool { return out[i].Size > out[j].Size })
	if dry {
		return out, nil
	}
	for _, r := range out {
		if err := e.remove(ctx, r); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// referencedVenvs are the virtualenv directories cfg's services and integration suite use.
func (e *Engine) referencedVenvs(cfg *config.Config) (map[string]bool, error) {
	keep := map[string]bool{}
	svcs := append([]*config.Service(nil), cfg.Services...)
	if cfg.Integration.Requirements != "" {
		suite, err := e.suiteService(cfg)
		if err != nil {
			return nil, err
		}
		svcs = append(svcs, suite)
	}
	for _, svc := range svcs {
		for _, deps := range []stages.Stage{stages.ForService(svc)[0], stages.Frozen(svc, stages.ForService(svc))[0]} {
			dir, err := e.venvFor(svc, deps)
			if err != nil {
				return nil, err
			}
			keep[dir] = true
		}
	}
	return keep, nil
}

// staleVenvs are the virtualenvs of the cache not in keep and last used before cutoff (their
// ready marker's time: deps touches it on reuse).
func (e *Engine) staleVenvs(keep map[string]bool, cutoff time.Time) ([]Reclaimable, error) {
	dir, err := filepath.Abs(filepath.Join(e.cacheDir, "venvs"))
	if err != nil {
		return nil, err
	}
	entries, err := os.ReadDir(dir)
	if os.IsNotExist(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("listing virtualenvs: %w", err)
	}
	var out []Reclaimable
	for _, ent := range entries {
		venv := filepath.Join(dir, ent.Name())
		if !ent.IsDir() || keep[venv] {
			continue
		}
		st, err := os.Stat(filepath.Join(venv, readyMarker))
		if err != nil {
			st, err = os.Stat(venv) // half-made: its own time
		}
		if err != nil || st.ModTime().After(cutoff) {
			continue
		}
		n, err := size.Freed(venv)
		if err != nil {
			return nil, err
		}
		out = append(out, Reclaimable{Path: venv, Size: n, Kind: "virtualenv", LastUsed: st.ModTime()})
	}
	return out, nil
}

// staleEntries are the entries directly in dir of kind last written before cutoff: its regular
// files (lock files, which go with what they lock, excepted) or, with dirs, its directories,
// sized by what removing them frees.
func staleEntries(dir, kind string, cutoff time.Time, dirs bool) ([]Reclaimable, error) {
	entries, err := os.ReadDir(dir)
	if os.IsNotExist(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("listing %s: %w", dir, err)
	}
	var out []Reclaimable
	for _, ent := range entries {
		info, err := ent.Info()
		if err != nil || info.ModTime().After(cutoff) {
			continue
		}
		p, n := filepath.Join(dir, ent.Name()), info.Size()
		switch {
		case dirs && info.IsDir():
			if n, err = size.Freed(p); err != nil {
				return nil, err
			}
		case dirs, !info.Mode().IsRegular(), strings.HasSuffix(ent.Name(), ".lock"):
			continue
		}
		out = append(out, Reclaimable{Path: p, Size: n, Kind: kind, LastUsed: info.ModTime()})
	}
	return out, nil
}

// staleGateRecords are the gate records (GATES/SERVICE/KEY) of services cfg does not have, and
// the others last written before cutoff.
func staleGateRecords(dir string, cfg *config.Config, cutoff time.Time) ([]Reclaimable, error) {
	var out []Reclaimable
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if os.IsNotExist(err) {
			return filepath.SkipAll
		}
		if err != nil || d.IsDir() {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		svc := filepath.Base(filepath.Dir(p))
		if cfg.Service(svc) != nil && info.ModTime().After(cutoff) {
			return nil
		}
		out = append(out, Reclaimable{Path: p, Size: info.Size(), Kind: "gate record", LastUsed: info.ModTime()})
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("listing gate records: %w", err)
	}
	return out, nil
}

// bytecodeStore is the Kind of a bytecode store's directory.
const bytecodeStore = "bytecode store"

// remove deletes r; a virtualenv or a bytecode store under its lock, so that none is removed
// while a deps stage installs it or an image build compiles into it.
func (e *Engine) remove(ctx context.Context, r Reclaimable) error {
	if r.Kind != "virtualenv" && r.Kind != bytecodeStore {
		if err := os.Remove(r.Path); err != nil && !os.IsNotExist(err) {
			return fmt.Errorf("pruning %s: %w", r.Path, err)
		}
		if strings.HasSuffix(r.Path, ".tar.gz") {
			_ = os.Remove(r.Path + ".json") // the layer's recorded digests
			_ = os.Remove(r.Path + ".lock") // what its builders wait on
		}
		return nil
	}
	unlock, err := filelock.Lock(ctx, r.Path+".lock")
	if err != nil {
		return err
	}
	defer unlock()
	if err := os.RemoveAll(r.Path); err != nil {
		return fmt.Errorf("pruning %s %s: %w", r.Kind, r.Path, err)
	}
	return nil
}
