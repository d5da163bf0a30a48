// Package images connects convoy's services to the image library: it computes a service's
// input hash, finds an image already built from the same inputs (in the OCI layout store or
// the push target), and assembles, stores and pushes a new one.
package images

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/convoy-ci/convoy/image"
	"github.com/convoy-ci/convoy/integration"
	"github.com/convoy-ci/convoy/pipeline/config"
	"github.com/convoy-ci/convoy/python"
	"github.com/convoy-ci/convoy/stages"
)

// Ref is a built or found image.
type Ref struct {
	// Name is repo@sha256:… — the store's or the registry's repository.
	Name string
	// Digest is the manifest digest.
	Digest string
	// Pushed is set when the image is in the push target.
	Pushed bool
}

// Options configure a Builder.
type Options struct {
	// StoreDir is the OCI image layout (default <repo>/.convoy/oci).
	StoreDir string
	// CacheDir keeps dependency layers (default <repo>/.convoy/cache/layers).
	CacheDir string
	// Push is REGISTRY/NAMESPACE images are also pushed to ("" = store only).
	Push string
	// Insecure allows plain HTTP to the push registry.
	Insecure bool
	// NoCache ignores images already built from the same inputs.
	NoCache bool
	// GatesDir records the gate inputs every service passed its gates with (default
	// <repo>/.convoy/cache/gates; see GateKey).
	GatesDir string
	// Tools provides the uv that installs images' dependencies (default: tools kept in
	// <repo>/.convoy/cache).
	Tools *python.Tools
	// LayerTrees takes the file trees of the dependency layers Build writes (image.Spec.LayerTrees).
	LayerTrees image.LayerTrees
}

// Builder builds the images of one repository. It is safe for concurrent use.
type Builder struct {
	cfg   *config.Config
	opts  Options
	store *image.Store
	git   image.GitInfo

	mu       sync.Mutex
	bases    map[string]*baseResult
	hashes   map[string]string
	gateKeys map[string]string
}

type baseResult struct {
	once sync.Once
	base *image.BaseImage
	err  error
}

// New opens the store and reads the repository's git HEAD.
func New(cfg *config.Config, opts Options) (*Builder, error) {
	if opts.StoreDir == "" {
		opts.StoreDir = filepath.Join(cfg.Root, ".convoy", "oci")
	}
	if opts.CacheDir == "" {
		opts.CacheDir = filepath.Join(cfg.Root, ".convoy", "cache", "layers")
	}
	if opts.GatesDir == "" {
		opts.GatesDir = filepath.Join(cfg.Root, ".convoy", "cache", "gates")
	}
	if opts.Tools == nil {
		opts.Tools = python.NewTools(filepath.Join(cfg.Root, ".convoy", "cache"))
	}
	store, err := image.OpenStore(opts.StoreDir)
	if err != nil {
		return nil, fmt.Errorf("opening image store: %w", err)
	}
	git, err := image.RepoInfo(cfg.Root)
	if err != nil {
		return nil, fmt.Errorf("reading git HEAD of %q: %w", cfg.Root, err)
	}
	return &Builder{cfg: cfg, opts: opts, store: store, git: git, bases: map[string]*baseResult{}, hashes: map[string]string{}, gateKeys: map[string]string{}}, nil
}

// Git is the repository's HEAD as images record it.
func (b *Builder) Git() image.GitInfo { return b.git }

func (b *Builder) remoteOpts() []image.Option {
	return []image.Option{image.WithInsecure(b.opts.Insecure), image.WithDir(b.cfg.Root)}
}

// Tools are the Python tools that install images' dependencies.
func (b *Builder) Tools() *python.Tools { return b.opts.Tools }

// Base loads (once per reference) the base image of svc.
func (b *Builder) Base(ctx context.Context, svc *config.Service) (*image.BaseImage, error) {
	if svc.Base == "" {
		return nil, fmt.Errorf("service %q has no base image: set base: in services.yaml (defaults or the service), e.g. oci-layout:/var/cache/convoy/base:python built by scripts/base-image.sh", svc.Name)
	}
	b.mu.Lock()
	r, ok := b.bases[svc.Base]
	if !ok {
		r = &baseResult{}
		b.bases[svc.Base] = r
	}
	b.mu.Unlock()
	r.once.Do(func() { r.base, r.err = image.LoadBase(ctx, svc.Base, b.remoteOpts()...) })
	if r.err != nil {
		return nil, fmt.Errorf("loading base image of %q: %w", svc.Name, r.err)
	}
	return r.base, nil
}

