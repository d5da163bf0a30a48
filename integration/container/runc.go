package container

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// runcCandidates are where NewRunc looks for runc when PATH has none (Debian puts it in /usr/sbin,
// which a user's PATH often lacks).
var runcCandidates = []string{"/usr/sbin/runc", "/usr/bin/runc", "/usr/local/sbin/runc"}

// runcTimeout bounds every short runc command (kill, state, delete, spec).
const runcTimeout = 30 * time.Second

// Runc runs containers with runc, without a daemon. Create it with NewRunc.
type Runc struct {
	path      string
	stateRoot string
	rootfsDir string // <work>/runc/rootfs/<run>-<service>
	upperDir  string // <work>/runc/overlay/<run>-<service>/{upper,work}
	layers    *layerCache
	shared    *layerCache      // WithSharedLayers: nil without
	sharedIDs map[v1.Hash]bool // the layers kept in shared
	bundleDir string           // <work>/runc/bundles/<container id>
	template  []byte           // `runc spec`'s config.json
	hostname  string
}

// NewRunc checks that runc can be used here (the binary runs, convoy is root, the state and work
// directories can be created) and reads `runc spec`'s template. The error wraps ErrUnavailable
// and names what to install or change.
func NewRunc(opts ...Option) (*Runc, error) {
	o, err := makeOptions(opts)
	if err != nil {
		return nil, err
	}
	path, err := findRunc(o.runcPath)
	if err != nil {
		return nil, err
	}
	if os.Geteuid() != 0 {
		return nil, unavailable("runc needs root: convoy does not set up rootless containers (user namespaces with "+
			"subordinate IDs, delegated cgroups); run convoy as root, or set DOCKER_HOST to a Docker or rootless Podman "+
			"socket and use the docker runtime (uid %d)", os.Geteuid())
	}
	r := &Runc{
		path:      path,
		stateRoot: o.stateRoot,
		rootfsDir: filepath.Join(o.workDir, "runc", "rootfs"),
		upperDir:  filepath.Join(o.workDir, "runc", "overlay"),
		bundleDir: filepath.Join(o.workDir, "runc", "bundles"),
		layers:    &layerCache{dir: o.layerCache},
	}
	if o.sharedLayers != "" && o.sharedLayers != o.layerCache {
		r.shared, r.sharedIDs = &layerCache{dir: o.sharedLayers}, map[v1.Hash]bool{}
		for _, id := range o.sharedIDs {
			r.sharedIDs[id] = true
		}
	}
	for _, d := range []string{r.stateRoot, r.rootfsDir, r.upperDir, r.bundleDir} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return nil, unavailable("creating runc's directory: %w", err)
		}
	}
	if r.template, err = r.specTemplate(); err != nil {
		return nil, err
	}
	if r.hostname, err = os.Hostname(); err != nil {
		return nil, fmt.Errorf("reading the host name: %w", err)
	}
	return r, nil
}

// findRunc returns the runc binary: path if given, else from PATH or the usual places.
func findRunc(path string) (string, error) {
	const install = "install it (Debian: apt-get install runc; or scripts/setup.sh integration)"
	if path != "" {
		if _, err := exec.LookPath(path); err != nil {
			return "", unavailable("runc %q cannot be run (%w): %s", path, err, install)
		}
		return path, nil
	}
	if p, err := exec.LookPath("runc"); err == nil {
		return p, nil
	}
	for _, p := range runcCandidates {
		if _, err := exec.LookPath(p); err == nil {
			return p, nil
		}
	}
	return "", unavailable("runc is not in PATH nor in %s: %s", strings.Join(runcCandidates, ", "), install)
}

