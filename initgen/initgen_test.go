package initgen

import (
	"cmp"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/convoy-ci/convoy/pipeline/config"
)

// generated runs Generate on root and loads what it wrote, as convoy plan would.
func generated(t *testing.T, root string) (*config.Config, string) {
	t.Helper()
	data, err := Generate(root)
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Parse(data, "services.yaml", root)
	if err != nil {
		t.Fatalf("the manifest init writes does not load: %v\n%s", err, data)
	}
	return cfg, string(data)
}

// libPaths are a service's libs: entries.
func libPaths(s *config.Service) []string {
	var out []string
	for _, l := range s.Libs {
		out = append(out, l.Path)
	}
	return out
}

// TestSample compares what init writes for the repository's own services with the
// services.yaml its maintainers wrote, key by key where init can know the answer.
func TestSample(t *testing.T) {
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	want, err := config.Load(config.FileName, root)
	if err != nil {
		t.Fatal(err)
	}
	got, text := generated(t, root)
	if len(got.Services) != len(want.Services) {
		t.Fatalf("%d services, want %d:\n%s", len(got.Services), len(want.Services), text)
	}
	for _, w := range want.Services {
		g := got.Service(w.Name)
		if g == nil {
			t.Errorf("no service %s:\n%s", w.Name, text)
			continue
		}
		serve := slices.DeleteFunc(slices.Clone(w.Serve), func(a string) bool { return a == "--no-control-socket" })
		for _, c := range []struct {
			key       string
			got, want any
		}{
			{"path", g.Path, w.Path}, {"deps", g.Deps, w.Deps}, {"libs", libPaths(g), libPaths(w)},
			{"env", g.Env["DJANGO_SETTINGS_MODULE"], w.Env["DJANGO_SETTINGS_MODULE"]},
			{"unit", g.Unit, w.Unit}, {"populate", g.Populate, w.Populate}, {"migrate", g.Migrate, w.Migrate},
			{"serve", g.Serve, serve}, {"port", g.Port, w.Port}, {"health", g.Check + " " + g.Health, w.Check + " " + w.Health},
			{"lint", g.Lint, w.Lint}, {"database", g.Database, w.Database}, {"tools", g.Tools, w.Tools},
		} {
			if !equal(c.got, c.want) {
				t.Errorf("%s %s = %v, want %v", w.Name, c.key, c.got, c.want)
			}
		}
		for _, d := range g.DependsOn { // init finds a service's callees, not every start order
			if !slices.Contains(w.DependsOn, d) {
				t.Errorf("%s depends_on %v, not among %v", w.Name, g.DependsOn, w.DependsOn)
			}
		}
	}
	if g, w := got.Integration, want.Integration; g.Requirements != w.Requirements || !slices.Equal(g.Command, w.Command) {
		t.Errorf("integration = %+v, want %+v", g, w)
	}
	if g, w := got.Defaults, want.Defaults; g.Base != w.Base || g.Python != w.Python {
		t.Errorf("defaults base %q python %q, want %q %q", g.Base, g.Python, w.Base, w.Python)
	}
	// The one secret the sample needs is named, with where it is read, and nothing sets it.
	if !strings.Contains(text, "JWT_SECRET (libs/convoykit/convoykit/tokens.py)") || strings.Contains(text, "dev-only-jwt") {
		t.Errorf("the manifest should name JWT_SECRET as a TODO and set no value:\n%s", text)
	}
}

// equal compares the values TestSample checks (slices, strings, ints and structs of them).
func equal(a, b any) bool {
	if as, ok := a.([]string); ok {
		bs := b.([]string)
		return (as == nil) == (bs == nil) && slices.Equal(as, bs) // nil is a stage's default, [] none
	}
	if at, ok := a.(config.Tools); ok {
		bt := b.(config.Tools)
		return at.Requirements == bt.Requirements && slices.Equal(at.Packages, bt.Packages)
	}
	return a == b
}

