package scaffold

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/convoy-ci/convoy/pipeline/config"
)

// writeRepo writes files (slash path → content) under a new temporary directory.
func writeRepo(t *testing.T, files map[string]string) string {
	t.Helper()
	root := t.TempDir()
	for p, content := range files {
		full := filepath.Join(root, filepath.FromSlash(p))
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return root
}

// snapshot is every file under root with its content.
func snapshot(t *testing.T, root string) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := os.ReadFile(p)
		rel, _ := filepath.Rel(root, p)
		out[filepath.ToSlash(rel)] = string(data)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

const manifest = `# The services.
version: 1

defaults:
  timeout: 5m   # every stage

services:
  # Login.
  - name: auth
    path: apps/auth
    deps: pipenv

  - name: events
    path: apps/events
    deps: pipenv

  - name: payments
    path: apps/payments

# What runs them all.
integration:
  requirements: tests/requirements.txt
  command: [python, -m, pytest]
`

// repo is a three-service repository: two pipenv services and one pip, under apps/.
func repo(t *testing.T, extra map[string]string) string {
	files := map[string]string{
		"services.yaml":                  manifest,
		"apps/auth/Pipfile":              "",
		"apps/events/Pipfile":            "",
		"apps/payments/requirements.txt": "",
		"tests/requirements.txt":         "",
	}
	for k, v := range extra {
		files[k] = v
	}
	return writeRepo(t, files)
}

func TestNewServiceBuiltin(t *testing.T) {
	root := repo(t, nil)
	created, err := NewService("services.yaml", root, "user-profile")
	if err != nil {
		t.Fatal(err)
	}
	if created.Path != "apps/user-profile" || created.Deps != "pipenv" || created.Module != "user_profile" {
		t.Errorf("created %+v, want apps/user-profile with pipenv (most services use it), module user_profile", created.Vars)
	}
	got, err := os.ReadFile(filepath.Join(root, "services.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	want := strings.Replace(manifest, "    path: apps/payments\n", "    path: apps/payments\n\n"+
		"  - name: user-profile\n    path: apps/user-profile\n    deps: pipenv\n"+
		"    serve: [python, -m, gunicorn, user_profile_service.wsgi, --bind, \"${HOST}:${PORT}\", --no-control-socket]\n"+
		"    port: 8000\n    health: /healthz\n    scenario: default\n", 1)
	if string(got) != want {
		t.Errorf("services.yaml =\n%s\nwant\n%s", got, want)
	}
	cfg, err := config.Load("services.yaml", root)
	if err != nil {
		t.Fatalf("the new manifest does not load: %v", err)
	}
	svc := cfg.Services[len(cfg.Services)-1]
	if svc.Name != "user-profile" || svc.Deps != "pipenv" || svc.Health != "/healthz" || svc.Scenario != "default" {
		t.Errorf("new service = %+v", svc)
	}
	files := snapshot(t, filepath.Join(root, "apps", "user-profile"))
	for _, f := range []string{"Pipfile", "manage.py", "setup.cfg", ".dockerignore", "populator/default.yaml",
		"user_profile_service/settings.py", "user_profile/management/commands/populate.py", "user_profile/tests/test_health.py"} {
		if _, ok := files[f]; !ok {
			t.Errorf("no %s among %v", f, reflect.ValueOf(files).MapKeys())
		}
	}
	if _, ok := files["requirements.txt"]; ok {
		t.Error("a pipenv service got pip's requirements.txt")
	}
	if s := files["user_profile_service/settings.py"]; !strings.Contains(s, `ROOT_URLCONF = "user_profile_service.urls"`) || !strings.Contains(s, `env="DATABASE_URL"`) {
		t.Errorf("settings.py not rendered:\n%s", s)
	}
	if s := files["user_profile/apps.py"]; !strings.Contains(s, "class UserProfileConfig(AppConfig)") {
		t.Errorf("apps.py not rendered:\n%s", s)
	}
	if st, err := os.Stat(filepath.Join(root, "apps", "user-profile", "manage.py")); err != nil || st.Mode().Perm()&0o100 == 0 {
		t.Errorf("manage.py is not executable (%v)", err)
	}
}

func TestNewServiceDepsFlag(t *testing.T) {
	root := repo(t, nil)
	if _, err := NewService("services.yaml", root, "billing", WithDeps("pip")); err != nil {
		t.Fatal(err)
	}
	files := snapshot(t, filepath.Join(root, "apps", "billing"))
	if _, ok := files["requirements-dev.txt"]; !ok {
		t.Errorf("--deps pip: no requirements-dev.txt in %v", reflect.ValueOf(files).MapKeys())
	}
	data, _ := os.ReadFile(filepath.Join(root, "services.yaml"))
	if strings.Contains(string(data), "path: apps/billing\n    deps:") {
		t.Errorf("the entry names pip, the manifest's default:\n%s", data)
	}
}

// TestNewServiceRefused checks that every refusal leaves the repository exactly as it was.
func TestNewServiceRefused(t *testing.T) {
	for _, tc := range []struct {
		name, service, deps, want string
		extra                     map[string]string
	}{
		{"existing name", "events", "", "services.yaml:13: a service named \"events\" exists already", nil},
		{"invalid name", "Bad_Name", "", "is not a DNS label", nil},
		{"digit first", "9lives", "", "starts with a digit", nil},
		{"existing directory", "billing", "", "apps/billing exists already", map[string]string{"apps/billing/notes.txt": "x"}},
		{"unknown tool", "billing", "conda", "--deps \"conda\" is not a dependency tool", nil},
		{"tool without built-in files", "billing", "poetry", "the built-in template has no poetry service", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			root := repo(t, tc.extra)
			before := snapshot(t, root)
			_, err := NewService("services.yaml", root, tc.service, WithDeps(tc.deps))
			var refused *RefusedError
			if !errors.As(err, &refused) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("NewService = %v, want a refusal saying %q", err, tc.want)
			}
			if after := snapshot(t, root); !reflect.DeepEqual(before, after) {
				t.Errorf("a refusal changed the repository: %v", after)
			}
		})
	}
}

