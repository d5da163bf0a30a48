package main

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/spf13/pflag"

	"github.com/convoy-ci/convoy/engine/local"
	"github.com/convoy-ci/convoy/pipeline"
	"github.com/convoy-ci/convoy/pipeline/config"
	"github.com/convoy-ci/convoy/release"
	"github.com/convoy-ci/convoy/repo"
)

func init() {
	register(&command{
		name: "release",
		summary: "Cut a QA release: gate every service, freeze its dependencies into committed lockfiles, " +
			"build and integrate from them, stamp one tag on every image, tag the commit, write releases/<tag>.json.",
		usage: "--tag TAG [--registry HOST/NAMESPACE] [flags] | --check",
		flags: func(fs *pflag.FlagSet) {
			fs.String("tag", "", "the release tag (must match release.tag_pattern)")
			fs.String("registry", "", "HOST/NAMESPACE the images go to (default release.registry)")
			fs.Bool("force", false, "move image tags that already point to other digests")
			fs.String("push-git", "", "push the annotated tag (and the release commits) to this remote")
			fs.Bool("check", false, "only verify that every lockfile matches what the gates would install (exit 1 and the differences otherwise)")
			imageFlags(fs)
			integrationFlags(fs)
		},
		run: func(ctx context.Context, c *cli) int {
			cfg, code := c.load()
			if cfg == nil {
				return code
			}
			if check, _ := c.fs.GetBool("check"); check {
				return c.checkLockfiles(ctx, cfg)
			}
			tag, _ := c.fs.GetString("tag")
			if tag == "" {
				return c.fail(&pipeline.UsageError{Msg: "release: --tag is required (or --check)"})
			}
			return c.cutRelease(ctx, cfg, tag)
		},
	})
}

// releaseRegistry is where release images go: --registry, else release.registry, else --push.
func (c *cli) releaseRegistry(cfg *config.Config) string {
	if v := c.flagString("registry"); v != "" {
		return v
	}
	if cfg.Release.Registry != "" {
		return cfg.Release.Registry
	}
	return c.flagString("push")
}

// releaseTrigger reports the release tag HEAD carries, when it matches release.tag_pattern and
// there is a registry to release to.
func (c *cli) releaseTrigger(cfg *config.Config) (string, bool) {
	if cfg.Release.TagPattern == "" {
		return "", false
	}
	r, err := repo.Open(cfg.Root)
	if err != nil {
		return "", false
	}
	tags, err := r.TagsAtHead()
	if err != nil {
		return "", false
	}
	// A finished release's tag stays on HEAD when nothing changed since; it triggers nothing.
	head, err := r.HeadHash()
	if err != nil {
		return "", false
	}
	var open []string
	for _, t := range tags {
		if _, err := r.ReadFile(head, release.ManifestPath(t)); err != nil {
			open = append(open, t)
		}
	}
	tag, ok, err := release.TriggerTag(open, cfg.Release.TagPattern)
	if err != nil {
		fmt.Fprintf(c.stderr, "convoy: not releasing: %v\n", err)
		return "", false
	}
	if !ok {
		return "", false
	}
	if c.releaseRegistry(cfg) == "" {
		fmt.Fprintf(c.stderr, "convoy: HEAD carries release tag %s but no registry is set (release.registry or --push): running without releasing\n", tag)
		return "", false
	}
	return tag, true
}

// releaseServices describes every service for the release package: its tool and the
// environment its gates passed in (the engine's python.Env).
func (c *cli) releaseServices(cfg *config.Config) ([]release.Service, error) {
	eng := local.New(stateDir(cfg), local.WithCacheDir(c.cacheDir(cfg)))
	var out []release.Service
	for _, svc := range cfg.Services {
		env, err := eng.Env(svc)
		if err != nil {
			return nil, err
		}
		out = append(out, release.Service{Name: svc.Name, Dir: svc.Path, Tool: svc.Tool().Name(), Env: env})
	}
	return out, nil
}