// InputHash is the hash of everything that makes svc's image (image.InputHash): the files of its
// source layer, its dependency spec (and lockfile) and install argv, the base's digest and the
// image config (serve argv, port, health path, Python version, image.env). The stage
// environment (env:) and the other gates' argv are no part of it: see GateKey. It is computed
// once per Builder: a run sees the tree as it was when the run started.
func (b *Builder) InputHash(ctx context.Context, svc *config.Service) (string, error) {
	b.mu.Lock()
	h, ok := b.hashes[svc.Name]
	b.mu.Unlock()
	if ok {
		return h, nil
	}
	h, err := b.inputHash(ctx, svc)
	if err != nil {
		return "", err
	}
	b.mu.Lock()
	b.hashes[svc.Name] = h
	b.mu.Unlock()
	return h, nil
}

func (b *Builder) inputHash(ctx context.Context, svc *config.Service) (string, error) {
	base, err := b.Base(ctx, svc)
	if err != nil {
		return "", err
	}
	var spec []byte
	p := svc.Project()
	for _, in := range specFiles(svc) {
		data, err := os.ReadFile(filepath.Join(p.Root, filepath.FromSlash(in)))
		if err != nil && !os.IsNotExist(err) {
			return "", fmt.Errorf("reading %s of %q: %w", in, svc.Name, err)
		}
		// Named relative to the service ("requirements.txt"), as they always were.
		name, err := filepath.Rel(filepath.FromSlash(p.Dir), filepath.FromSlash(in))
		if err != nil {
			return "", fmt.Errorf("reading %s of %q: %w", in, svc.Name, err)
		}
		spec = append(append(spec, filepath.ToSlash(name)+"\n"...), data...)
	}
	var argv [][]string
	for _, st := range stages.ForService(svc) {
		if st.Kind != stages.KindDeps {
			continue // the gates' own commands: GateKey's
		}
		for _, c := range st.Commands {
			argv = append(argv, append([]string{st.Name}, c...))
		}
	}
	argv = append(argv, append([]string{"serve"}, svc.Serve...),
		[]string{"port", strconv.Itoa(svc.Port)}, []string{"health", svc.Health}, []string{"python", svc.Python},
		// What resolves and installs the dependencies decides what the image holds.
		[]string{"runtime-deps", "uv", python.UVVersion})
	for _, kv := range sortedEnv(svc.Image.Env) {
		argv = append(argv, []string{"image.env", kv})
	}
	return image.InputHash(image.Inputs{Service: svc.Name, Source: b.Source(svc),
		DepSpec: spec, BaseDigest: base.Digest.String(), Argv: argv})
}

// specFiles are svc's dependency spec and lock files, relative to its project root (the
// repository's root): the tool's inputs (python.Tool.Inputs) — a uv workspace member's
// uv.lock is its workspace root's.
func specFiles(svc *config.Service) []string { return svc.Tool().Inputs(svc.Project()) }

// Inputs are the repository paths (slash-separated, relative to the manifest's root) a
// service's gates and image are made from: everything git lists under Dir and each of Libs
// (GateKey hashes the trees, tests and .dockerignored files included; the image holds what the
// .dockerignores and image.DevOnly leave of them), its dependency spec and lock files and its
// tools.requirements (Spec; a uv workspace's shared uv.lock may lie outside Dir) and the repository's root .dockerignore
// (Shared), which filters every image. Its manifest entry is the last input; convoy --since
// compares it apart.
type Inputs struct {
	Dir    string
	Libs   []string
	Spec   []string
	Shared []string
}

// InputsOf lists svc's inputs (see Inputs).
func InputsOf(svc *config.Service) Inputs {
	in := Inputs{Dir: svc.Path, Spec: specFiles(svc), Shared: []string{".dockerignore"}}
	if svc.Tools.Requirements != "" { // the gates' virtualenv installs it too
		in.Spec = append(in.Spec, svc.Tools.Requirements)
	}
	for _, l := range svc.Libs {
		in.Libs = append(in.Libs, l.Path)
	}
	return in
}

// Source is what svc's source layer holds: its directory, its libs each at
// image.LibsRoot/NAME with its import root there (config.Lib.ImportRoot), and the dev-only
// files image.include re-includes; the repository's root .dockerignore applies.
func (b *Builder) Source(svc *config.Service) image.Source {
	src := image.Source{Root: b.cfg.Root, Dir: svc.Dir, Include: svc.Image.Include}
	for _, l := range svc.Libs {
		p := image.LibPath(l.Name())
		src.Libs = append(src.Libs, image.Lib{Dir: l.Dir, Path: p, ImportRoot: l.ImportRoot(p)})
	}
	return src
}

