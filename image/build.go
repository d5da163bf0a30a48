package image

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"strconv"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/convoy-ci/convoy/python"
)

// Labels convoy sets on every image, besides org.opencontainers.image.*.
const (
	// LabelInputHash records the image's input hash (see InputHash).
	LabelInputHash = "org.convoy.input-hash"
	// LabelHealth records the HTTP path that answers 200 when the service is healthy.
	LabelHealth = "org.convoy.health"
	// LabelHealthcheck records the health command (a JSON argv) that checks it.
	LabelHealthcheck = "org.convoy.healthcheck"
	// LabelPort records the port the service listens on.
	LabelPort = "org.convoy.port"
)

// Paths inside an image.
const (
	// SourceRoot holds the service's source; it is the working directory.
	SourceRoot = "/app/src"
	// LibsRoot holds each shared lib as LibsRoot/NAME (a lib that is a package
	// makes LibsRoot itself an import root).
	LibsRoot = "/app/libs"
	// SitePackages holds the service's dependencies (and their scripts in bin/).
	SitePackages = "/app/site-packages"
)

// DefaultUser is the user images run as when neither the Spec nor the base
// image names a non-root one (the "nonroot" uid:gid of distroless images).
const DefaultUser = "65532:65532"

// Spec is everything Build needs to assemble one service's image.
type Spec struct {
	// Service is the service's name: the image's title.
	Service string
	// Source is what the source layer holds: the service's files at SourceRoot,
	// each lib's at its path (see SourceFiles); the libs' import roots go on
	// PYTHONPATH.
	Source Source
	// Requirements are pinned requirement lines (name==version), the full
	// closure resolved for the base's Python and platform (Base.Target,
	// python.UV.Compile): they are installed for that target with --no-deps,
	// as wheels only.
	Requirements []string
	// Base is the base image (see LoadBase).
	Base *BaseImage
	// Python, when set, is the Python version ("3.11") the service was gated
	// with; Build fails if the base image has another.
	Python string
	// Cmd is the command the image runs.
	Cmd []string
	// Port is the port the service listens on (exposed; also $PORT).
	Port int
	// Health is the HTTP path that answers 200 when the service is healthy.
	Health string
	// User is the user the image runs as; empty means the base image's user
	// when it is not root, else DefaultUser.
	User string
	// Env is the runtime environment added to the base image's: never secrets,
	// which deployments pass when they start the image.
	Env map[string]string
	// Git fills the org.opencontainers.image.* labels; Git.Created is the
	// image's creation time and its source files' time.
	Git GitInfo
	// InputHash is recorded as LabelInputHash (see InputHash).
	InputHash string
	// Tools provides the uv (and the host Python it runs with) that installs
	// Requirements, only when the layer is not cached; nil means
	// python.NewTools(python.DefaultCacheDir()).
	Tools *python.Tools
	// CacheDir keeps dependency layers between builds (e.g. .convoy/cache/layers);
	// empty means no cache.
	CacheDir string
	// Log receives the installer's output; nil discards it.
	Log io.Writer
	// LayerTrees, when set, takes the file tree of each dependency layer Build installs and
	// writes anew (a layer taken from CacheDir has none).
	LayerTrees LayerTrees
}

// LayerTrees takes the file tree of a layer whose uncompressed content has diffID: write writes
// the tree into the directory it is given, as unpacking the layer would (same paths, types,
// modes, owner and bytes; a regular file may be a hard link to the installed file, with that
// file's time). A runtime that keeps image layers unpacked (container.Runc.AddLayer) keeps the
// tree, so that starting the image does not unpack a layer it has just seen written.
type LayerTrees func(diffID v1.Hash, write func(dir string) error) error

// Build assembles the image of s: the base image, a layer of the
// dependencies (when there are any) and a layer of the source. The same Spec
// gives the same digest.
func Build(ctx context.Context, s Spec) (v1.Image, error) {
	img, err := build(ctx, s)
	if err != nil {
		return nil, fmt.Errorf("building image of %q: %w", s.Service, err)
	}
	return img, nil
}

