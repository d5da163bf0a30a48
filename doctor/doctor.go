// Package doctor checks what convoy needs on this machine for one manifest: each Python version
// it names, the installers its services use, PostgreSQL's server binaries, the container runtime
// integration starts images in, the base images, the release registry (reachability and whether
// credentials were found, never the credentials), disk space and the cache's size, and network
// namespaces for offline stages.
//
// Each check asks the package that owns its facts (python, integration/pgcluster,
// integration/container, image, release, engine/local) and returns one Result: ok, warn or fail,
// with the fix for what is not ok.
package doctor

import (
	"context"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"

	"github.com/convoy-ci/convoy/integration/container"
	"github.com/convoy-ci/convoy/integration/pgcluster"
	"github.com/convoy-ci/convoy/pipeline/config"
)

// Status is how a check ended.
type Status string

// The statuses of a check.
const (
	// OK means convoy has what it needs.
	OK Status = "ok"
	// Warn means convoy can run, but slower or with less than it could (a tool it will install
	// on first use, little disk left).
	Warn Status = "warn"
	// Fail means some command will not work until the fix is applied.
	Fail Status = "fail"
)

// Result is one check's outcome.
type Result struct {
	// Check names what was checked ("python 3.11", "postgres", "registry").
	Check string `json:"check"`
	// Status is OK, Warn or Fail.
	Status Status `json:"status"`
	// Detail says what was found (a path, a version, a size, an error).
	Detail string `json:"detail"`
	// Fix is the command or setting that makes a Warn or Fail go away; "" for OK.
	Fix string `json:"fix,omitempty"`
}

// Failed reports whether any of rs failed.
func Failed(rs []Result) bool {
	for _, r := range rs {
		if r.Status == Fail {
			return true
		}
	}
	return false
}

// Option configures Run.
type Option func(*options)

type options struct {
	cacheDir    string
	engine      string
	runtime     string
	registry    string
	insecure    bool
	keychain    authn.Keychain
	pgPath      []string
	pgGlobs     []string
	timeout     time.Duration
	minFree     uint64
	comfortable uint64
}

// DefaultTimeout bounds each check that talks to something (a registry, a base image's
// registry, the container runtime).
const DefaultTimeout = 15 * time.Second

// Disk thresholds: below MinFree free bytes in the cache's file system a check fails, below
// ComfortableFree it warns.
const (
	MinFree         = 1 << 30
	ComfortableFree = 5 << 30
)

// WithCacheDir is the cache directory convoy will use (virtualenvs, layers, tools); the
// default is <repo>/.convoy/cache.
func WithCacheDir(dir string) Option { return func(o *options) { o.cacheDir = dir } }

// WithEngine checks what the engine of this name needs besides the local machine's tools: a
// reachable Dagger engine for "dagger"; nothing more for "local" (the default).
func WithEngine(name string) Option { return func(o *options) { o.engine = name } }

// WithRuntime checks the container runtime of this kind (container.KindAuto by default).
func WithRuntime(kind string) Option { return func(o *options) { o.runtime = kind } }

// WithRegistry checks the registry REGISTRY[/NAMESPACE] instead of the manifest's
// release.registry.
func WithRegistry(repo string) Option { return func(o *options) { o.registry = repo } }

// WithInsecure reaches the registry over plain HTTP.
func WithInsecure(insecure bool) Option { return func(o *options) { o.insecure = insecure } }

// WithKeychain takes registry credentials from k instead of authn.DefaultKeychain.
func WithKeychain(k authn.Keychain) Option { return func(o *options) { o.keychain = k } }

// WithPostgresSearch looks for PostgreSQL's binaries in the directories path, then globs,
// instead of PATH and pgcluster.DefaultSearchGlobs.
func WithPostgresSearch(path, globs []string) Option {
	return func(o *options) { o.pgPath, o.pgGlobs = path, globs }
}

// WithTimeout bounds each check that talks to something (DefaultTimeout).
func WithTimeout(d time.Duration) Option { return func(o *options) { o.timeout = d } }

// check is one check of the machine for a manifest; it may return several results (one per
// Python version, one per base image).
type check func(ctx context.Context, cfg *config.Config, o options) []Result

// checks are run in this order, the order of the report.
var checks = []check{pythons, installers, postgres, runtime, bases, releaseRegistry, disk, netns, daggerEngine}

// Run runs every check for cfg and returns their results in a fixed order. It writes nothing
// but temporary files it removes.
func Run(ctx context.Context, cfg *config.Config, opts ...Option) []Result {
	o := options{runtime: container.KindAuto, keychain: authn.DefaultKeychain, pgGlobs: pgcluster.DefaultSearchGlobs,
		timeout: DefaultTimeout, minFree: MinFree, comfortable: ComfortableFree, registry: cfg.Release.Registry}
	for _, opt := range opts {
		opt(&o)
	}
	if o.cacheDir == "" {
		o.cacheDir = defaultCacheDir(cfg)
	}
	var out []Result
	for _, c := range checks {
		out = append(out, c(ctx, cfg, o)...)
	}
	return out
}
