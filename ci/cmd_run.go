package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/convoy-ci/convoy/engine"
	"github.com/convoy-ci/convoy/engine/dagger"
	"github.com/convoy-ci/convoy/engine/local"
	"github.com/convoy-ci/convoy/image"
	"github.com/convoy-ci/convoy/integration/container"
	"github.com/convoy-ci/convoy/pipeline"
	"github.com/convoy-ci/convoy/pipeline/config"
	"github.com/convoy-ci/convoy/pipeline/images"
	"github.com/convoy-ci/convoy/python"
	"github.com/convoy-ci/convoy/stages"
	"github.com/spf13/pflag"
)

func init() {
	register(&command{
		name:    "run",
		summary: "Run the whole pipeline: every service's gates in parallel, then images and integration.",
		usage:   "[flags]",
		flags:   func(fs *pflag.FlagSet) { imageFlags(fs); integrationFlags(fs) },
		run: func(ctx context.Context, c *cli) int {
			return c.runPipeline(ctx, "run", phases{images: true, integration: true})
		},
	})
	register(&command{
		name:    "integration",
		summary: "Bring every service up together on one Postgres server and run the cross-service suite.",
		usage:   "[flags]",
		flags:   func(fs *pflag.FlagSet) { imageFlags(fs); integrationFlags(fs) },
		run: func(ctx context.Context, c *cli) int {
			if c.integrationFrom() == engine.FromVenv {
				return c.runPipeline(ctx, "integration", phases{integration: true, depsOnly: true})
			}
			// The images are what integration starts: built, or found in the cache, first.
			return c.runPipeline(ctx, "integration", phases{images: true, integration: true})
		},
	})
	register(&command{
		name:    "build",
		summary: "Run every service's gates and build the image of each service that passed.",
		usage:   "[flags]",
		flags:   imageFlags,
		run:     func(ctx context.Context, c *cli) int { return c.runPipeline(ctx, "build", phases{images: true}) },
	})
	register(&command{
		name:    "gate",
		summary: "Run every service's gates (deps, unit, lint, populate) and nothing else.",
		usage:   "[flags]",
		run:     func(ctx context.Context, c *cli) int { return c.runPipeline(ctx, "gate", phases{}) },
	})
	register(&command{
		name:    "plan",
		summary: "Show what convoy run would do: services, stages, edges, jobs and the integration stage.",
		usage:   "[flags]",
		run:     func(ctx context.Context, c *cli) int { return c.showPlan() },
	})
}