// TestWriteKeepsExisting checks that Write never overwrites a manifest without force, and that
// a repository with no service is refused.
func TestWriteKeepsExisting(t *testing.T) {
	root := t.TempDir()
	file := filepath.Join(root, "services.yaml")
	if _, err := Write(root, "services.yaml", false); !errors.Is(err, ErrNoServices) {
		t.Fatalf("Write on an empty repository = %v, want ErrNoServices", err)
	}
	for p, content := range map[string]string{
		"services.yaml":          "mine\n",
		"svc/a/manage.py":        "import os\nos.environ.setdefault('DJANGO_SETTINGS_MODULE', 'a.settings')\n",
		"svc/a/requirements.txt": "django\n",
	} {
		os.MkdirAll(filepath.Dir(filepath.Join(root, p)), 0o755)
		if err := os.WriteFile(filepath.Join(root, p), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := Write(root, "services.yaml", false); !errors.Is(err, ErrExists) {
		t.Fatalf("Write over an existing file = %v, want ErrExists", err)
	}
	if b, _ := os.ReadFile(file); string(b) != "mine\n" {
		t.Fatalf("the existing file was changed: %q", b)
	}
	if _, err := Write(root, "services.yaml", true); err != nil {
		t.Fatal(err)
	}
	if _, err := config.Load("services.yaml", root); err != nil {
		t.Fatalf("the forced manifest does not load: %v", err)
	}
}

// TestFixtures checks what init finds in the fixture monorepos of testdata/, shaped like two
// public repositories nobody here wrote, service by service.
func TestFixtures(t *testing.T) {
	type want struct {
		libs, dependsOn, populate, migrate, serve []string
		port                                      int
		check, health, dbEnv, dbUnit              string
		backing                                   []string
		worker                                    []string
	}
	django := func(svc string, port int, health string) want {
		return want{libs: []string{"common"}, port: port, check: config.CheckHTTP, health: health, dbUnit: "sqlite",
			serve:    []string{"python", "-m", "gunicorn", svc + "_service.wsgi:application", "--bind", "${HOST}:${PORT}", "--workers", "2"},
			populate: []string{}}
	}
	orders := django("orders", 8002, "/health/")
	orders.dependsOn, orders.backing = []string{"catalog"}, []string{"redis"}
	orders.worker = []string{"python", "-m", "celery", "-A", "orders_service", "worker", "--loglevel", "info"}
	users := django("users", 8000, "/healthz")
	users.populate = nil // its populate command, which the populate gate runs after migrate
	alembic := []string{"python", "-m", "alembic", "upgrade", "head"}
	uvicorn := func(app string) []string {
		return []string{"python", "-m", "uvicorn", app, "--host", "${HOST}", "--port", "${PORT}"}
	}
	tests := map[string]map[string]want{
		"adopt-django": {"catalog": django("catalog", 8001, "/healthz"), "orders": orders, "users": users},
		"adopt-fastapi": {
			"gateway": {dependsOn: []string{"items", "users"}, populate: []string{}, migrate: []string{}, serve: uvicorn("gateway.main:app"),
				port: 8080, check: config.CheckTCP, dbUnit: "sqlite"},
			"items": {libs: []string{"libs/dbkit"}, populate: []string{}, migrate: alembic, serve: uvicorn("app.main:app"), port: 8002,
				check: config.CheckHTTP, health: "/health", dbEnv: "SQLALCHEMY_DATABASE_URI", dbUnit: "none"},
			"users": {libs: []string{"libs/dbkit"}, populate: []string{}, migrate: alembic, serve: uvicorn("app.main:app"), port: 8000,
				check: config.CheckHTTP, health: "/health", dbUnit: "none"},
		},
	}
	for fixture, services := range tests {
		t.Run(fixture, func(t *testing.T) {
			root, _ := filepath.Abs(filepath.Join("..", "testdata", fixture))
			cfg, text := generated(t, root)
			if len(cfg.Services) != len(services) {
				t.Fatalf("%d services, want %d:\n%s", len(cfg.Services), len(services), text)
			}
			if cfg.Defaults.Tools.Requirements != "requirements-dev.txt" || cfg.Defaults.LintMode != config.LintWarn {
				t.Errorf("defaults = %+v, want the root's tools and lint_mode warn", cfg.Defaults)
			}
			if !strings.Contains(text, "Found .env: never read") || cfg.Integration.Requirements != "tests/integration/requirements.txt" {
				t.Errorf("no note of the .env file, or no integration suite:\n%s", text)
			}
			for name, w := range services {
				s := cfg.Service(name)
				if s == nil {
					t.Fatalf("no service %s:\n%s", name, text)
				}
				var worker []string
				for _, p := range s.Processes {
					worker = p.Command
				}
				for _, c := range []struct {
					key       string
					got, want any
				}{
					{"libs", libPaths(s), w.libs}, {"depends_on", orNil(s.DependsOn), w.dependsOn}, {"populate", s.Populate, w.populate},
					{"migrate", s.Migrate, w.migrate}, {"serve", s.Serve, w.serve}, {"port", s.Port, w.port},
					{"health", s.Check + " " + s.Health, w.check + " " + w.health}, {"database.env", s.Database.Env, cmp.Or(w.dbEnv, "DATABASE_URL")},
					{"database.unit", s.Database.Unit, w.dbUnit}, {"backing", orNil(s.Backing), w.backing}, {"worker", worker, w.worker},
					{"unit", s.Unit, []string(nil)},
				} {
					if !equal(c.got, c.want) {
						t.Errorf("%s %s = %#v, want %#v", name, c.key, c.got, c.want)
					}
				}
			}
		})
	}
}

// orNil is list, nil when empty (lists whose empty value means nothing).
func orNil(list []string) []string {
	if len(list) == 0 {
		return nil
	}
	return list
}