// BuildDependencies builds the dependency layer Build would build for s into s.CacheDir, or
// finds it there, so that Build takes it from there; s's source and command are not used. It
// returns the layer's size, compressed, in bytes (0 when s has no requirements).
func BuildDependencies(ctx context.Context, s Spec) (int64, error) {
	if s.Base == nil {
		return 0, errors.New("no base image")
	}
	if err := samePython(s); err != nil {
		return 0, err
	}
	if s.CacheDir == "" {
		return 0, fmt.Errorf("building the dependency layer of %q: no layer cache to keep it in", s.Service)
	}
	reqs := normalizeRequirements(s.Requirements)
	if len(reqs) == 0 {
		return 0, nil
	}
	mt, err := layerMediaType(s.Base)
	if err != nil {
		return 0, err
	}
	add, err := depsAddendum(ctx, s, reqs, mt, time.Unix(0, 0))
	if err != nil {
		return 0, fmt.Errorf("building the dependency layer of %q: %w", s.Service, err)
	}
	return add.Layer.Size()
}

// samePython refuses a base image with another Python than the one s's service was gated with.
func samePython(s Spec) error {
	if s.Python != "" && s.Python != s.Base.Python {
		return fmt.Errorf("the service uses Python %s but base image %q has Python %s", s.Python, s.Base.Ref, s.Base.Python)
	}
	return nil
}

// layerMediaType is the media type of the layers added to base: OCI's on an OCI image.
func layerMediaType(base *BaseImage) (types.MediaType, error) {
	mt, err := base.Image.MediaType()
	if err != nil {
		return "", fmt.Errorf("reading base image %q: %w", base.Ref, err)
	}
	if mt == types.OCIManifestSchema1 {
		return types.OCILayer, nil
	}
	return types.DockerLayer, nil
}

func build(ctx context.Context, s Spec) (v1.Image, error) {
	if s.Base == nil {
		return nil, errors.New("no base image")
	}
	if err := samePython(s); err != nil {
		return nil, err
	}
	if len(s.Cmd) == 0 {
		return nil, errors.New("no command")
	}
	if st, err := os.Stat(s.Source.Dir); err != nil {
		return nil, fmt.Errorf("source directory: %w", err)
	} else if !st.IsDir() {
		return nil, fmt.Errorf("source directory %q is not a directory", s.Source.Dir)
	}
	created := s.Git.Created
	if created.IsZero() {
		created = time.Unix(0, 0)
	}
	created = created.UTC().Truncate(time.Second)

	layerType, err := layerMediaType(s.Base)
	if err != nil {
		return nil, err
	}

	var adds []mutate.Addendum
	reqs := normalizeRequirements(s.Requirements)
	if len(reqs) > 0 {
		add, err := depsAddendum(ctx, s, reqs, layerType, created)
		if err != nil {
			return nil, err
		}
		adds = append(adds, add)
	}

	files, err := sourceLayerFiles(s.Source)
	if err != nil {
		return nil, err
	}
	src, err := memoryLayer(files, created, layerType)
	if err != nil {
		return nil, fmt.Errorf("writing the source layer: %w", err)
	}
	adds = append(adds, mutate.Addendum{Layer: src, MediaType: layerType, History: v1.History{
		Created:   v1.Time{Time: created},
		CreatedBy: fmt.Sprintf("convoy: source of %s -> %s", s.Service, SourceRoot),
	}})

	img, err := mutate.Append(s.Base.Image, adds...)
	if err != nil {
		return nil, err
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return nil, err
	}
	cf = cf.DeepCopy()
	cf.Created = v1.Time{Time: created}
	cf.Author = ""
	cf.Container = ""
	//lint:ignore SA1019 clearing the base's builder version keeps the digest a function of the inputs
	cf.DockerVersion = ""
	cf.Config = imageConfig(cf.Config, s)
	return mutate.ConfigFile(img, cf)
}

