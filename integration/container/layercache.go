package container

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/klauspost/compress/gzip"
	"golang.org/x/sync/singleflight"

	"github.com/convoy-ci/convoy/internal/filelock"
	"github.com/convoy-ci/convoy/internal/size"
)

// DefaultLayerCache is where runc keeps unpacked image layers when WithLayerCache is not given:
// <user cache dir>/convoy/rootfs (root's: /root/.cache/convoy/rootfs), else
// <temp dir>/convoy-cache/rootfs.
func DefaultLayerCache() string {
	if d, err := os.UserCacheDir(); err == nil {
		return filepath.Join(d, "convoy", "rootfs")
	}
	return filepath.Join(os.TempDir(), "convoy-cache", "rootfs")
}

// tmpPrefix starts the name of a layer being unpacked in the cache directory.
const tmpPrefix = ".tmp-"

// layerCache holds image layers unpacked once each, by DiffID, in dir/<hex of the sha256 DiffID>,
// for overlayfs lower directories. A layer is unpacked into dir/.tmp-* and renamed into place,
// so a directory under its DiffID is complete; it is never written again.
type layerCache struct {
	dir     string
	sf      singleflight.Group // one unpack of a layer at a time in this process
	unpacks atomic.Int64       // layers unpacked (tests)
}

// path is the directory of the layer with diffID.
func (c *layerCache) path(diffID v1.Hash) (string, error) {
	if diffID.Algorithm != "sha256" || len(diffID.Hex) != sha256.Size*2 {
		return "", fmt.Errorf("layer DiffID %s: not a sha256 digest", diffID)
	}
	return filepath.Join(c.dir, diffID.Hex), nil
}

// ensure returns the directory of layer (whose DiffID the image's config says is diffID)
// unpacked, unpacking it first when the cache lacks it, and what that unpacking cost (zero when
// it was cached). The DiffID is taken from the config because a layer may compute its own by
// decompressing itself (go-containerregistry's layout layers do: 2 s for the base image); the
// unpacking checks it.
func (c *layerCache) ensure(ctx context.Context, layer v1.Layer, diffID v1.Hash) (string, UnpackStats, error) {
	final, err := c.path(diffID)
	if err != nil {
		return "", UnpackStats{}, err
	}
	if isDir(final) {
		return final, UnpackStats{}, nil
	}
	var stats UnpackStats // set by the call that unpacks; zero in those waiting for it
	_, err, _ = c.sf.Do(diffID.Hex, func() (any, error) {
		if isDir(final) { // unpacked by the call this one waited behind
			return nil, nil
		}
		var uerr error
		stats, uerr = c.unpack(ctx, layer, diffID, final)
		return nil, uerr
	})
	if err != nil {
		return "", UnpackStats{}, fmt.Errorf("unpacking layer %s: %w", diffID, err)
	}
	return final, stats, nil
}

// unpack writes layer into a temporary directory beside final, checks that its content has the
// DiffID, and renames it to final (see place).
func (c *layerCache) unpack(ctx context.Context, layer v1.Layer, diffID v1.Hash, final string) (UnpackStats, error) {
	var stats UnpackStats
	err := c.place(diffID, final, func(tmp string) error {
		rc, err := uncompressed(layer)
		if err != nil {
			return err
		}
		defer rc.Close()
		h := sha256.New()
		if stats, err = untarLayer(ctx, io.TeeReader(rc, h), tmp); err != nil {
			return err
		}
		if _, err := io.Copy(h, rc); err != nil { // the tar's end padding, which tar.Reader leaves
			return err
		}
		if got := hex.EncodeToString(h.Sum(nil)); got != diffID.Hex {
			return fmt.Errorf("the layer's content has DiffID sha256:%s", got)
		}
		return nil
	})
	if err == nil {
		c.unpacks.Add(1)
	}
	return stats, err
}

// add keeps the tree write writes as the layer with diffID, unless the cache has it (see place).
func (c *layerCache) add(diffID v1.Hash, write func(dir string) error) error {
	final, err := c.path(diffID)
	if err != nil {
		return err
	}
	_, err, _ = c.sf.Do(diffID.Hex, func() (any, error) {
		if isDir(final) {
			return nil, nil
		}
		return nil, c.place(diffID, final, write)
	})
	if err != nil {
		return fmt.Errorf("keeping layer %s unpacked: %w", diffID, err)
	}
	return nil
}