// specTemplate runs `runc spec` in a temporary directory and returns the config.json it writes,
// checked to parse.
func (r *Runc) specTemplate() ([]byte, error) {
	dir, err := os.MkdirTemp("", "convoy-runc-spec-")
	if err != nil {
		return nil, fmt.Errorf("creating a directory for runc spec: %w", err)
	}
	defer os.RemoveAll(dir)
	ctx, cancel := context.WithTimeout(context.Background(), runcTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, r.path, "spec", "--bundle", dir)
	if out, err := cmd.CombinedOutput(); err != nil {
		return nil, unavailable("%s spec failed (%w): %s; reinstall runc (apt-get install --reinstall runc)",
			r.path, err, bytes.TrimSpace(out))
	}
	b, err := os.ReadFile(filepath.Join(dir, "config.json"))
	if err != nil {
		return nil, fmt.Errorf("reading runc spec's template: %w", err)
	}
	var s specs.Spec
	if err := json.Unmarshal(b, &s); err != nil {
		return nil, fmt.Errorf("parsing runc spec's template: %w", err)
	}
	if s.Process == nil || s.Linux == nil {
		return nil, errors.New("runc spec's template has no process or no linux section")
	}
	return b, nil
}

// Kind returns KindRunc.
func (r *Runc) Kind() string { return KindRunc }

// StateRoot is runc's state directory (runc --root) for convoy's containers.
func (r *Runc) StateRoot() string { return r.stateRoot }

// AddLayer keeps in the layer cache the tree write writes (into the directory it is given) as
// the layer whose uncompressed content has diffID, so that preparing an image with that layer
// does not unpack it. The caller vouches that the tree is the layer's, as unpacking it would make
// it (image.LayerTrees; the DiffID is not checked against it). It does nothing when the cache has
// the layer, or when the runtime is not root (no overlays: layers are not kept unpacked then).
func (r *Runc) AddLayer(diffID v1.Hash, write func(dir string) error) error {
	if os.Geteuid() != 0 {
		return nil
	}
	return r.cacheOf(diffID).add(diffID, write)
}

// LayerCache is the directory of unpacked image layers (WithLayerCache).
func (r *Runc) LayerCache() string { return r.layers.dir }

// cacheOf is the layer cache that keeps the layer with diffID: the shared one for the layers
// WithSharedLayers names, else the layer cache.
func (r *Runc) cacheOf(diffID v1.Hash) *layerCache {
	if r.sharedIDs[diffID] {
		return r.shared
	}
	return r.layers
}

// Launcher returns the Launcher of service's commands in run runID, inside img: Prepare mounts
// an overlay of img's cached layers at <work>/runc/rootfs/<runID>-<service> (or unpacks img
// there), which Close unmounts and removes.
func (r *Runc) Launcher(service, runID string, img v1.Image) Launcher {
	name := sanitize(runID + "-" + service)
	return &runcLauncher{
		rt:      r,
		service: service,
		runID:   runID,
		img:     img,
		rootfs:  filepath.Join(r.rootfsDir, name),
		upper:   filepath.Join(r.upperDir, name),
	}
}

// run runs a short runc command against the state root and returns its standard output; its
// standard error goes into the error.
func (r *Runc) run(args ...string) ([]byte, error) {
	ctx, cancel := context.WithTimeout(context.Background(), runcTimeout)
	defer cancel()
	return output(exec.CommandContext(ctx, r.path, append([]string{"--root", r.stateRoot}, args...)...))
}

// output runs cmd and returns its standard output; when it fails, the error has its standard
// error.
func output(cmd *exec.Cmd) ([]byte, error) {
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return out, fmt.Errorf("%s %s: %w: %s", filepath.Base(cmd.Path), strings.Join(cmd.Args[1:], " "), err,
			bytes.TrimSpace(stderr.Bytes()))
	}
	return out, nil
}

// containerState is the part of `runc state` convoy reads.
type containerState struct {
	Pid    int    `json:"pid"`
	Status string `json:"status"`
}

// state returns the container's state; ok is false when runc does not know it.
func (r *Runc) state(id string) (st containerState, ok bool) {
	out, err := r.run("state", id)
	if err != nil || json.Unmarshal(out, &st) != nil {
		return containerState{}, false
	}
	return st, true
}

// stateEntry is the container's directory in the state root.
func (r *Runc) stateEntry(id string) string { return filepath.Join(r.stateRoot, id) }