// templateRepo is repo with template: tmpl and the template's files under tmpl/.
func templateRepo(t *testing.T, files map[string]string) string {
	extra := map[string]string{}
	for k, v := range files {
		extra["tmpl/"+k] = v
	}
	root := repo(t, extra)
	data := strings.Replace(manifest, "version: 1\n", "version: 1\ntemplate: tmpl\n", 1)
	if err := os.WriteFile(filepath.Join(root, "services.yaml"), []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
	return root
}

func TestNewServiceRepositoryTemplate(t *testing.T) {
	root := templateRepo(t, map[string]string{
		"service.yaml":                   "deps: {{cookiecutter.deps}}\nport: 9000\n",
		"Pipfile":                        "# {{cookiecutter.name}} on Python {{ cookiecutter.python }}\n",
		"{{cookiecutter.module}}/app.py": "NAME = \"{{cookiecutter.name}}\"  # in {{cookiecutter.path}}\n",
		"static/logo.bin":                "\xff\xfe{{cookiecutter.name}}",
	})
	if _, err := NewService("services.yaml", root, "user-profile"); err != nil {
		t.Fatal(err)
	}
	files := snapshot(t, filepath.Join(root, "apps", "user-profile"))
	want := map[string]string{
		"Pipfile":             "# user-profile on Python 3.11\n",
		"user_profile/app.py": "NAME = \"user-profile\"  # in apps/user-profile\n",
		"static/logo.bin":     "\xff\xfe{{cookiecutter.name}}",
	}
	if !reflect.DeepEqual(files, want) {
		t.Errorf("rendered %q, want %q", files, want)
	}
	cfg, err := config.Load("services.yaml", root)
	if err != nil {
		t.Fatal(err)
	}
	if svc := cfg.Services[len(cfg.Services)-1]; svc.Name != "user-profile" || svc.Port != 9000 || svc.Deps != "pipenv" {
		t.Errorf("new service = %+v, want port 9000 and pipenv from the template's service.yaml", svc)
	}
}

func TestNewServiceRepositoryTemplateRefused(t *testing.T) {
	for _, tc := range []struct {
		name  string
		files map[string]string
		want  string
	}{
		{"unknown variable", map[string]string{"service.yaml": "port: 9000\n", "Pipfile": "ok\n# {{cookiecutter.author}}\n"},
			"tmpl/Pipfile:2: unknown variable cookiecutter.author (expected one of cookiecutter.class"},
		{"invalid entry", map[string]string{"service.yaml": "portt: 9000\n", "Pipfile": ""},
			"services.yaml:23:5: unknown key \"portt\""},
		{"no spec for the tool", map[string]string{"service.yaml": "", "README": ""},
			"uses deps pip but apps/billing has no requirements.txt"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			root := templateRepo(t, tc.files)
			before := snapshot(t, root)
			_, err := NewService("services.yaml", root, "billing")
			var refused *RefusedError
			if !errors.As(err, &refused) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("NewService = %v, want a refusal saying %q", err, tc.want)
			}
			if after := snapshot(t, root); !reflect.DeepEqual(before, after) {
				t.Errorf("a refusal changed the repository: %v", after)
			}
		})
	}
}

func TestAppendService(t *testing.T) {
	v := Vars{Name: "b", Path: "svc/b"}
	for _, tc := range []struct{ name, in, want string }{
		{"last key, no final newline", "version: 1\nservices:\n- name: a\n  path: svc/a", "version: 1\nservices:\n- name: a\n  path: svc/a\n- name: b\n  path: svc/b\n  port: 1\n"},
		{"before a commented key",
			"services:\n    - name: a   # first\n      path: svc/a\n    # trailing note of a\n\n# release\nrelease: {}\n",
			"services:\n    - name: a   # first\n      path: svc/a\n    # trailing note of a\n    - name: b\n      path: svc/b\n      port: 1\n\n# release\nrelease: {}\n"},
		{"directly before the next key", "services:\n  - name: a\n    path: svc/a\nversion: 1\n",
			"services:\n  - name: a\n    path: svc/a\n  - name: b\n    path: svc/b\n    port: 1\n\nversion: 1\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := appendService([]byte(tc.in), v, "port: 1\n")
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != tc.want {
				t.Errorf("got\n%s\nwant\n%s", got, tc.want)
			}
		})
	}
	for _, in := range []string{"services: [{name: a, path: svc/a}]\n", "services: []\n", "version: 1\n", "- a\n"} {
		if _, err := appendService([]byte(in), v, ""); err == nil {
			t.Errorf("appendService(%q) = nil error, want a refusal", in)
		}
	}
}