// imageConfig returns the base's runtime config with s applied.
func imageConfig(c v1.Config, s Spec) v1.Config {
	env := map[string]string{
		"PYTHONPATH":              strings.Join(s.Source.pythonPath(), ":"),
		"PYTHONDONTWRITEBYTECODE": "1",
		"PYTHONUNBUFFERED":        "1",
	}
	basePath := envValue(c.Env, "PATH")
	if basePath == "" {
		basePath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
	}
	env["PATH"] = SitePackages + "/bin:" + basePath
	if s.Port != 0 {
		env["PORT"] = strconv.Itoa(s.Port)
	}
	c.User = s.User
	if c.User == "" {
		c.User = DefaultUser
		if u := s.Base.User; u != "" && u != "root" && u != "0" && !strings.HasPrefix(u, "0:") && !strings.HasPrefix(u, "root:") {
			c.User = u
		}
	}
	if c.User == DefaultUser && envValue(c.Env, "HOME") == "" {
		// No passwd entry: the runtime would make HOME "/", which is not
		// writable (gunicorn, for one, writes $HOME/.gunicorn).
		env["HOME"] = "/tmp"
	}
	for k, v := range s.Env {
		env[k] = v
	}
	c.Env = mergeEnv(c.Env, env)

	c.Entrypoint = nil
	c.Cmd = append([]string{}, s.Cmd...)
	c.WorkingDir = SourceRoot
	c.ExposedPorts = nil
	if s.Port != 0 {
		c.ExposedPorts = map[string]struct{}{fmt.Sprintf("%d/tcp", s.Port): {}}
	}

	labels := map[string]string{}
	for k, v := range c.Labels {
		// The base's own title, version, source... describe the base, not this image.
		if !strings.HasPrefix(k, "org.opencontainers.image.") {
			labels[k] = v
		}
	}
	set := func(k, v string) {
		if v != "" {
			labels[k] = v
		}
	}
	set("org.opencontainers.image.title", s.Service)
	set("org.opencontainers.image.source", s.Git.Source)
	set("org.opencontainers.image.revision", s.Git.Revision)
	set("org.opencontainers.image.version", s.Git.Version)
	set("org.opencontainers.image.created", rfc3339(s.Git.Created))
	set("org.opencontainers.image.base.name", s.Base.Ref)
	set("org.opencontainers.image.base.digest", s.Base.Digest.String())
	set(LabelInputHash, s.InputHash)
	c.Healthcheck = nil
	if s.Port != 0 {
		set(LabelPort, strconv.Itoa(s.Port))
	}
	if s.Health != "" && s.Port != 0 {
		test := []string{"CMD", "python3", "-c", fmt.Sprintf(
			"import urllib.request; urllib.request.urlopen('http://127.0.0.1:%d%s', timeout=5)", s.Port, s.Health)}
		c.Healthcheck = &v1.HealthConfig{Test: test}
		b, _ := json.Marshal(test)
		set(LabelHealth, s.Health)
		set(LabelHealthcheck, string(b))
	}
	c.Labels = labels
	return c
}

func rfc3339(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339)
}

// mergeEnv sets the variables of add in env: replaced in place when present,
// appended in key order when not.
func mergeEnv(env []string, add map[string]string) []string {
	out := make([]string, 0, len(env)+len(add))
	done := map[string]bool{}
	for _, kv := range env {
		k, _, _ := strings.Cut(kv, "=")
		if v, ok := add[k]; ok {
			kv = k + "=" + v
			done[k] = true
		}
		out = append(out, kv)
	}
	keys := make([]string, 0, len(add))
	for k := range add {
		if !done[k] {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	for _, k := range keys {
		out = append(out, k+"="+add[k])
	}
	return out
}
