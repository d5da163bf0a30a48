package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"

	"github.com/spf13/pflag"

	"github.com/convoy-ci/convoy/engine/dagger"
	"github.com/convoy-ci/convoy/engine/local"
	"github.com/convoy-ci/convoy/pipeline"
	"github.com/convoy-ci/convoy/pipeline/config"
	"github.com/convoy-ci/convoy/python"
	"github.com/convoy-ci/convoy/release"
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
			if c.opts.since != "" { // --check too: it compares every lockfile
				return c.fail(&pipeline.UsageError{Msg: "release: --since cannot be used: a release gates and tags every service"})
			}
			cfg, code := c.load()
			if cfg == nil {
				return code
			}
			if c.flagBool("check") {
				return c.checkLockfiles(ctx, cfg)
			}
			tag := c.flagString("tag")
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

// releaseIfTagged cuts the release HEAD's tag triggers (release.Trigger), when there is a
// registry to release to, and reports its exit code; ok is false when there is nothing to
// release. Several release tags at HEAD are a usage error, a repository that cannot be read a
// failure.
func (c *cli) releaseIfTagged(ctx context.Context, cfg *config.Config) (code int, ok bool) {
	if cfg.Release.TagPattern == "" {
		return exitPassed, false
	}
	tag, ok, err := release.Trigger(cfg.Root, cfg.Release.TagPattern)
	switch {
	case errors.Is(err, release.ErrPrecondition):
		return c.fail(&pipeline.UsageError{Err: err}), true
	case err != nil:
		return c.fail(err), true
	case !ok:
		return exitPassed, false
	case c.releaseRegistry(cfg) == "":
		fmt.Fprintf(c.stderr, "convoy: HEAD carries release tag %s but no registry is set (release.registry or --push): running without releasing\n", tag)
		return exitPassed, false
	}
	return c.cutRelease(ctx, cfg, tag), true
}

// releaseEnvs is the engine that provides the environments a release freezes, the one --engine
// names: the local engine's virtualenvs, or the Dagger engine's containers (exported to the
// host). done releases it. A Dagger engine that cannot be reached is a usage error: nothing ran.
func (c *cli) releaseEnvs(ctx context.Context, cfg *config.Config) (envs release.Environments, done func() error, err error) {
	if c.opts.engine != dagger.Name {
		return local.New(stateDir(cfg), local.WithCacheDir(c.cacheDir(cfg))), func() error { return nil }, nil
	}
	eng, err := dagger.Connect(ctx, dagger.WithJobs(c.opts.jobs), dagger.WithStateDir(stateDir(cfg)),
		dagger.WithTools(python.NewTools(c.cacheDir(cfg))))
	var ue *dagger.UnreachableError
	if errors.As(err, &ue) {
		return nil, nil, &pipeline.UsageError{Msg: err.Error()}
	}
	if err != nil {
		return nil, nil, fmt.Errorf("connecting to the Dagger engine: %w", err)
	}
	return eng, eng.Close, nil
}

// checkLockfiles installs every service's dependencies as the gates would and compares them
// with the committed lockfiles, writing nothing to the repository.
func (c *cli) checkLockfiles(ctx context.Context, cfg *config.Config) int {
	envs, closeEnvs, err := c.releaseEnvs(ctx, cfg)
	if err != nil {
		return c.fail(err)
	}
	defer closeEnvs()
	sum, code := c.pipeline(ctx, cfg, "release --check", phases{depsOnly: true})
	if code != exitPassed {
		return code
	}
	// A shadow service whose dependencies did not install has nothing to compare; a release
	// would not freeze it either.
	all := slices.DeleteFunc(release.ServicesOf(cfg), func(s release.Service) bool { return slices.Contains(sum.ShadowFailed, s.Name) })
	svcs, err := release.WithEnvironments(all, envs)
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
	if len(c.opts.only) > 0 || c.opts.since != "" {
		return c.fail(&pipeline.UsageError{Msg: "release: --only and --since cannot be used: a release tags every service"})
	}
	if err := cfg.NeedIntegration(); err != nil { // a release runs integration before it stamps
		return c.refuseManifest(err)
	}
	if err := cfg.NeedImages(nil); err != nil {
		return c.refuseManifest(err)
	}
	registry := c.releaseRegistry(cfg)
	if registry == "" {
		return c.fail(&pipeline.UsageError{Msg: "release: no registry: pass --registry HOST/NAMESPACE or set release.registry"})
	}
	envs, closeEnvs, err := c.releaseEnvs(ctx, cfg)
	if err != nil {
		return c.fail(err)
	}
	defer closeEnvs()
	force, insecure := c.flagBool("force"), c.flagBool("insecure")
	pushGit := c.flagString("push-git")
	out := c.humanOut()
	res, err := release.Release(ctx, release.Spec{
		Dir: cfg.Root, Tag: tag, TagPattern: cfg.Release.TagPattern, Registry: registry,
		Services: release.ServicesOf(cfg), Envs: envs, Force: force, Insecure: insecure, PushGit: pushGit,
		Logf: func(format string, args ...any) { fmt.Fprintf(out, "release: "+format+"\n", args...) },
		Gates: func(ctx context.Context) ([]string, error) {
			sum, code := c.pipeline(ctx, cfg, "release (gates)", phases{})
			if code != exitPassed {
				return nil, &exitError{code}
			}
			return sum.ShadowFailed, nil
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
		return c.fail(&pipeline.UsageError{Err: err})
	case errors.As(err, &ee):
		return ee.code // the pipeline reported it
	case ctx.Err() != nil:
		fmt.Fprintf(c.stderr, "convoy: %v\n", err)
		return c.sigs.exitCode()
	}
	return c.fail(err)
}

// buildRelease runs the whole pipeline from the frozen lockfiles, pushing to the registry, and
// returns every service's image; gates, images and integration must all pass but for shadow
// services, which are returned without a digest when they did not (release leaves them out).
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
		img := release.ServiceImage{Service: s.Name, Repo: in.Registry + "/" + s.Name, Digest: s.Digest,
			Changed: s.Status != pipeline.StatusCached}
		if slices.Contains(sum.ShadowFailed, s.Name) {
			img.Digest = "" // built, maybe, but it did not pass integration
		}
		out = append(out, img)
	}
	return out, nil
}
