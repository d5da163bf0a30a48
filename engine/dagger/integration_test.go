package dagger

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/convoy-ci/convoy/engine"
	"github.com/convoy-ci/convoy/integration"
	"github.com/convoy-ci/convoy/integration/model"
	"github.com/convoy-ci/convoy/pipeline/config"
	"github.com/convoy-ci/convoy/python"
	"github.com/convoy-ci/convoy/stages"
)

func TestIntegrationRecipe(t *testing.T) {
	cfg := load(t, "services.yaml")
	tr := hostEnv(map[string]string{"https_proxy": "http://proxy.example:3128"})
	r, err := tr.integrationRun(cfg, cfg.Services, IntegrationOptions{RunID: "r1"})
	if err != nil {
		t.Fatal(err)
	}
	if r.RunID != "r1" || r.Timeout != 5*time.Minute {
		t.Errorf("run id %q, timeout %s; want r1, 5m", r.RunID, r.Timeout)
	}

	t.Run("postgres", func(t *testing.T) {
		same(t, "postgres", r.Postgres, postgresRecipe{
			Base: imageRef{Ref: "postgres:16", Kind: fromRegistry}, Hostname: "postgres", Port: 5432,
			Env:      env("POSTGRES_DB", "convoy", "POSTGRES_PASSWORD", "convoy", "POSTGRES_USER", "convoy", "CONVOY_RUN_ID", "r1"),
			InitFile: "/docker-entrypoint-initdb.d/convoy-databases.sql",
			InitSQL:  "CREATE DATABASE \"api_r1\";\nCREATE DATABASE \"web_r1\";\n",
		})
	})

	t.Run("services", func(t *testing.T) {
		// web depends on api: api starts first whatever the manifest's order.
		var names []string
		for _, s := range r.Services {
			names = append(names, s.Name)
		}
		same(t, "start order", names, []string{"api", "web"})
		api, web := r.Services[0], r.Services[1]
		same(t, "api bindings", api.Bindings, []string{"postgres"})
		same(t, "web bindings", web.Bindings, []string{"postgres", "api"})
		same(t, "web serve", web.Serve, []string{"python", "manage.py", "serve", "0.0.0.0", "8000"})
		if web.URL != "http://web:8000" || web.Hostname != "web" || web.Port != 8000 || web.Health != "/healthz" || web.Database != "web_r1" || web.Shadow {
			t.Errorf("web = %+v", web)
		}
		same(t, "web setup execs", web.Setup.Execs, []execStep{
			{Step: "migrate", Argv: integration.DefaultMigrate},
			{Step: "populate", Argv: []string{"python", "manage.py", "populate", "--scenario", "demo"}},
		})
		same(t, "api setup execs", api.Setup.Execs, []execStep{
			{Step: "migrate", Argv: integration.DefaultMigrate},
			{Step: "populate", Argv: []string{"python", "manage.py", "populate"}},
		})
		got := web.Setup.envMap()
		for k, v := range map[string]string{
			"DATABASE_URL": "postgresql://convoy:convoy@postgres:5432/web_r1",
			"WEB_URL":      "http://web:8000", "API_URL": "http://api:9000",
			"HOST": "0.0.0.0", "PORT": "8000", "JWT_SECRET": "s3cret", "CONVOY_RUN_ID": "r1",
			"CONVOY_SERVICE": "web", "CONVOY_STAGE": "integration", "PYTHONPATH": "/app/src:/app/libs/kit",
			"DJANGO_SETTINGS_MODULE": "web.settings", "VIRTUAL_ENV": "/convoy/venv",
		} {
			if got[k] != v {
				t.Errorf("web %s = %q, want %q", k, got[k], v)
			}
		}
		if _, ok := got["https_proxy"]; ok {
			t.Error("a service's integration container inherits the host's proxy: only stages that download packages do")
		}
		// It continues the gated environment: the deps stage's container.
		deps, err := tr.stage(cfg, cfg.Service("web"), stage(t, cfg.Service("web"), stages.Deps))
		if err != nil {
			t.Fatal(err)
		}
		same(t, "web setup from", web.Setup.From, &deps)
		same(t, "web setup unset", web.Setup.Unset, []string{"PIP_CACHE_DIR", "UV_CACHE_DIR", "UV_LINK_MODE", "UV_NO_PROGRESS", "UV_PYTHON_DOWNLOADS", "https_proxy"})
		same(t, "web setup mounts", web.Setup.Mounts, []mountSpec{
			{Host: cfg.Service("web").Dir, Path: "/app/src", Exclude: sourceExclude},
			{Host: filepath.Join(cfg.Root, "libs", "kit"), Path: "/app/libs/kit", Exclude: sourceExclude},
		})
	})

	t.Run("suite", func(t *testing.T) {
		s := r.Suite
		same(t, "bindings", s.Bindings, []string{"api", "web"})
		same(t, "command", s.Command.Argv, []string{"python", "-m", "pytest", "-q", "tests", "--junitxml=/convoy/junit.xml"})
		if s.JUnit != "/convoy/junit.xml" {
			t.Errorf("junit = %q", s.JUnit)
		}
		same(t, "setup execs", s.Setup.Execs, []execStep{
			{Argv: []string{"python3.11", "-m", "venv", "/convoy/venv"}},
			{Argv: []string{"python", "-m", "pip", "install", "-r", "/repo/tests/requirements.txt"}},
		})
		same(t, "base", s.Setup.Base, imageRef{Ref: "python:3.11-slim", Kind: fromRegistry})
		same(t, "mounts", s.Setup.Mounts, []mountSpec{{Host: cfg.Root, Path: "/repo", Gitignore: true,
			Exclude: []string{".git", ".convoy", "**/__pycache__", "**/*.pyc"}}})
		same(t, "caches", s.Setup.Caches, []cacheVolume{{Key: "convoy-pip", Path: "/convoy/cache/pip"}})
		if s.Setup.Workdir != "/repo" {
			t.Errorf("workdir = %q", s.Setup.Workdir)
		}
		got := s.Setup.envMap()
		for k, v := range map[string]string{
			"WEB_URL": "http://web:8000", "API_URL": "http://api:9000", "JWT_SECRET": "s3cret",
			"CONVOY_RUN_ID": "r1", "https_proxy": "http://proxy.example:3128", "VIRTUAL_ENV": "/convoy/venv",
		} {
			if got[k] != v {
				t.Errorf("suite %s = %q, want %q", k, got[k], v)
			}
		}
		for _, k := range []string{"PYTHONPATH", "CONVOY_SERVICE", "DATABASE_URL"} {
			if _, ok := got[k]; ok {
				t.Errorf("suite has %s: it belongs to services", k)
			}
		}
		if len(s.HealthChecks) != 2 {
			t.Fatalf("health checks = %d, want one per service", len(s.HealthChecks))
		}
		same(t, "api health check", s.HealthChecks[0].Argv, []string{"python", "-c", healthScript, "http://api:9000/healthz", "60"})
	})
}