// checkLockfiles installs every service's dependencies as the gates would and compares them
// with the committed lockfiles, writing nothing to the repository.
func (c *cli) checkLockfiles(ctx context.Context, cfg *config.Config) int {
	if _, code := c.pipeline(ctx, cfg, "release --check", phases{depsOnly: true}); code != exitPassed {
		return code
	}
	svcs, err := c.releaseServices(cfg)
	if err != nil {
		return c.fail(err)
	}
	res, err := release.Check(ctx, cfg.Root, svcs)
	if err != nil {
		return c.fail(err)
	}
	if !res.OK() {
		fmt.Fprint(c.stdout, res.String())
		return exitFailed
	}
	fmt.Fprintln(c.humanOut(), "every lockfile matches what the gates install")
	return exitPassed
}

// humanOut is where sentences for people go: stdout, or stderr when stdout carries NDJSON.
func (c *cli) humanOut() io.Writer {
	if c.opts.output == "json" {
		return c.stderr
	}
	return c.stdout
}

// exitError carries the exit code of a pipeline run inside Release's callbacks.
type exitError struct{ code int }

func (e *exitError) Error() string { return fmt.Sprintf("the pipeline exited with code %d", e.code) }

// cutRelease lets the release package check every precondition, then gate every service,
// freeze, build (through the pipeline, from the frozen lockfiles), stamp, write the manifest
// and tag.
func (c *cli) cutRelease(ctx context.Context, cfg *config.Config, tag string) int {
	if len(c.opts.only) > 0 {
		return c.fail(&pipeline.UsageError{Msg: "release: --only cannot be used: a release tags every service"})
	}
	registry := c.releaseRegistry(cfg)
	if registry == "" {
		return c.fail(&pipeline.UsageError{Msg: "release: no registry: pass --registry HOST/NAMESPACE or set release.registry"})
	}
	svcs, err := c.releaseServices(cfg)
	if err != nil {
		return c.fail(err)
	}
	force, _ := c.fs.GetBool("force")
	insecure, _ := c.fs.GetBool("insecure")
	pushGit := c.flagString("push-git")
	out := c.humanOut()
	res, err := release.Release(ctx, release.Spec{
		Dir: cfg.Root, Tag: tag, TagPattern: cfg.Release.TagPattern, Registry: registry, Services: svcs,
		Force: force, Insecure: insecure, PushGit: pushGit,
		Logf: func(format string, args ...any) { fmt.Fprintf(out, "release: "+format+"\n", args...) },
		Gates: func(ctx context.Context) error {
			if _, code := c.pipeline(ctx, cfg, "release (gates)", phases{}); code != exitPassed {
				return &exitError{code}
			}
			return nil
		},
		Build: func(ctx context.Context, in release.BuildInput) ([]release.ServiceImage, error) {
			return c.buildRelease(ctx, cfg, in)
		},
	})
	var ee *exitError
	switch {
	case err == nil:
		fmt.Fprint(out, res.Summary())
		return exitPassed
	case errors.Is(err, release.ErrPrecondition):
		return c.fail(&pipeline.UsageError{Msg: err.Error()})
	case errors.As(err, &ee):
		return ee.code // the pipeline reported it
	case ctx.Err() != nil:
		fmt.Fprintf(c.stderr, "convoy: %v\n", err)
		return c.sigs.exitCode()
	}
	return c.fail(err)
}

// buildRelease runs the whole pipeline from the frozen lockfiles, pushing to the registry, and
// returns every service's image; gates, images and integration must all pass.
func (c *cli) buildRelease(ctx context.Context, cfg *config.Config, in release.BuildInput) ([]release.ServiceImage, error) {
	// The freeze commit added lockfiles: read the manifest again so hashes see them.
	frozen, err := config.Load(c.opts.file, cfg.Root)
	if err != nil {
		return nil, fmt.Errorf("reloading %s after the freeze: %w", c.opts.file, err)
	}
	sum, code := c.pipeline(ctx, frozen, "release (build)", phases{images: true, integration: true, frozen: true, push: in.Registry})
	if code != exitPassed || sum == nil {
		return nil, fmt.Errorf("the release build of %s did not pass (exit code %d)", in.Commit, code)
	}
	var out []release.ServiceImage
	for _, s := range sum.Services {
		out = append(out, release.ServiceImage{Service: s.Name, Repo: in.Registry + "/" + s.Name, Digest: s.Digest,
			Changed: s.Status != pipeline.StatusCached})
	}
	return out, nil
}