// Lookup finds an image of svc built from inputHash, in the store or else in the push target.
// A found image is tagged with this commit's short hash so that every commit has its tag.
func (b *Builder) Lookup(ctx context.Context, svc *config.Service, inputHash string) (Ref, bool, error) {
	if b.opts.NoCache {
		return Ref{}, false, nil
	}
	e, ok, err := b.store.Lookup(inputHash)
	if err != nil {
		return Ref{}, false, fmt.Errorf("looking up %q in the image store: %w", svc.Name, err)
	}
	tag, err := b.tag(svc)
	if err != nil {
		return Ref{}, false, err
	}
	if ok {
		if err := b.store.Tag(e.Digest, tag); err != nil {
			return Ref{}, false, fmt.Errorf("tagging cached image of %q: %w", svc.Name, err)
		}
		ref := Ref{Name: svc.Name + "@" + e.Digest.String(), Digest: e.Digest.String()}
		if b.opts.Push != "" {
			img, err := b.store.Image(e.Digest.String())
			if err != nil {
				return Ref{}, false, err
			}
			d, err := image.Push(ctx, img, b.repo(svc), b.pushTags(ctx, svc, tag), b.remoteOpts()...)
			if err != nil {
				return Ref{}, false, fmt.Errorf("pushing cached image of %q: %w", svc.Name, err)
			}
			ref = Ref{Name: d.String(), Digest: d.DigestStr(), Pushed: true}
		}
		return ref, true, nil
	}
	if b.opts.Push == "" {
		return Ref{}, false, nil
	}
	d, ok, err := image.LookupRemote(ctx, b.repo(svc), inputHash, b.remoteOpts()...)
	if err != nil || !ok {
		return Ref{}, false, err
	}
	if err := image.Retag(ctx, d.String(), commitTag(tag), b.remoteOpts()...); err != nil {
		return Ref{}, false, fmt.Errorf("tagging cached image of %q in %s: %w", svc.Name, b.repo(svc), err)
	}
	return Ref{Name: d.String(), Digest: d.DigestStr(), Pushed: true}, true, nil
}

// Cached implements pipeline.Cache: the image of svc built from its current inputs, if any,
// when svc's gates passed for its current gate inputs (see GateKey) on this machine or, as its
// gates tag in the push target says, on the run that pushed it.
func (b *Builder) Cached(ctx context.Context, svc *config.Service) (string, string, bool, error) {
	if b.opts.NoCache {
		return "", "", false, nil
	}
	hash, err := b.InputHash(ctx, svc)
	if err != nil {
		return "", "", false, err
	}
	local, err := b.gatesPassed(ctx, svc)
	if err != nil || (!local && b.opts.Push == "") {
		return "", "", false, err
	}
	ref, ok, err := b.Lookup(ctx, svc, hash)
	if err != nil || !ok || local {
		return ref.Name, ref.Digest, ok, err
	}
	if ok, err := b.remoteGatesPassed(ctx, svc, ref.Digest); err != nil || !ok {
		return "", "", false, err
	}
	if err := b.recordGates(ctx, svc); err != nil {
		return "", "", false, err
	}
	return ref.Name, ref.Digest, true, nil
}

// Spec is the image.Spec of svc's image: its source and libs, the pinned runtime requirements,
// the base, the serve command on 0.0.0.0:port, image.env (never the stage env), labels from git
// HEAD and the input hash. Every engine assembles images from it, so labels and configs agree
// across engines.
func (b *Builder) Spec(ctx context.Context, svc *config.Service, inputHash string, requirements []string, log io.Writer) (image.Spec, error) {
	base, err := b.Base(ctx, svc)
	if err != nil {
		return image.Spec{}, err
	}
	git, err := b.gitOf(svc)
	if err != nil {
		return image.Spec{}, err
	}
	return image.Spec{
		Service: svc.Name, Source: b.Source(svc), Requirements: requirements,
		Base: base, Python: svc.Python, Cmd: ServeArgv(svc, "0.0.0.0", svc.Port), Port: svc.Port, Health: svc.Health,
		Env: svc.Image.Env, Git: git, InputHash: inputHash, CacheDir: b.opts.CacheDir, Log: log,
	}, nil
}

// Build assembles svc's image from the pinned runtime requirements the gates installed and
// puts it (see Put).
func (b *Builder) Build(ctx context.Context, svc *config.Service, inputHash string, requirements []string, log io.Writer) (Ref, error) {
	spec, err := b.Spec(ctx, svc, inputHash, requirements, log)
	if err != nil {
		return Ref{}, err
	}
	spec.Tools, spec.LayerTrees = b.opts.Tools, b.opts.LayerTrees
	img, err := image.Build(ctx, spec)
	if err != nil {
		return Ref{}, fmt.Errorf("building image for %q: %w", svc.Name, err)
	}
	return b.Put(ctx, svc, img, log)
}