func (c *cli) showPlan() int {
	cfg, code := c.load()
	if cfg == nil {
		return code
	}
	opts, notice := c.planOptions(cfg)
	if notice != nil {
		fmt.Fprintf(c.stderr, "convoy: %v\n", notice)
	}
	var err error
	opts.Stages = stages.WithImage
	if opts.Since, err = c.since(cfg, cfg.NeedIntegration() == nil); err != nil {
		return c.fail(err)
	}
	plan, err := pipeline.NewPlan(cfg, opts)
	if err != nil {
		return c.fail(err)
	}
	if err := cfg.NeedIntegration(); err != nil {
		plan.NoIntegration = err.Error()
	} else {
		plan.Integration = &pipeline.PlanIntegration{Command: cfg.Integration.Command, Requirements: cfg.Integration.Requirements,
			Postgres: cfg.Integration.Postgres != "", Timeout: cfg.Integration.Timeout.String(), From: c.integrationFrom()}
	}
	if c.opts.output == "json" {
		enc := json.NewEncoder(c.stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(plan); err != nil {
			return c.fail(err)
		}
		return exitPassed
	}
	fmt.Fprint(c.stdout, plan.Text())
	return exitPassed
}

// newEngine builds the engine --engine names; notices go to the bus.
func (c *cli) newEngine(ctx context.Context, cfg *config.Config, bus *pipeline.Bus, builder *images.Builder, rt container.Runtime, run *pipeline.RunDir) (engine.Engine, error) {
	notify := func(msg string) { bus.Emit(pipeline.Event{Type: pipeline.EventNotice, Message: msg}) }
	switch c.opts.engine {
	case dagger.Name:
		eng, err := dagger.Connect(ctx, dagger.WithJobs(c.opts.jobs), dagger.WithNotify(notify), dagger.WithImages(builder),
			dagger.WithStateDir(stateDir(cfg)), dagger.WithIntegration(dagger.IntegrationOptions{Postgres: c.flagString("postgres-image")}))
		var ue *dagger.UnreachableError
		if errors.As(err, &ue) {
			// Nothing ran: a missing engine is a setup problem, like a bad flag.
			return nil, &pipeline.UsageError{Err: err}
		}
		if err != nil {
			return nil, fmt.Errorf("connecting to the Dagger engine: %w", err)
		}
		return eng, nil
	case local.Name:
		return local.New(stateDir(cfg),
			local.WithCacheDir(c.cacheDir(cfg)),
			local.WithDBDir(run.DB()),
			local.WithImages(builder),
			local.WithRuntime(rt),
			local.WithNotify(notify),
		), nil
	}
	return nil, &pipeline.UsageError{Msg: fmt.Sprintf("--engine %s is not available in this build", c.opts.engine)}
}

// imageFlags are the flags of commands that build images.
func imageFlags(fs *pflag.FlagSet) {
	fs.String("push", "", "also push images to REGISTRY/NAMESPACE (credentials from the docker config)")
	fs.Bool("insecure", false, "talk plain HTTP to the --push registry (loopback registries)")
	fs.Bool("no-cache", false, "run the gates and build even when an image of the same inputs exists")
}

// imageBuilder opens the image store with the image flags; push, when set, overrides --push.
// The dependency layers it writes go unpacked into rt's layer cache when rt keeps one.
func (c *cli) imageBuilder(cfg *config.Config, push string, rt container.Runtime) (*images.Builder, error) {
	if push == "" {
		push = c.flagString("push")
	}
	var trees image.LayerTrees
	if r, ok := rt.(*container.Runc); ok {
		trees = r.AddLayer
	}
	return images.New(cfg, images.Options{Push: push, Insecure: c.flagBool("insecure"), NoCache: c.flagBool("no-cache"),
		CacheDir: filepath.Join(c.cacheDir(cfg), "layers"), Tools: python.NewTools(c.cacheDir(cfg)), LayerTrees: trees})
}

// integrationFlags are the flags of commands that run the integration stage.
func integrationFlags(fs *pflag.FlagSet) {
	fs.String("postgres", "", "URL of an existing PostgreSQL server for the per-service databases (default: integration.postgres, else a throwaway cluster)")
	fs.String("postgres-image", "", "--engine dagger: the image the Postgres server runs from, a registry reference, oci-layout:PATH[:TAG] or docker-archive:FILE[:REF] (default: integration.postgres_image, else postgres:16)")
	fs.String("integration-from", string(engine.FromImage), "start services from their images (image) or, without a container runtime, from host virtualenvs (venv; --engine dagger: the gated containers; the images are not proven)")
	fs.String("runtime", "auto", "container runtime images run in: runc, docker (the daemon at DOCKER_HOST) or auto (docker when DOCKER_HOST is set, else runc); env CONVOY_RUNTIME")
}

// integrationFrom is what integration starts services from: what --integration-from says
// (images by default; on the Dagger engine, venv starts the containers that passed their gates).
func (c *cli) integrationFrom() engine.From {
	if c.flagString("integration-from") == string(engine.FromVenv) {
		return engine.FromVenv
	}
	return engine.FromImage
}

// integrationRuntime checks --integration-from and returns the container runtime integration
// starts images in (nil when it starts none), before any work: a missing runtime is a usage
// error that says what to install.
func (c *cli) integrationRuntime(cfg *config.Config, ph phases) (container.Runtime, error) {
	switch from := c.flagString("integration-from"); from {
	case "", string(engine.FromImage), string(engine.FromVenv):
	default:
		return nil, &pipeline.UsageError{Msg: fmt.Sprintf("--integration-from %q: expected image or venv", from)}
	}
	if pg := c.flagString("postgres-image"); pg != "" {
		if c.opts.engine != dagger.Name {
			return nil, &pipeline.UsageError{Msg: "--postgres-image applies to --engine dagger: the local engine starts a throwaway cluster from the host's PostgreSQL (or uses --postgres)"}
		}
		if err := config.CheckImageRef(pg, cfg.Root); err != nil {
			return nil, &pipeline.UsageError{Msg: fmt.Sprintf("--postgres-image: %v", err)}
		}
	}
	if !ph.integration || c.integrationFrom() == engine.FromVenv || c.opts.engine != local.Name {
		return nil, nil // the Dagger engine starts images on the engine
	}
	kind := c.flagString("runtime")
	if !c.fs.Changed("runtime") {
		if env := os.Getenv("CONVOY_RUNTIME"); env != "" {
			kind = env
		}
	}
	if err := pipeline.PrepareStateDir(stateDir(cfg)); err != nil { // runc keeps its bundles there
		return nil, err
	}
	rt, err := container.New(kind, container.WithWorkDir(filepath.Join(stateDir(cfg), "run")),
		container.WithLayerCache(c.layerCache(cfg)),
		container.WithSharedLayers(container.DefaultLayerCache(), images.BaseLayers(context.Background(), cfg, c.flagBool("insecure"))...))
	if err != nil {
		return nil, &pipeline.UsageError{Msg: "integration starts every service from its image " +
			"(or run with --integration-from venv, which does not prove the images)", Err: err}
	}
	return rt, nil
}

// phases say what a pipeline command does besides the gates.
type phases struct {
	images      bool   // build every passing service's image
	integration bool   // then run the integration stage
	depsOnly    bool   // of the gates, only make sure every virtualenv exists
	frozen      bool   // install every service's committed lockfile (releases)
	push        string // push images here, whatever --push says (releases)
}

// runPipeline runs the gates of every selected service and the phases asked for, then reports
// the summary. In CI, `convoy run` on a commit carrying a release tag cuts that release.
func (c *cli) runPipeline(ctx context.Context, name string, ph phases) int {
	cfg, code := c.load()
	if cfg == nil {
		return code
	}
	if ph.integration {
		if err := cfg.NeedIntegration(); err != nil {
			return c.refuseManifest(err)
		}
	}
	if ph.images {
		if err := cfg.NeedImages(c.opts.only); err != nil {
			return c.refuseManifest(err)
		}
	}
	if name == "run" {
		if code, ok := c.releaseIfTagged(ctx, cfg); ok {
			return code
		}
	}
	_, code = c.pipeline(ctx, cfg, name, ph)
	return code
}

// pipeline runs one pipeline over cfg and returns its summary (nil when it could not start) and
// exit code.
func (c *cli) pipeline(ctx context.Context, cfg *config.Config, name string, ph phases) (*pipeline.Summary, int) {
	opts, notice := c.planOptions(cfg)
	stageFn := stages.ForService
	if ph.depsOnly {
		stageFn = func(svc *config.Service) []stages.Stage { return stages.ForService(svc)[:1] }
	}
	since, err := c.since(cfg, ph.integration) // before anything is written
	if err != nil {
		return nil, c.fail(err)
	}
	opts.Since = since
	rt, err := c.integrationRuntime(cfg, ph)
	if err != nil {
		return nil, c.fail(err)
	}
	var builder *images.Builder
	if ph.images {
		b, err := c.imageBuilder(cfg, ph.push, rt)
		if err != nil {
			return nil, c.fail(err) // the store or the repository could not be read: a failure
		}
		builder, stageFn = b, stages.WithImage
	}
	opts.Stages = stageFn
	if ph.frozen {
		opts.Stages = func(svc *config.Service) []stages.Stage { return stages.Frozen(svc, stageFn(svc)) }
	}
	plan, err := pipeline.NewPlan(cfg, opts)
	if err != nil {
		return nil, c.fail(err)
	}
	if opts.Since != nil && len(plan.Services) == 0 {
		fmt.Fprintf(c.stderr, "convoy: no service's inputs changed since %s (convoy plan --since %s says why): nothing to run\n",
			c.opts.since, c.opts.since)
		return &pipeline.Summary{Status: pipeline.StatusPassed}, exitPassed
	}
	// Every refusal is behind: the run starts writing its state, which git never sees.
	if err := pipeline.PrepareStateDir(stateDir(cfg)); err != nil {
		return nil, c.fail(err)
	}
	// Each run its own logs and scratch databases: concurrent runs never share a file.
	run := pipeline.NewRun(stateDir(cfg))
	bus, closeBus := c.bus()
	defer closeBus()
	eng, err := c.newEngine(ctx, cfg, bus, builder, rt, run)
	if err != nil {
		return nil, c.fail(err)
	}
	defer eng.Close()
	pruned, err := run.Start()
	if err != nil {
		return nil, c.fail(err)
	}
	defer func() {
		if err := run.Finish(); err != nil {
			fmt.Fprintf(c.stderr, "convoy: %v\n", err)
		}
	}()
	pg := c.flagString("postgres")
	if pg == "" {
		pg = cfg.Integration.Postgres
	}
	job := &pipeline.Job{Name: name, Plan: plan, Engine: eng, Bus: bus, StateDir: stateDir(cfg), LogDir: run.Logs(), RunID: run.ID,
		// CONVOY_OVERLAP=off: integration after every image, the benchmarks' baseline.
		AfterImages: os.Getenv("CONVOY_OVERLAP") == "off",
		Integrate:   ph.integration, Postgres: pg, From: c.integrationFrom()}
	if notice != nil {
		job.Notices = append(job.Notices, notice.Error())
	}
	job.Notices = append(job.Notices, pruned...)
	if rt != nil {
		job.Runtime = rt.Kind()
	}
	if builder != nil {
		job.Cache = builder
	}
	sum, err := job.Run(ctx)
	if err != nil {
		return nil, c.fail(err)
	}
	switch sum.Status {
	case pipeline.StatusPassed:
		return sum, exitPassed
	case pipeline.StatusInterrupted:
		return sum, c.sigs.exitCode()
	}
	return sum, exitFailed
}
