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

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"

	"github.com/convoy-ci/convoy/integration"
	"github.com/convoy-ci/convoy/internal/procgroup"
)

// runcLauncher runs one service's commands of one run in containers sharing one root filesystem.
type runcLauncher struct {
	rt             *Runc
	service, runID string
	img            v1.Image
	rootfs         string
	ids            ids

	mu       sync.Mutex
	prepared bool
	closed   bool
	config   v1.Config
	user     imageUser
	stats    UnpackStats
}

// Describe returns "runc: <service>@sha256:<short digest>".
func (l *runcLauncher) Describe() string {
	d, _ := l.img.Digest()
	return describe(KindRunc, l.service, d)
}

// Prepare unpacks the image's flattened filesystem into the launcher's root filesystem and
// resolves the image's user in it. It does the work once; a failed Prepare may be called again.
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
		_ = os.RemoveAll(l.rootfs)
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
	if err := os.RemoveAll(l.rootfs); err != nil {
		return err
	}
	if err := os.Mkdir(l.rootfs, 0o755); err != nil {
		return err
	}
	rc := mutate.Extract(l.img)
	defer rc.Close()
	if l.stats, err = untar(ctx, rc, l.rootfs); err != nil {
		return err
	}
	if l.user, err = resolveUser(l.rootfs, l.config.User); err != nil {
		return err
	}
	return nil
}

// Stats returns what Prepare unpacked and how long it took.
func (l *runcLauncher) Stats() UnpackStats {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.stats
}

// Start writes a bundle for cmd and runs it in the foreground with `runc run`, the leader of a
// process group of its own, its output going to cmd.Log.
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
	pg, err := procgroup.Start(c)
	if err != nil {
		_ = os.RemoveAll(bundle)
		return nil, fmt.Errorf("starting %q in %s: %w", strings.Join(cmd.Argv, " "), id, err)
	}
	return &runcProcess{rt: l.rt, id: id, bundle: bundle, pg: pg}, nil
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

// Close removes the root filesystem. Run calls it after every process has been stopped.
func (l *runcLauncher) Close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.closed = true
	if err := os.RemoveAll(l.rootfs); err != nil {
		return fmt.Errorf("removing the root filesystem of %q: %w", l.service, err)
	}
	return nil
}
