package release

import (
	"errors"
	"fmt"
	"os"

	"github.com/convoy-ci/convoy/pipeline/config"
	"github.com/convoy-ci/convoy/python"
	"github.com/convoy-ci/convoy/repo"
)

// Environments provides the environment a service's gates passed in: what a release freezes.
// An engine that installs services' dependencies where release can read them implements it
// (engine/local's *Engine does).
type Environments interface {
	// Env returns svc's environment as its deps stage installed it.
	Env(svc *config.Service) (python.Env, error)
}

// ServicesOf describes every service of cfg for a release, in manifest order, without an
// environment: Spec.Envs (or WithEnvironments) provides it once the gates have passed.
func ServicesOf(cfg *config.Config) []Service {
	out := make([]Service, 0, len(cfg.Services))
	for _, svc := range cfg.Services {
		out = append(out, Service{Name: svc.Name, Dir: svc.Path, Tool: svc.Tool().Name(), Config: svc, Shadow: svc.Shadow})
	}
	return out
}

// WithEnvironments returns copies of services whose Env is what envs says for their Config.
func WithEnvironments(services []Service, envs Environments) ([]Service, error) {
	out := make([]Service, len(services))
	for i, s := range services {
		if s.Config == nil {
			return nil, fmt.Errorf("service %q: no configuration to ask its environment for", s.Name)
		}
		env, err := envs.Env(s.Config)
		if err != nil {
			return nil, fmt.Errorf("service %q: locating its environment: %w", s.Name, err)
		}
		s.Env = env
		out[i] = s
	}
	return out, nil
}

// Trigger reports the release tag HEAD of the repository containing dir carries: the one tag
// at HEAD that matches pattern (services.yaml release.tag_pattern) and is not a finished
// release (a finished release's tag stays on HEAD while nothing changes; it triggers nothing).
// ok is false when there is none. Errors reading the repository are returned; several
// matching tags are a *PreconditionError.
func Trigger(dir, pattern string) (tag string, ok bool, err error) {
	r, err := repo.Open(dir)
	if err != nil {
		return "", false, fmt.Errorf("looking for a release tag: %w", err)
	}
	tags, err := r.TagsAtHead()
	if err != nil {
		return "", false, fmt.Errorf("looking for a release tag: %w", err)
	}
	head, err := r.HeadHash()
	if err != nil {
		return "", false, fmt.Errorf("looking for a release tag: %w", err)
	}
	var open []string
	for _, t := range tags {
		_, err := r.ReadFile(head, ManifestPath(t))
		switch {
		case errors.Is(err, os.ErrNotExist):
			open = append(open, t)
		case err != nil:
			return "", false, fmt.Errorf("looking for a release tag: %w", err)
		}
	}
	tag, ok, err = TriggerTag(open, pattern)
	if err != nil {
		return "", false, precondition(PreconditionTag, err, nil, "not releasing")
	}
	return tag, ok, nil
}
