package container

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"golang.org/x/sync/errgroup"

	"github.com/convoy-ci/convoy/integration"
	"github.com/convoy-ci/convoy/internal/procgroup"
)

// runcLauncher runs one service's commands of one run in containers sharing one root filesystem.
type runcLauncher struct {
	rt             *Runc
	service, runID string
	img            v1.Image
	rootfs         string // the root filesystem (an overlay's mount point, or a directory)
	upper          string // the overlay's upper and work directories
	ids            ids
	how            atomic.Value // string: how Prepare made the root filesystem

	mu       sync.Mutex
	prepared bool
	closed   bool
	config   v1.Config
	user     imageUser
	stats    UnpackStats
	inUse    []func() // release the layers the overlay uses (layerCache.use)
}

// Describe returns "runc: <service>@sha256:<short digest>", followed once prepared by how the
// root filesystem was made: "(overlay of N layers)" or "(flattened: <why not an overlay>)".
func (l *runcLauncher) Describe() string {
	d, _ := l.img.Digest()
	s := describe(KindRunc, l.service, d)
	if how, _ := l.how.Load().(string); how != "" {
		s += " (" + how + ")"
	}
	return s
}

// Prepare makes the launcher's root filesystem and resolves the image's user in it. It does the
// work once; a failed Prepare may be called again.
//
// The root filesystem is an overlay of the image's layers, each unpacked once into the layer
// cache, under an upper directory of the launcher's own. When an overlay cannot be had (not
// root, the cache or the work directory on a file system overlayfs refuses, a layer that cannot
// be unpacked for it, too many layers for one mount), Prepare unpacks the image's flattened
// filesystem instead, and Describe says why.
func (l *runcLauncher) Prepare(ctx context.Context) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return errors.New("the launcher is closed")
	}
	if l.prepared {
		return nil
	}
	if err := l.prepare(ctx); err != nil {
		_ = l.teardown()
		return fmt.Errorf("unpacking the image of %q: %w", l.service, err)
	}
	l.prepared = true
	return nil
}

func (l *runcLauncher) prepare(ctx context.Context) error {
	cf, err := l.img.ConfigFile()
	if err != nil {
		return fmt.Errorf("reading the image config: %w", err)
	}
	l.config = cf.Config
	if err := l.teardown(); err != nil { // what an earlier attempt left
		return err
	}
	if err := os.Mkdir(l.rootfs, 0o755); err != nil {
		return err
	}
	if err := l.overlay(ctx); err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		l.how.Store("flattened: " + err.Error())
		if err := l.flattened(ctx); err != nil {
			return err
		}
	}
	if l.user, err = resolveUser(l.rootfs, l.config.User); err != nil {
		return err
	}
	return nil
}

// flattened unpacks the image's flattened filesystem into a fresh l.rootfs.
func (l *runcLauncher) flattened(ctx context.Context) error {
	if err := l.teardown(); err != nil {
		return err
	}
	if err := os.Mkdir(l.rootfs, 0o755); err != nil {
		return err
	}
	rc := mutate.Extract(l.img)
	defer rc.Close()
	var err error
	l.stats, err = untar(ctx, rc, l.rootfs)
	return err
}

// overlay unpacks the image's layers the cache lacks and mounts their overlay at l.rootfs.
func (l *runcLauncher) overlay(ctx context.Context) error {
	if os.Geteuid() != 0 {
		return errors.New("overlay mounts need root")
	}
	layers, err := l.img.Layers()
	if err != nil {
		return fmt.Errorf("listing the image's layers: %w", err)
	}
	if len(layers) == 0 {
		return errors.New("the image has no layers")
	}
	cf, err := l.img.ConfigFile()
	if err != nil {
		return err
	}
	if len(cf.RootFS.DiffIDs) != len(layers) {
		return fmt.Errorf("the image has %d layers and its config %d DiffIDs", len(layers), len(cf.RootFS.DiffIDs))
	}
	dirs := make([]string, len(layers))
	stats := make([]UnpackStats, len(layers))
	for _, id := range cf.RootFS.DiffIDs {
		release, err := l.rt.cacheOf(id).use(ctx, id)
		if err != nil {
			return err
		}
		l.inUse = append(l.inUse, release)
	}
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(4)
	for i, layer := range layers {
		g.Go(func() (err error) {
			dirs[i], stats[i], err = l.rt.cacheOf(cf.RootFS.DiffIDs[i]).ensure(gctx, layer, cf.RootFS.DiffIDs[i])
			return err
		})
	}
	if err := g.Wait(); err != nil {
		return err
	}
	// Topmost first; a layer listed twice only counts where it is highest.
	var lowers []string
	seen := map[string]bool{}
	for i := len(dirs) - 1; i >= 0; i-- {
		if !seen[dirs[i]] {
			seen[dirs[i]] = true
			lowers = append(lowers, dirs[i])
		}
	}
	upper, work := filepath.Join(l.upper, "upper"), filepath.Join(l.upper, "work")
	data, err := overlayOptions(lowers, upper, work)
	if err != nil {
		return err
	}
	if err := os.Mkdir(l.upper, 0o700); err != nil {
		return err
	}
	if err := os.Mkdir(upper, 0o755); err != nil { // the container's / (overlayfs takes its mode)
		return err
	}
	if err := os.Mkdir(work, 0o700); err != nil {
		return err
	}
	if err := mountOverlay(l.rootfs, data); err != nil {
		return err
	}
	var sum UnpackStats
	unpacked := 0
	for _, st := range stats {
		if st != (UnpackStats{}) {
			unpacked++
		}
		sum = sum.add(st)
	}
	l.stats = sum
	l.how.Store(fmt.Sprintf("overlay of %d layers, %d unpacked now", len(lowers), unpacked))
	return nil
}