// place has fill write the layer with diffID into a new temporary directory of the cache (0755,
// removed whatever happens) and renames it to final, so that a layer's directory is complete or
// absent. Another process may have renamed its own copy first: then final is that one.
func (c *layerCache) place(diffID v1.Hash, final string, fill func(tmp string) error) error {
	if err := os.MkdirAll(c.dir, 0o700); err != nil {
		return err
	}
	tmp, err := os.MkdirTemp(c.dir, tmpPrefix+diffID.Hex[:12]+"-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp) // gone after the rename
	if err := os.Chmod(tmp, 0o755); err != nil {
		return err
	}
	if err := fill(tmp); err != nil {
		return err
	}
	if err := os.Rename(tmp, final); err != nil && !isDir(final) {
		return err
	}
	return c.touch(diffID)
}

// uncompressed opens layer's tar stream. A gzip layer is decompressed here with
// klauspost/compress: 0.98 s for the 134 MB base layer where the standard library's reader
// (go-containerregistry's Uncompressed) took 1.34 s. Others are the layer's own business.
func uncompressed(layer v1.Layer) (io.ReadCloser, error) {
	mt, err := layer.MediaType()
	if err != nil || (mt != types.OCILayer && mt != types.DockerLayer) {
		return layer.Uncompressed()
	}
	rc, err := layer.Compressed()
	if err != nil {
		return nil, err
	}
	zr, err := gzip.NewReader(rc)
	if err != nil { // not gzip after all (some tools label plain tars so): the layer knows
		rc.Close()
		return layer.Uncompressed()
	}
	return gzipLayer{zr, rc}, nil
}

// gzipLayer is a layer's decompressed stream; closing it closes the compressed one.
type gzipLayer struct {
	*gzip.Reader
	compressed io.Closer
}

func (g gzipLayer) Close() error { return errors.Join(g.Reader.Close(), g.compressed.Close()) }

// isDir reports whether p is a directory (not a symlink to one).
func isDir(p string) bool {
	fi, err := os.Lstat(p)
	return err == nil && fi.IsDir()
}

// PrunedLayer is an unpacked layer PruneLayers removed, or would remove.
type PrunedLayer struct {
	// Path is the layer's directory.
	Path string
	// DiffID is the layer's.
	DiffID v1.Hash
	// Size is what removing it frees, in bytes (size.Freed: a file hard-linked from elsewhere,
	// such as a dependency layer's from uv's cache, frees nothing).
	Size int64
	// LastUsed is when a container last used it, or it was unpacked.
	LastUsed time.Time
}

// PruneLayers removes from the layer cache dir (see WithLayerCache and WithSharedLayers) every
// unpacked layer no container used since cutoff and none uses now (a launcher holds a shared
// lock on a layer's use mark while its overlay is mounted), and what interrupted unpacks left
// there more than an hour ago. With dry it removes nothing. It returns the layers it removed, or
// would remove.
func PruneLayers(dir string, cutoff time.Time, dry bool) ([]PrunedLayer, error) {
	entries, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("listing layer cache %s: %w", dir, err)
	}
	c := &layerCache{dir: dir}
	var out []PrunedLayer
	var errs []error
	for _, e := range entries {
		p := filepath.Join(dir, e.Name())
		if strings.HasPrefix(e.Name(), tmpPrefix) {
			if fi, err := e.Info(); err == nil && time.Since(fi.ModTime()) > time.Hour && !dry {
				errs = append(errs, os.RemoveAll(p))
			}
			continue
		}
		if hex, ok := strings.CutSuffix(e.Name(), markSuffix); ok && !dry {
			errs = append(errs, c.dropMark(v1.Hash{Algorithm: "sha256", Hex: hex}))
			continue
		}
		h, err := v1.NewHash("sha256:" + e.Name())
		if err != nil || !e.IsDir() {
			continue
		}
		l, ok, err := c.prune(h, cutoff, dry)
		if err != nil {
			errs = append(errs, err)
		} else if ok {
			out = append(out, l)
		}
	}
	return out, errors.Join(errs...)
}