// TestPostgresImageOption: the Postgres server's image is services.yaml's
// integration.postgres_image unless the engine's option (convoy's --postgres-image) names
// another, and postgres:16 when neither does: the setting reaches the recipe the engine runs.
func TestPostgresImageOption(t *testing.T) {
	cfg := load(t, "services.yaml")
	layout := filepath.Join(t.TempDir(), "pg")
	for _, tc := range []struct {
		manifest, option string
		want             imageRef
	}{
		{"", "", imageRef{Ref: "postgres:16", Kind: fromRegistry}},
		{"oci-layout:" + layout + ":postgres", "", imageRef{Ref: "oci-layout:" + layout + ":postgres", Kind: fromOCILayout, Path: layout, Tag: "postgres"}},
		{"oci-layout:" + layout + ":postgres", "docker-archive:images/pg.tar",
			imageRef{Ref: "docker-archive:images/pg.tar", Kind: fromDockerArchive, Path: filepath.Join(cfg.Root, "images", "pg.tar")}},
		{"", "registry.example/pg:16", imageRef{Ref: "registry.example/pg:16", Kind: fromRegistry}},
	} {
		c := *cfg
		c.Integration.PostgresImage = tc.manifest
		r, err := hostEnv(nil).integrationRun(&c, c.Services, IntegrationOptions{Postgres: tc.option})
		if err != nil {
			t.Fatal(err)
		}
		same(t, "postgres image of "+tc.manifest+" and "+tc.option, r.Postgres.Base, tc.want)
	}
}

// TestIntegrationRecipeShadow: a service's shadow: true is in its recipe, for the run to
// tolerate its failure (runState.serviceFailed).
func TestIntegrationRecipeShadow(t *testing.T) {
	cfg := load(t, "services.yaml")
	cfg.Service("web").Shadow = true
	r, err := hostEnv(nil).integrationRun(cfg, cfg.Services, IntegrationOptions{RunID: "r1"})
	if err != nil {
		t.Fatal(err)
	}
	if api, web := r.Services[0], r.Services[1]; api.Shadow || !web.Shadow {
		t.Errorf("shadow: api %v, web %v; want web only", api.Shadow, web.Shadow)
	}
}

