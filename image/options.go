package image

import (
	"context"
	"runtime"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// Option configures how base images are loaded and how registries are reached.
type Option func(*options)

type options struct {
	keychain authn.Keychain
	insecure bool
	platform v1.Platform
	dir      string
}

// DefaultPlatform is the platform picked from a multi-platform base image
// unless WithPlatform says otherwise: linux on the host's architecture.
var DefaultPlatform = v1.Platform{OS: "linux", Architecture: runtime.GOARCH}

func makeOptions(opts ...Option) options {
	o := options{keychain: authn.DefaultKeychain, platform: DefaultPlatform}
	for _, opt := range opts {
		opt(&o)
	}
	return o
}

// WithKeychain sets where registry credentials come from; the default is
// authn.DefaultKeychain (docker's config.json and credential helpers).
func WithKeychain(k authn.Keychain) Option {
	return func(o *options) { o.keychain = k }
}

// WithInsecure makes registry references use plain HTTP. Loopback and
// localhost registries use plain HTTP even without it.
func WithInsecure(insecure bool) Option {
	return func(o *options) { o.insecure = insecure }
}

// WithPlatform sets the platform picked from a multi-platform base image.
func WithPlatform(p v1.Platform) Option {
	return func(o *options) { o.platform = p }
}

// WithDir resolves relative oci-layout: and docker-archive: paths against dir
// (the repository root) instead of the working directory.
func WithDir(dir string) Option {
	return func(o *options) { o.dir = dir }
}

func (o options) nameOptions() []name.Option {
	if o.insecure {
		return []name.Option{name.Insecure}
	}
	return nil
}

func (o options) remoteOptions(ctx context.Context) []remote.Option {
	return []remote.Option{
		remote.WithContext(ctx),
		remote.WithAuthFromKeychain(o.keychain),
		remote.WithPlatform(o.platform),
	}
}