// Layer builds the dependency layer of svc's image for the pinned runtime requirements into the
// layer cache (image.BuildDependencies), or finds it there, so that Build of the same
// requirements takes it from there. It returns the layer's compressed size (0 for none).
func (b *Builder) Layer(ctx context.Context, svc *config.Service, requirements []string, log io.Writer) (int64, error) {
	spec, err := b.Spec(ctx, svc, "", requirements, log)
	if err != nil {
		return 0, err
	}
	spec.Tools, spec.LayerTrees = b.opts.Tools, b.opts.LayerTrees
	return image.BuildDependencies(ctx, spec)
}

// Put stores svc's image under <service>:<short-sha> and pushes it to the push target, when
// there is one. An image stage puts an image only once every gate passed: Put records that they
// did for svc's gate inputs (see GateKey).
func (b *Builder) Put(ctx context.Context, svc *config.Service, img v1.Image, log io.Writer) (Ref, error) {
	tag, err := b.tag(svc)
	if err != nil {
		return Ref{}, err
	}
	digest, err := b.store.Put(img, tag)
	if err != nil {
		return Ref{}, fmt.Errorf("storing image of %q: %w", svc.Name, err)
	}
	fmt.Fprintf(log, "convoy: stored %s as %s in %s\n", digest, tag, b.opts.StoreDir)
	if err := b.recordGates(ctx, svc); err != nil {
		// The image is good; the next run only runs the gates again.
		fmt.Fprintf(log, "convoy: %v\n", err)
	}
	ref := Ref{Name: svc.Name + "@" + digest.String(), Digest: digest.String()}
	if b.opts.Push != "" {
		d, err := image.Push(ctx, img, b.repo(svc), b.pushTags(ctx, svc, tag), b.remoteOpts()...)
		if err != nil {
			return Ref{}, fmt.Errorf("pushing image of %q: %w", svc.Name, err)
		}
		fmt.Fprintf(log, "convoy: pushed %s\n", d)
		ref = Ref{Name: d.String(), Digest: d.DigestStr(), Pushed: true}
	}
	return ref, nil
}

// pushTags are the tags an image of svc (stored as tag, see Builder.tag) is pushed with: the
// commit's, and the gates tag when its gates passed on this machine for its current gate inputs.
func (b *Builder) pushTags(ctx context.Context, svc *config.Service, tag string) []string {
	tags := []string{commitTag(tag)}
	if ok, err := b.gatesPassed(ctx, svc); err == nil && ok {
		key, _ := b.GateKey(ctx, svc)
		tags = append(tags, GatesTag(key))
	}
	return tags
}

// Image returns the image ref names (repo@sha256:…, as Ref.Name): from the store when it holds
// the digest, else from the registry (an image found there by the cache).
func (b *Builder) Image(ctx context.Context, ref string) (v1.Image, error) {
	_, digest, ok := strings.Cut(ref, "@")
	if !ok {
		return nil, fmt.Errorf("image reference %q has no digest", ref)
	}
	if img, err := b.store.Image(digest); err == nil {
		return img, nil
	}
	if !strings.Contains(ref, "/") {
		return nil, fmt.Errorf("image %s is neither in the store %s nor in a registry", ref, b.opts.StoreDir)
	}
	return image.Fetch(ctx, ref, b.remoteOpts()...)
}

// Store is the OCI layout images are kept in.
func (b *Builder) Store() *image.Store { return b.store }

// Repo is the registry repository of svc's image ("" without a push target).
func (b *Builder) Repo(svc *config.Service) string {
	if b.opts.Push == "" {
		return ""
	}
	return b.repo(svc)
}

func (b *Builder) repo(svc *config.Service) string { return b.opts.Push + "/" + svc.Name }

// tag is what svc's image is stored as: <service>:<short-sha>, or <service>:<short-sha>-dirty
// when an uncommitted change reaches it (see gitOf).
func (b *Builder) tag(svc *config.Service) (string, error) {
	git, err := b.gitOf(svc)
	if err != nil {
		return "", fmt.Errorf("reading what %q's image is built from: %w", svc.Name, err)
	}
	return svc.Name + ":" + git.Short, nil
}

// commitTag is the commit part of a stored tag (see Builder.tag).
func commitTag(tag string) string {
	_, t, _ := strings.Cut(tag, ":")
	return t
}

// ServeArgv is svc's serve command with ${HOST} and ${PORT} substituted (and nothing else).
func ServeArgv(svc *config.Service, host string, port int) []string {
	return integration.Substitute(svc.Serve, host, strconv.Itoa(port))
}