// prune removes the layer with diffID (unless dry) when no container used it since cutoff and
// none uses it now, and reports whether it did.
func (c *layerCache) prune(diffID v1.Hash, cutoff time.Time, dry bool) (PrunedLayer, bool, error) {
	dir, _ := c.path(diffID)
	l := PrunedLayer{Path: dir, DiffID: diffID}
	var err error
	if l.LastUsed, err = c.lastUse(diffID); err != nil || l.LastUsed.After(cutoff) {
		return l, false, err
	}
	unlock, free, err := filelock.TryLock(c.mark(diffID))
	if err != nil || !free {
		return l, false, err
	}
	defer unlock()
	if l.LastUsed, err = c.lastUse(diffID); err != nil || l.LastUsed.After(cutoff) { // used meanwhile
		return l, false, err
	}
	if l.Size, err = size.Freed(dir); err != nil {
		return l, false, err
	}
	if dry {
		return l, true, nil
	}
	if err := os.RemoveAll(dir); err != nil {
		return l, false, fmt.Errorf("removing unpacked layer %s: %w", diffID, err)
	}
	return l, true, os.Remove(c.mark(diffID)) // a launcher waiting on it locks a new one
}

// dropMark removes the use mark of the layer with diffID when the layer is not in the cache
// (removed by hand) and no launcher holds the mark (one that is unpacking the layer does).
func (c *layerCache) dropMark(diffID v1.Hash) error {
	dir, err := c.path(diffID)
	if err != nil || isDir(dir) {
		return nil // not a layer's mark, or its layer is there
	}
	unlock, free, err := filelock.TryLock(c.mark(diffID))
	if err != nil || !free {
		return err
	}
	defer unlock()
	if isDir(dir) {
		return nil
	}
	return os.Remove(c.mark(diffID))
}

// markSuffix ends the name of a layer's use mark: <DiffID hex>.used.
const markSuffix = ".used"

// mark is the use mark of the layer with diffID: the file beside its directory whose time is
// the layer's last use, on which every launcher using the layer holds a shared lock.
func (c *layerCache) mark(diffID v1.Hash) string { return filepath.Join(c.dir, diffID.Hex+markSuffix) }

// use marks the layer with diffID used now, and in use until release is called: PruneLayers
// leaves it alone meanwhile. A prune removing it first is waited for (the layer is then
// unpacked again).
func (c *layerCache) use(ctx context.Context, diffID v1.Hash) (release func(), err error) {
	if _, err := c.path(diffID); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(c.dir, 0o700); err != nil {
		return nil, err
	}
	if release, err = filelock.Shared(ctx, c.mark(diffID)); err != nil {
		return nil, fmt.Errorf("marking layer %s in use: %w", diffID, err)
	}
	if err := c.touch(diffID); err != nil {
		release()
		return nil, err
	}
	return release, nil
}

// touch sets the use mark of the layer with diffID (created when missing) to now.
func (c *layerCache) touch(diffID v1.Hash) error { return c.setMark(diffID, time.Now()) }

// setMark sets the use mark of the layer with diffID (created when missing) to t.
func (c *layerCache) setMark(diffID v1.Hash, t time.Time) error {
	f, err := os.OpenFile(c.mark(diffID), os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return fmt.Errorf("marking layer %s used: %w", diffID, err)
	}
	f.Close()
	if err := os.Chtimes(c.mark(diffID), t, t); err != nil {
		return fmt.Errorf("marking layer %s used: %w", diffID, err)
	}
	return nil
}

// lastUse is the time of the use mark of the layer with diffID; a layer without one (unpacked
// before convoy kept them) gets one with its directory's time.
func (c *layerCache) lastUse(diffID v1.Hash) (time.Time, error) {
	if fi, err := os.Stat(c.mark(diffID)); err == nil {
		return fi.ModTime(), nil
	}
	dir, _ := c.path(diffID)
	fi, err := os.Stat(dir)
	if err != nil {
		return time.Time{}, err
	}
	return fi.ModTime(), c.setMark(diffID, fi.ModTime())
}
