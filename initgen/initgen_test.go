package initgen

import (
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
		for _, d := range g.DependsOn {
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
		return slices.Equal(as, b.([]string))
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
