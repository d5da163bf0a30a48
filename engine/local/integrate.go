package local

import (
	"context"
	"fmt"
	"os"
	"path"
	"path/filepath"

	"github.com/convoy-ci/convoy/engine"
	"github.com/convoy-ci/convoy/image"
	"github.com/convoy-ci/convoy/integration"
	"github.com/convoy-ci/convoy/integration/model"
	"github.com/convoy-ci/convoy/pipeline/config"
	"github.com/convoy-ci/convoy/python"
	"github.com/convoy-ci/convoy/stages"
)

var _ engine.Integrator = (*Engine)(nil)

// serveStage is the pseudo-stage whose environment a service is started with: the one its gates
// passed in (virtualenv, PYTHONPATH, declared env), with the network.
func serveStage(svc *config.Service) stages.Stage {
	return stages.Stage{Name: "integration", Timeout: svc.Timeout}
}

// Integrate runs the integration stage: every service from its image in the engine's container
// runtime (or, with engine.FromVenv, from its gated virtualenv), the suite from a virtualenv of
// its own requirements on the host.
func (e *Engine) Integrate(ctx context.Context, req engine.IntegrationRequest) (*model.Report, error) {
	cfg := req.Config
	if req.RunID == "" {
		req.RunID = integration.NewRunID()
	}
	spec := integration.Spec{Repo: cfg.Root, LogDir: req.LogDir, Postgres: req.Postgres, Env: cfg.Integration.Env, RunID: req.RunID}
	if err := os.MkdirAll(req.LogDir, 0o755); err != nil {
		return &model.Report{}, fmt.Errorf("creating %s: %w", req.LogDir, err)
	}
	for _, svc := range req.Services {
		s, err := e.integrationService(ctx, req, svc)
		if err != nil {
			return &model.Report{}, err
		}
		spec.Services = append(spec.Services, s)
	}
	suite, err := e.suite(ctx, cfg, req.LogDir)
	if err != nil {
		return &model.Report{}, err
	}
	spec.Suite = suite
	opts := []integration.Option{integration.WithParallel(req.Jobs)}
	if cs, ok := e.runtime.(integration.ContainerSweeper); ok {
		opts = append(opts, integration.WithContainerSweeper(cs))
	}
	if req.Events != nil {
		opts = append(opts, integration.WithEvents(req.Events))
	}
	return integration.Run(ctx, spec, opts...)
}

// integrationService describes how svc is started: from its image in the container runtime, or
// from its gated virtualenv.
func (e *Engine) integrationService(ctx context.Context, req engine.IntegrationRequest, svc *config.Service) (integration.Service, error) {
	s := integration.Service{Name: svc.Name, Scenario: svc.Scenario, Serve: svc.Serve, DependsOn: svc.DependsOn,
		Check: integration.Check(svc.Check), Health: svc.Health, CheckCommand: svc.CheckCommand, HealthTimeout: svc.HealthTimeout,
		Backing: svc.Backing, Processes: procs(svc), DatabaseVar: svc.DatabaseEnv(), Shadow: svc.Shadow}
	s.Migrate, s.Populate, s.Prestart = engine.IntegrationSteps(svc)
	if req.From == engine.FromVenv {
		// A service whose image was cached ran no stage: its virtualenv may be gone.
		if err := e.ensureVenv(ctx, req.Config, svc, filepath.Join(req.LogDir, svc.Name+"-deps.log")); err != nil {
			return s, err
		}
		env, err := e.Environ(req.Config, svc, serveStage(svc))
		if err != nil {
			return s, fmt.Errorf("environment of %q: %w", svc.Name, err)
		}
		s.Dir, s.Env = svc.Dir, env
		return s, nil
	}
	switch {
	case e.runtime == nil:
		return s, fmt.Errorf("starting %q from its image: the local engine has no container runtime", svc.Name)
	case req.Image == nil || e.images == nil:
		return s, fmt.Errorf("starting %q from its image: this run has no image of it", svc.Name)
	}
	s.Launcher = &imageLauncher{service: svc.Name, wait: req.Image, launcher: func(ctx context.Context, ref string) (integration.Launcher, error) {
		img, err := e.images.Image(ctx, ref)
		if err != nil {
			return nil, err
		}
		return e.runtime.Launcher(svc.Name, req.RunID, img), nil
	}}
	return s, nil
}

// procs are svc's processes beside serve, for integration.
func procs(svc *config.Service) []integration.Proc {
	var out []integration.Proc
	for _, p := range svc.Processes {
		out = append(out, integration.Proc{Name: p.Name, Argv: p.Command, ReadyLog: p.ReadyLog,
			ReadyCommand: p.ReadyCommand, ReadyTimeout: p.ReadyTimeout})
	}
	return out
}