func TestIntegrationOptions(t *testing.T) {
	cfg := load(t, "services.yaml")
	r, err := hostEnv(nil).integrationRun(cfg, cfg.Services[:1], IntegrationOptions{
		Postgres: "docker-archive:images/postgres.tar", SuiteBase: "oci-layout:images/suite", HealthTimeout: 1500 * time.Millisecond,
	})
	if err != nil {
		t.Fatal(err)
	}
	if r.RunID == "" || !strings.Contains(r.Postgres.InitSQL, integration.DatabaseName("web", r.RunID)) {
		t.Errorf("run id %q, init %q: want a generated run id naming the database", r.RunID, r.Postgres.InitSQL)
	}
	same(t, "postgres base", r.Postgres.Base, imageRef{Ref: "docker-archive:images/postgres.tar", Kind: fromDockerArchive, Path: filepath.Join(cfg.Root, "images", "postgres.tar")})
	same(t, "suite base", r.Suite.Setup.Base, imageRef{Ref: "oci-layout:images/suite", Kind: fromOCILayout, Path: filepath.Join(cfg.Root, "images", "suite")})
	// Only web is in the run: its dependency api is neither started nor bound.
	same(t, "bindings", r.Services[0].Bindings, []string{"postgres"})
	if got := r.Suite.HealthChecks[0].Argv[4]; got != "1.5" {
		t.Errorf("health timeout argument = %q, want 1.5", got)
	}
}

func TestIntegrationErrors(t *testing.T) {
	cfg := load(t, "services.yaml")
	noServe := *cfg.Service("api")
	noServe.Serve = nil
	a := &config.Service{Name: "a", DependsOn: []string{"b"}}
	b := &config.Service{Name: "b", DependsOn: []string{"a"}}
	noCommand := *cfg
	noCommand.Integration.Command = nil
	for _, tc := range []struct {
		name     string
		cfg      *config.Config
		services []*config.Service
		o        IntegrationOptions
		err      string
	}{
		{"no services", cfg, nil, IntegrationOptions{}, "integration: no services"},
		{"cycle", cfg, []*config.Service{a, b}, IntegrationOptions{}, "depends_on cycle a → b → a"},
		{"no serve", cfg, []*config.Service{&noServe}, IntegrationOptions{}, `service "api" has no serve: command`},
		{"no command", &noCommand, cfg.Services, IntegrationOptions{}, "no suite command"},
		{"bad postgres image", cfg, cfg.Services, IntegrationOptions{Postgres: "Not An Image"}, "integration: Postgres image"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := hostEnv(nil).integrationRun(tc.cfg, tc.services, tc.o)
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Fatalf("Integration: %v; want an error containing %q", err, tc.err)
			}
		})
	}
}

func TestStartOrder(t *testing.T) {
	svc := func(name string, deps ...string) *config.Service {
		return &config.Service{Name: name, DependsOn: deps}
	}
	for _, tc := range []struct {
		name string
		in   []*config.Service
		want []string
	}{
		{"manifest order kept", []*config.Service{svc("a"), svc("b"), svc("c")}, []string{"a", "b", "c"}},
		{"dependencies first", []*config.Service{svc("c", "b"), svc("b", "a"), svc("a")}, []string{"a", "b", "c"}},
		{"diamond", []*config.Service{svc("top", "l", "r"), svc("l", "base"), svc("r", "base"), svc("base")}, []string{"base", "l", "r", "top"}},
		{"dependency not in the run", []*config.Service{svc("a", "gone")}, []string{"a"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := startOrder(tc.in)
			if err != nil {
				t.Fatal(err)
			}
			var names []string
			for _, s := range got {
				names = append(names, s.Name)
			}
			same(t, "order", names, tc.want)
		})
	}
}

func TestSuiteArgv(t *testing.T) {
	for _, tc := range []struct {
		argv   []string
		pytest bool
		junit  string
	}{
		{[]string{"python", "-m", "pytest", "-q"}, true, ""},
		{[]string{"pytest", "--junitxml=out.xml"}, true, "out.xml"},
		{[]string{"python3.11", "-m", "pytest", "--junit-xml", "r.xml"}, true, "r.xml"},
		{[]string{"python", "-m", "unittest"}, false, ""},
		{[]string{"python", "tests/suite.py"}, false, ""},
		{nil, false, ""},
	} {
		if got := integration.IsPytest(tc.argv); got != tc.pytest {
			t.Errorf("integration.IsPytest(%q) = %v", tc.argv, got)
		}
		if got, _ := integration.JUnitArg(tc.argv); got != tc.junit {
			t.Errorf("integration.JUnitArg(%q) = %q, want %q", tc.argv, got, tc.junit)
		}
	}
}