// teardown unmounts the root filesystem when it is mounted, releases the layers it used, and
// removes it and the overlay's upper and work directories. It leaves the mount point alone (and
// its layers in use) when it cannot unmount it: removing files through the mount would only
// remove them from the upper directory.
func (l *runcLauncher) teardown() error {
	if err := unmountOverlay(l.rootfs); err != nil {
		return err
	}
	for _, release := range l.inUse {
		release()
	}
	l.inUse = nil
	return errors.Join(os.RemoveAll(l.rootfs), os.RemoveAll(l.upper))
}

// Stats returns what Prepare unpacked and how long it took.
func (l *runcLauncher) Stats() UnpackStats {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.stats
}

// Start writes a bundle for cmd and runs it in the foreground with `runc run`, the leader of a
// process group of its own that dies with convoy, its output going to cmd.Log; a guard deletes
// the container should convoy die.
func (l *runcLauncher) Start(cmd integration.Command) (integration.Process, error) {
	if len(cmd.Argv) == 0 {
		return nil, fmt.Errorf("starting %q of %q: no command", cmd.Name, l.service)
	}
	if err := l.Prepare(context.Background()); err != nil {
		return nil, err
	}
	id := l.ids.next(l.runID, l.service, cmd.Name)
	bundle := filepath.Join(l.rt.bundleDir, id)
	if err := l.writeBundle(bundle, cmd); err != nil {
		_ = os.RemoveAll(bundle)
		return nil, fmt.Errorf("writing the bundle of %s: %w", id, err)
	}
	c := &exec.Cmd{
		Path:   l.rt.path,
		Args:   []string{"runc", "--root", l.rt.stateRoot, "run", "--bundle", bundle, id},
		Stdout: cmd.Log,
		Stderr: cmd.Log,
	}
	g, err := l.rt.startGuard(id)
	if err != nil {
		_ = os.RemoveAll(bundle)
		return nil, err
	}
	pg, err := procgroup.Start(c)
	if err != nil {
		g.release()
		_ = os.RemoveAll(bundle)
		return nil, fmt.Errorf("starting %q in %s: %w", strings.Join(cmd.Argv, " "), id, err)
	}
	return &runcProcess{rt: l.rt, id: id, bundle: bundle, guard: g, cliProcess: cliProcess{pg}}, nil
}

// writeBundle creates the bundle directory with cmd's config.json.
func (l *runcLauncher) writeBundle(bundle string, cmd integration.Command) error {
	l.mu.Lock()
	s, err := l.rt.spec(l.rootfs, l.config, l.user, cmd)
	l.mu.Unlock()
	if err != nil {
		return err
	}
	b, err := json.MarshalIndent(s, "", "\t")
	if err != nil {
		return err
	}
	if err := os.Mkdir(bundle, 0o700); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(bundle, "config.json"), b, 0o600)
}

// Close unmounts and removes the root filesystem (and the overlay's upper and work directories).
// Run calls it after every process has been stopped. The layer cache stays.
func (l *runcLauncher) Close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.closed = true
	if err := l.teardown(); err != nil {
		return fmt.Errorf("removing the root filesystem of %q: %w", l.service, err)
	}
	return nil
}