// imageLauncher is the container launcher of a service's image, made once the image is built:
// its Prepare waits for the image, then prepares the runtime's launcher for it.
type imageLauncher struct {
	service  string
	wait     func(ctx context.Context, service string) (string, error)
	launcher func(ctx context.Context, ref string) (integration.Launcher, error)
	l        integration.Launcher // set by Prepare
}

func (l *imageLauncher) Describe() string {
	if l.l == nil {
		return "the image of " + l.service + " (not built yet)"
	}
	return l.l.Describe()
}

// Prepare waits until the image is built, then makes and prepares its launcher.
func (l *imageLauncher) Prepare(ctx context.Context) error {
	ref, err := l.wait(ctx, l.service)
	if err != nil {
		return fmt.Errorf("waiting for the image of %q: %w", l.service, err)
	}
	inner, err := l.launcher(ctx, ref)
	if err != nil {
		return fmt.Errorf("starting %q from its image: %w", l.service, err)
	}
	l.l = inner
	if p, ok := inner.(integration.Preparer); ok {
		return p.Prepare(ctx)
	}
	return nil
}

func (l *imageLauncher) Start(cmd integration.Command) (integration.Process, error) {
	if l.l == nil {
		return nil, fmt.Errorf("starting %q: its image was never prepared", l.service)
	}
	return l.l.Start(cmd)
}

func (l *imageLauncher) Close() error {
	if l.l == nil {
		return nil
	}
	return l.l.Close()
}

// suite is the cross-service suite, run on the host from a virtualenv of its requirements.
func (e *Engine) suite(ctx context.Context, cfg *config.Config, logDir string) (integration.Suite, error) {
	svc, err := e.suiteService(cfg)
	if err != nil {
		return integration.Suite{}, err
	}
	if err := e.ensureVenv(ctx, cfg, svc, filepath.Join(logDir, "suite-deps.log")); err != nil {
		return integration.Suite{}, err
	}
	venv, err := e.Venv(svc)
	if err != nil {
		return integration.Suite{}, err
	}
	env, err := e.Environ(cfg, svc, stages.Stage{Name: "suite"})
	if err != nil {
		return integration.Suite{}, err
	}
	// The suite's virtualenv is made when integration starts, before the services' deps stages
	// have compiled pytest, requests and the like into the bytecode store: placed again when
	// the suite starts, it gets what they compiled meanwhile.
	ready := func(ctx context.Context) error {
		_, _, err := e.tools.PlaceBytecode(ctx, venv, image.SitePackages, false)
		return err
	}
	return integration.Suite{Argv: cfg.Integration.Command, Dir: cfg.Root, Env: env,
		BinDir: filepath.Join(venv, "bin"), Timeout: cfg.Integration.Timeout, Ready: ready}, nil
}

// suiteService describes the integration suite as a pip "service" rooted at its requirements
// file's directory, installing that file whatever its name (config.Service.SpecFile), so that it gets a cached virtualenv like every service (made by
// defaults.installer).
func (e *Engine) suiteService(cfg *config.Config) (*config.Service, error) {
	req := cfg.Integration.Requirements
	if req == "" {
		return nil, fmt.Errorf("services.yaml has no integration.requirements: the suite needs a requirements file to install")
	}
	dir := filepath.Dir(filepath.FromSlash(req))
	return &config.Service{
		Name: "integration", Path: filepath.ToSlash(dir), Dir: filepath.Join(cfg.Root, dir), SpecFile: path.Base(req),
		Python: cfg.Defaults.Python, Deps: python.Pip, Installer: cfg.Defaults.Installer, Timeout: cfg.Integration.Timeout,
		Env: cfg.Integration.Env,
	}, nil
}

// ensureVenv makes sure svc's virtualenv is installed, running its deps stage (logged to log)
// when it is not; an installed one is reused at once.
func (e *Engine) ensureVenv(ctx context.Context, cfg *config.Config, svc *config.Service, logPath string) error {
	venv, err := e.Venv(svc)
	if err != nil {
		return err
	}
	if _, err := os.Stat(filepath.Join(venv, readyMarker)); err == nil {
		return nil
	}
	log, err := os.Create(logPath)
	if err != nil {
		return err
	}
	defer log.Close()
	deps := stages.ForService(svc)[0]
	if _, err := e.Run(ctx, engine.Request{Config: cfg, Service: svc, Stage: deps, Log: log}); err != nil {
		return fmt.Errorf("installing the dependencies of %q for integration (log: %s): %w", svc.Name, logPath, err)
	}
	return nil
}