// TestEngineFixtureIntegrationEnds keeps TestEngineIntegration's fixture (engine.yaml) from
// hanging: every set-up command its services run in integration ends by itself (the gates' slow
// commands are made by TestEngineGates, not by the manifest).
func TestEngineFixtureIntegrationEnds(t *testing.T) {
	cfg := load(t, "engine.yaml")
	r, err := hostEnv(nil).integrationRun(cfg, cfg.Services, IntegrationOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range r.Services {
		for _, x := range s.Setup.Execs {
			if strings.Contains(strings.Join(x.Argv, " "), "sleep") {
				t.Errorf("%s's integration set-up runs %q, which does not end by itself", s.Name, x.Argv)
			}
		}
	}
}

// TestIntegrationContinuesTheGatedContainer: the engine's own translator (the host's uv in it,
// as Run uses) gives integration set-ups whose first container is the deps stage's recipe Run
// carried out, key for key: integration continues the gated container instead of installing
// again (or copying an empty uv).
func TestIntegrationContinuesTheGatedContainer(t *testing.T) {
	cfg := load(t, "services.yaml")
	web := cfg.Service("web")
	cache := os.Getenv("CONVOY_TEST_CACHE")
	if cache == "" {
		cache = t.TempDir()
	}
	e := New(nil, WithTools(python.NewTools(cache)))
	ctx := context.Background()
	tr, err := e.hostTranslator(ctx)
	if err != nil {
		t.Skipf("no uv on this host: %v", err)
	}
	if tr.UV == "" {
		t.Fatal("the engine's translator has no uv")
	}
	deps, err := tr.stage(cfg, web, stage(t, web, stages.Deps))
	if err != nil {
		t.Fatal(err)
	}
	r, err := tr.integrationRun(cfg, cfg.Services, IntegrationOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range r.Services {
		if s.Name != "web" {
			continue
		}
		if got := s.Setup.root(); got.key() != deps.key() {
			t.Errorf("web's integration starts from %+v, not the deps stage's container %+v", got, deps)
		}
		return
	}
	t.Fatal("web is not in the integration recipe")
}

// TestIntegrationStartsImages: a service integration starts from its image (what ships) is set
// up and served from that image — no gated container, no source mounted, the image's own
// environment, working directory and user — with only the run's variables on top; a service
// without one still starts from its gated container.
func TestIntegrationStartsImages(t *testing.T) {
	cfg := load(t, "services.yaml")
	ref := "docker-archive:/tmp/convoy-images/web.tar:convoy.invalid/web:integration"
	r, err := hostEnv(nil).integrationRun(cfg, cfg.Services, IntegrationOptions{RunID: "r1", images: map[string]string{"web": ref}})
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range r.Services {
		switch s.Name {
		case "web":
			same(t, "web's base", s.Setup.Base, imageRef{Ref: ref, Kind: fromDockerArchive, Path: "/tmp/convoy-images/web.tar", Tag: "convoy.invalid/web:integration"})
			if s.Setup.From != nil || len(s.Setup.Mounts) > 0 || s.Setup.Workdir != "" || len(s.Setup.Files) > 0 {
				t.Errorf("web's image gets a gated container, mounts, a working directory or files: %+v", s.Setup)
			}
			env := s.Setup.envMap()
			for _, k := range []string{"PATH", "VIRTUAL_ENV", "PYTHONPATH", "HOME"} {
				if v, ok := env[k]; ok {
					t.Errorf("web's image gets the gates' %s=%q over its own", k, v)
				}
			}
			for k, v := range map[string]string{"DATABASE_URL": "postgresql://convoy:convoy@postgres:5432/" + integration.DatabaseName("web", "r1"),
				"HOST": "0.0.0.0", "PORT": "8000", "API_URL": "http://api:9000", envRunID: "r1"} {
				if env[k] != v {
					t.Errorf("web's %s = %q, want %q", k, env[k], v)
				}
			}
			same(t, "web's bindings", s.Bindings, []string{"postgres", "api"})
		case "api":
			if s.Setup.From == nil || s.Setup.From.Stage != "deps" {
				t.Errorf("api, without an image, does not continue its gated container: %+v", s.Setup.From)
			}
		}
	}
}

// TestIntegrateWithoutImages: integration that must start images (engine.FromImage) refuses,
// before anything starts, on an engine that has none to start.
func TestIntegrateWithoutImages(t *testing.T) {
	cfg := load(t, "services.yaml")
	cache := os.Getenv("CONVOY_TEST_CACHE")
	if cache == "" {
		cache = t.TempDir()
	}
	e := New(nil, WithTools(python.NewTools(cache)))
	rep, err := e.Integrate(context.Background(), engine.IntegrationRequest{Config: cfg, Services: cfg.StartOrder(), LogDir: t.TempDir(),
		From: engine.FromImage, Image: func(context.Context, string) (string, error) { return "", nil }})
	if rep == nil || !errors.Is(err, model.ErrInvalidSpec) || !strings.Contains(err.Error(), "without WithImages") {
		t.Fatalf("Integrate = %v, %v; want an invalid spec error saying there are no images", rep, err)
	}
}
