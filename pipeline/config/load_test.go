package config

import (
	"bytes"
	"errors"
	"maps"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/convoy-ci/convoy/python"
)

// repo makes a repository with the given files (path → content; a trailing / makes a dir).
func repo(t testing.TB, files map[string]string) string {
	t.Helper()
	root := t.TempDir()
	for p, content := range files {
		full := filepath.Join(root, filepath.FromSlash(p))
		if strings.HasSuffix(p, "/") {
			if err := os.MkdirAll(full, 0o755); err != nil {
				t.Fatal(err)
			}
			continue
		}
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return root
}

var baseFiles = map[string]string{
	"services/a/requirements.txt":        "django\n",
	"services/b/requirements.txt":        "django\n",
	"services/c/Pipfile":                 "[packages]\n",
	"libs/kit/":                          "",
	"tests/integration/requirements.txt": "pytest\n",
}

func TestLoadValid(t *testing.T) {
	root := repo(t, baseFiles)
	manifest := `version: 1
defaults:
  python: "3.12"
  timeout: 2m
  env: {JWT_SECRET: s, DEBUG: 1}
  unit: [python, -m, pytest]
services:
  - name: a
    path: services/a
    libs: [libs/kit]
    env: {DEBUG: "0"}
  - name: b
    path: ./services/b/
    depends_on: [a]
    timeout: 30s
    unit: [python, manage.py, test]
  - name: c
    path: services/c
    deps: pipenv
    depends_on: [b, a]
    serve: [gunicorn, "${HOST}:${PORT}"]
    port: 9000
    health: /ready
integration:
  requirements: tests/integration/requirements.txt
  command: [python, -m, pytest, tests/integration]
  timeout: 5m
release:
  tag_pattern: '^v[0-9]+$'
`
	cfg, err := Parse([]byte(manifest), "services.yaml", root)
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	a, b, c := cfg.Service("a"), cfg.Service("b"), cfg.Service("c")
	if a.Python != "3.12" || a.Timeout != 2*time.Minute || a.Deps != DefaultDeps {
		t.Errorf("a did not inherit defaults: %+v", a)
	}
	if a.Env["DEBUG"] != "0" || a.Env["JWT_SECRET"] != "s" || b.Env["DEBUG"] != "1" {
		t.Errorf("env not merged: a=%v b=%v", a.Env, b.Env)
	}
	if b.Path != "services/b" || b.Dir != filepath.Join(root, "services", "b") {
		t.Errorf("b path not cleaned: %q %q", b.Path, b.Dir)
	}
	if strings.Join(a.Unit, " ") != "python -m pytest" || strings.Join(b.Unit, " ") != "python manage.py test" {
		t.Errorf("unit overrides: a=%v b=%v", a.Unit, b.Unit)
	}
	if b.Timeout != 30*time.Second || c.Port != 9000 || c.Health != "/ready" || a.Port != DefaultPort || a.Health != DefaultHealth {
		t.Errorf("per-service values: b=%v c=%d %s", b.Timeout, c.Port, c.Health)
	}
	var order []string
	for _, s := range cfg.StartOrder() {
		order = append(order, s.Name)
	}
	if got := strings.Join(order, ","); got != "a,b,c" {
		t.Errorf("StartOrder = %s, want a,b,c", got)
	}
	if cfg.Integration.Timeout != 5*time.Minute || cfg.Release.TagPattern != "^v[0-9]+$" {
		t.Errorf("integration/release: %+v %+v", cfg.Integration, cfg.Release)
	}
}

// TestLoadProblems checks every kind of validation error: its position and its message.
// layoutFiles are an OCI image layout at layout/ whose only image is tagged python (its blobs
// are not there: load reads the index only).
var layoutFiles = map[string]string{
	"layout/oci-layout": `{"imageLayoutVersion": "1.0.0"}`,
	"layout/index.json": `{"schemaVersion": 2, "manifests": [{"mediaType": "application/vnd.oci.image.manifest.v1+json",
		"digest": "sha256:` + strings.Repeat("ab", 32) + `", "size": 1, "annotations": {"org.opencontainers.image.ref.name": "python"}}]}`,
	"empty/":   "",
	"base.tar": "",
}

func TestLoadProblems(t *testing.T) {
	files := map[string]string{"outside/": "", "other/kit/": ""}
	for k, v := range baseFiles {
		files[k] = v
	}
	tests := []struct {
		name     string
		manifest string
		want     []string // "LINE:COL: substring", in order
	}{
		{"empty file", ``, []string{"1:1: the file is empty"}},
		{"second document", "version: 1\nservices: []\n---\nservices: [{name: x}]\n", []string{"3:1: a second YAML document"}},
		{"python path", "version: 1\ndefaults:\n  python: \"3.11/../../x\"\nservices: []\n", []string{`3:11: python "3.11/../../x": expected a version like "3.11"`, "4:11: services is empty"}},
		{"python command", "version: 1\nservices:\n  - {name: a, path: services/a, python: \"3.11; touch x\"}\n", []string{`3:41: python "3.11; touch x"`}},
		{"python empty", "version: 1\ndefaults: {python: \"\"}\nservices: []\n", []string{`2:20: python "": expected a version`, "3:11: services is empty"}},
		{"syntax error", "version: 1\nservices: [a\n", []string{":1: invalid YAML"}},
		{"base reference", "version: 1\nservices: [{name: a, path: services/a, base: \"Python:3.11\"}]\n",
			[]string{`2:46: base: parsing base image "Python:3.11"`}},
		{"top level not a mapping", "- a\n", []string{"1:1: the top level must be a mapping"}},
		{"missing version and services", "defaults: {}\n", []string{
			`1:1: missing key "version"`, `1:1: missing key "services"`}},
		{"wrong version", "version: 2\nservices: [{name: a, path: services/a}]\n", []string{"1:10: unsupported version 2 (expected 1)"}},
		{"version not an integer", "version: one\nservices: [{name: a, path: services/a}]\n", []string{`1:10: expected an integer, not the scalar "one"`}},
		{"unknown top-level key", "version: 1\nservicez: []\nservices: [{name: a, path: services/a}]\n", []string{
			`2:1: unknown key "servicez" in the top level (expected one of: defaults, integration, release, services, template, version)`}},
		{"duplicate key", "version: 1\nversion: 1\nservices: [{name: a, path: services/a}]\n", []string{`2:1: duplicate key "version" in the top level (first set at line 1)`}},
		{"template missing", "version: 1\ntemplate: templates/svc\nservices: [{name: a, path: services/a}]\n", []string{
			`2:11: template "templates/svc" does not exist (expected an existing path inside the repository)`}},
		{"template outside", "version: 1\ntemplate: ../x\nservices: [{name: a, path: services/a}]\n", []string{
			`2:11: template "../x" escapes the repository`}},
		{"unknown service key", `version: 1
services:
  - name: a
    path: services/a
    dependson: [b]
`, []string{`5:5: unknown key "dependson" in a service (expected one of: backing, base, `}},
		{"wrong types", `version: 1
defaults:
  timeout: soon
  env: [A]
services:
  - name: a
    path: services/a
    unit: "pytest -q"
    lint: []
    libs: libs/kit
    port: 70000
    health: healthz
    depends_on: a
`, []string{
			`3:12: timeout "soon" is not a positive duration`,
			`4:8: env must be a mapping of NAME: value, not a list`,
			`8:11: unit must be an argv list, not the string "pytest -q"`,
			`9:11: lint must not be empty`,
			`10:11: libs must be a list of paths, not the scalar "libs/kit"`,
			`11:11: port 70000 is out of range (expected 1-65535)`,
			`12:13: health "healthz" is not an HTTP path`,
			`13:17: depends_on must be a list of service names`,
		}},
		{"bad env name and value", `version: 1
services:
  - name: a
    path: services/a
    env:
      1BAD: x
      GOOD: {nested: 1}
`, []string{`6:7: env: "1BAD" is not a valid variable name`, `7:13: env: value of GOOD must be a string, not a mapping`}},
		{"names", `version: 1
services:
  - name: Auth_Service
    path: services/a
  - name: b
    path: services/b
  - name: b
    path: services/a
  - path: services/a
  - name: user__service
    path: services/a
  - name: user_service
    path: services/a
  - name: user-service
    path: services/b
  - name: _x
    path: services/a
`, []string{
			`3:11: service name "Auth_Service" is not a DNS label`,
			`7:11: duplicate service name "b" (first defined at line 5)`,
			`9:5: service has no name`,
			`10:11: service name "user__service" is not a DNS label`,
			`14:11: service names "user-service" and "user_service" (line 12) are both "user-service" as hostnames`,
			`16:11: service name "_x" is not a DNS label`,
		}},
		{"paths", `version: 1
services:
  - name: a
    path: ../outside
  - name: b
    path: /etc
  - name: c
    path: services/missing
  - name: d
    path: services/a/requirements.txt
  - name: e
    path: services/a
    libs: [libs/nope, ../outside]
  - name: f
    deps: pip
`, []string{
			`4:11: path "../outside" escapes the repository`,
			`6:11: path "/etc" is absolute`,
			`8:11: path "services/missing" does not exist`,
			`10:11: path "services/a/requirements.txt" is a file (expected a directory)`,
			`13:12: lib "libs/nope" does not exist`,
			`13:23: lib "../outside" escapes the repository`,
			`14:5: service "f" has no path`,
		}},
		{"symlink escaping the repo", `version: 1
services:
  - name: a
    path: services/link
`, []string{`4:11: path "services/link" resolves outside the repository through a symlink`}},
		{"deps tool and spec", `version: 1
services:
  - name: a
    path: services/a
    deps: conda
  - name: c
    path: services/c
  - name: b
    path: services/b
    deps: pipenv
`, []string{
			`5:11: unknown dependency tool "conda" (expected one of ` + strings.Join(python.ToolNames(), ", ") + `)`,
			`7:11: service "c" uses deps pip but services/c has no requirements.txt`,
			`10:11: service "b" uses deps pipenv but services/b has no Pipfile`,
		}},
		{"unknown depends_on and self", `version: 1
services:
  - name: a
    path: services/a
    depends_on: [a, ghost]
`, []string{
			`5:18: service "a" depends on itself`,
			`5:21: depends_on names unknown service "ghost" (expected one of: a)`,
		}},
		{"depends_on a shadow service, shadow not a bool", `version: 1
services:
  - name: a
    path: services/a
    shadow: true
  - name: b
    path: services/b
    depends_on: [a]
    shadow: yes please
`, []string{
			`8:18: service "b" depends on shadow service "a" (expected no depends_on on a shadow service`,
			`9:13: shadow must be true or false, not the scalar "yes please"`,
		}},
		{"cycle", `version: 1
services:
  - name: a
    path: services/a
    depends_on: [b]
  - name: b
    path: services/b
    depends_on: [c]
  - name: c
    path: services/c
    deps: pipenv
    depends_on: [a]
`, []string{`12:18: dependency cycle: a -> b -> c -> a`}},
		{"integration and release", `version: 1
services: [{name: a, path: services/a}]
integration:
  command: pytest
  requirements: tests/nope.txt
  postgres: [x]
release:
  tag_pattern: 'v[0-9'
  owner: qa
`, []string{
			`4:12: command must be an argv list, not the string "pytest"`,
			`5:17: requirements "tests/nope.txt" does not exist`,
			`6:13: postgres must be a string, not a list`,
			"8:16: tag_pattern \"v[0-9\" is not a valid regular expression",
			`9:3: unknown key "owner" in release (expected one of: registry, tag_pattern)`,
		}},
		{"empty services", "version: 1\nservices: []\n", []string{"2:11: services is empty"}},
		{"integration without command or requirements", `version: 1
services: [{name: a, path: services/a}]
integration:
  env: {JWT: x}
`, []string{
			`3:1: integration has no command (expected command:`,
			`3:1: integration has no requirements (expected requirements:`,
		}},
		{"postgres_image not a reference", `version: 1
services: [{name: a, path: services/a}]
integration: {command: [pytest], requirements: tests/integration/requirements.txt, postgres_image: "Postgres:16!"}
`, []string{`3:100: postgres_image: parsing base image "Postgres:16!"`}},
		{"postgres_image layout missing", `version: 1
services: [{name: a, path: services/a}]
integration: {command: [pytest], requirements: tests/integration/requirements.txt, postgres_image: "oci-layout:images/pg:postgres"}
`, []string{`3:100: postgres_image: image "oci-layout:images/pg:postgres": stat `}},
		{"integration with requirements missing", `version: 1
services: [{name: a, path: services/a}]
integration: {command: [pytest], requirements: tests/gone.txt}
`, []string{`3:48: requirements "tests/gone.txt" does not exist`}},
		{"integration empty", `version: 1
services: [{name: a, path: services/a}]
integration: {}
`, []string{`3:1: integration has no command`, `3:1: integration has no requirements`}},
		{"image", `version: 1
defaults:
  image: [env]
services:
  - name: a
    path: services/a
    image:
      env: {1BAD: x, OK: [1]}
      include: ["", "!tests", ../up, "[", /abs, tests]
      secrets: {}
  - name: b
    path: services/b
    image: {include: tests/}
`, []string{
			`3:10: image must be a mapping, not a list`,
			`8:13: image.env: "1BAD" is not a valid variable name`,
			`8:26: image.env: value of OK must be a string, not a list`,
			`9:17: image.include: empty pattern`,
			`9:21: image.include: pattern "!tests" starts with !`,
			`9:31: image.include: pattern "../up" leaves the directory`,
			`9:38: image.include: pattern "[" is not a valid pattern`,
			`9:43: image.include: pattern "/abs" leaves the directory`,
			`10:7: unknown key "secrets" in image (expected one of: env, include)`,
			`13:22: image.include must be a list of strings, not the scalar "tests/"`,
		}},
		{"libs", `version: 1
services:
  - name: a
    path: services/a
    libs: [libs/kit, other/kit, .]
`, []string{
			`5:22: libs "libs/kit" and "other/kit" have the same directory name "kit"`,
			`5:33: lib "." is the repository root`,
		}},
		{"tools", `version: 1
defaults:
  tools: {requirements: nope.txt, packages: [pytest, "-r x.txt", ""]}
services:
  - name: a
    path: services/a
    tools: {requirements: libs/kit, pkgs: []}
`, []string{
			`3:25: tools.requirements "nope.txt" does not exist`,
			`3:54: tools.packages: "-r x.txt" is not a requirement`,
			`3:66: tools.packages: "" is not a requirement`,
			`7:27: tools.requirements "libs/kit" is a directory`,
			`7:37: unknown key "pkgs" in tools (expected one of: packages, requirements)`,
		}},
		{"lint_mode", `version: 1
defaults: {lint_mode: lax}
services:
  - {name: a, path: services/a, lint_mode: [warn]}
`, []string{
			`2:23: unknown lint_mode "lax" (expected fail or warn)`,
			`4:44: lint_mode must be a string, not a list`,
		}},
		{"env convoy owns", `version: 1
integration:
  env: {PORT: "1", JWT: x, DB_URL: y}
  command: [pytest]
  requirements: tests/integration/requirements.txt
defaults:
  env: {PYTHONPATH: /x, DATABASE_URL: "sqlite://", OK: "1"}
  database: {env: DB_URL, unit: memory}
services:
  - name: a
    path: services/a
    env: {DB_URL: y, VIRTUAL_ENV: /v, DATABASE_URL: z}
  - name: b
    path: services/b
    database: {env: "1X"}
`, []string{
			`3:9: integration.env: PORT is set by convoy`,
			`3:28: integration.env: DB_URL is set by convoy`,
			`7:9: env: PYTHONPATH is set by convoy`,
			`8:33: unknown database.unit "memory" (expected sqlite or none)`,
			`12:11: env: DB_URL is set by convoy`,
			`12:22: env: VIRTUAL_ENV is set by convoy`,
			`15:21: database.env "1X" is not a valid variable name`,
		}},
	}
	root := repo(t, files)
	if err := os.Symlink(t.TempDir(), filepath.Join(root, "services", "link")); err != nil {
		t.Fatal(err)
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse([]byte(tt.manifest), "services.yaml", root)
			var ce *Error
			if !errors.As(err, &ce) {
				t.Fatalf("Parse error = %v, want *Error", err)
			}
			if len(ce.Problems) != len(tt.want) {
				t.Fatalf("got %d problems, want %d:\n%v", len(ce.Problems), len(tt.want), err)
			}
			for i, want := range tt.want {
				got := ce.Problems[i].String()
				if !strings.HasPrefix(got, "services.yaml:") || !strings.Contains(got, want) {
					t.Errorf("problem %d = %q, want it to contain %q", i, got, want)
				}
			}
		})
	}
}

// TestLoadImage: image: of defaults and of a service merge (env key by key, include replaced),
// and stay apart from the stage env.
func TestLoadImage(t *testing.T) {
	root := repo(t, baseFiles)
	manifest := `version: 1
defaults:
  env: {JWT_SECRET: dev-secret}
  image:
    env: {LOG_LEVEL: info, TZ: UTC}
    include: [tests/]
services:
  - name: a
    path: services/a
    env: {DJANGO_SETTINGS_MODULE: a.settings}
    image:
      env: {LOG_LEVEL: debug}
      include: []
  - name: b
    path: services/b
`
	cfg, err := Parse([]byte(manifest), "services.yaml", root)
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	a, b := cfg.Service("a"), cfg.Service("b")
	for _, tc := range []struct {
		what      string
		got, want any
	}{
		{"a image.env", a.Image.Env, map[string]string{"LOG_LEVEL": "debug", "TZ": "UTC"}},
		{"a image.include", a.Image.Include, []string{}},
		{"b image.env", b.Image.Env, map[string]string{"LOG_LEVEL": "info", "TZ": "UTC"}},
		{"b image.include", b.Image.Include, []string{"tests"}},
		{"a env", a.Env, map[string]string{"JWT_SECRET": "dev-secret", "DJANGO_SETTINGS_MODULE": "a.settings"}},
		{"defaults image.env", cfg.Defaults.Image.Env, map[string]string{"LOG_LEVEL": "info", "TZ": "UTC"}},
	} {
		if !reflect.DeepEqual(tc.got, tc.want) {
			t.Errorf("%s = %#v, want %#v", tc.what, tc.got, tc.want)
		}
	}
}

// TestLoadLibs: a lib holding __init__.py is a package, imported from its parent — the repository
// root for a package at the top — and a project is imported from itself.
func TestLoadLibs(t *testing.T) {
	root := repo(t, map[string]string{
		"services/a/requirements.txt": "",
		"libs/kit/kit/__init__.py":    "",
		"libs/shared/__init__.py":     "",
		"common/__init__.py":          "",
	})
	manifest := "version: 1\nservices: [{name: a, path: services/a, libs: [libs/kit, libs/shared, common/]}]\n"
	cfg, err := Parse([]byte(manifest), "services.yaml", root)
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	a := cfg.Service("a")
	want := []Lib{
		{Path: "libs/kit", Dir: filepath.Join(root, "libs", "kit")},
		{Path: "libs/shared", Dir: filepath.Join(root, "libs", "shared"), Package: true},
		{Path: "common", Dir: filepath.Join(root, "common"), Package: true},
	}
	if !reflect.DeepEqual(a.Libs, want) {
		t.Fatalf("libs = %+v, want %+v", a.Libs, want)
	}
	tests := []struct {
		lib             Lib
		host, container string
	}{
		{want[0], filepath.Join(root, "libs", "kit"), "/app/libs/kit"},
		{want[1], filepath.Join(root, "libs"), "/app/libs"},
		{want[2], root, "/app/libs"},
	}
	for _, tt := range tests {
		if got := tt.lib.ImportRoot(tt.lib.Dir); got != tt.host {
			t.Errorf("%s: host import root %q, want %q", tt.lib.Path, got, tt.host)
		}
		if got := tt.lib.ImportRoot("/app/libs/" + tt.lib.Name()); got != tt.container {
			t.Errorf("%s: container import root %q, want %q", tt.lib.Path, got, tt.container)
		}
	}
	got := a.ImportRoots(func(l Lib) string { return "/app/libs/" + l.Name() })
	if !reflect.DeepEqual(got, []string{"/app/libs/kit", "/app/libs"}) {
		t.Errorf("ImportRoots in a container = %q, want /app/libs/kit and /app/libs once", got)
	}
}

func TestLoadFile(t *testing.T) {
	root := repo(t, map[string]string{
		"services/a/requirements.txt": "",
		"ci/other.yaml":               "version: 1\nservices:\n  - name: a\n    path: services/a\n",
	})
	cfg, err := Load("ci/other.yaml", root)
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	if cfg.File != "ci/other.yaml" || cfg.Root != root || len(cfg.Services) != 1 {
		t.Errorf("Load = %+v", cfg)
	}
	if _, err := Load("missing.yaml", root); err == nil || !strings.Contains(err.Error(), "missing.yaml") {
		t.Errorf("Load(missing) error = %v, want it to name the file", err)
	}
	if _, err := Load("services.yaml", filepath.Join(root, "nope")); err == nil || !strings.Contains(err.Error(), "not a directory") {
		t.Errorf("Load(bad root) error = %v", err)
	}
}

// TestLoadInstaller: uv is the default; defaults: and a service may name pip (or uv), the
// service's winning; anything else is an error at its file:line:col.
func TestLoadInstaller(t *testing.T) {
	root := repo(t, baseFiles)
	cfg, err := Parse([]byte(`version: 1
defaults: {installer: pip}
services:
  - {name: a, path: services/a}
  - {name: b, path: services/b, installer: uv}
`), "services.yaml", root)
	if err != nil {
		t.Fatal(err)
	}
	if got := []string{cfg.Defaults.Installer, cfg.Service("a").Installer, cfg.Service("b").Installer}; !reflect.DeepEqual(got, []string{"pip", "pip", "uv"}) {
		t.Errorf("installers (defaults, a, b) = %v, want [pip pip uv]", got)
	}
	cfg, err = Parse([]byte("version: 1\nservices: [{name: a, path: services/a}]\n"), "services.yaml", root)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Service("a").Installer != InstallerUV {
		t.Errorf("default installer = %q, want uv", cfg.Service("a").Installer)
	}
	_, err = Parse([]byte(`version: 1
defaults:
  installer: poetry
services:
  - name: a
    path: services/a
    installer: [uv]
  - name: b
    path: services/b
    installer: ""
`), "services.yaml", root)
	var ce *Error
	if !errors.As(err, &ce) {
		t.Fatalf("err = %v, want a config error", err)
	}
	var got []string
	for _, p := range ce.Problems {
		got = append(got, p.String())
	}
	want := []string{
		`services.yaml:3:14: unknown installer "poetry" (expected uv or pip)`,
		`services.yaml:7:16: installer must be a string`,
		`services.yaml:10:16: unknown installer "" (expected uv or pip)`,
	}
	for i, w := range want {
		if i >= len(got) || !strings.HasPrefix(got[i], w) {
			t.Errorf("problems = %q\nwant prefixes %q", got, want)
			break
		}
	}
}

// TestLoadIntegrationSteps: migrate, prestart and populate are argv lists where [] means none;
// a service's keys override the defaults'; a string is refused with its position.
func TestLoadIntegrationSteps(t *testing.T) {
	root := repo(t, baseFiles)
	cfg, err := Parse([]byte(`version: 1
defaults: {migrate: [alembic, upgrade, head]}
services:
  - {name: a, path: services/a, populate: [], prestart: [python, -m, warmup]}
  - {name: b, path: services/b, migrate: []}
`), "services.yaml", root)
	if err != nil {
		t.Fatal(err)
	}
	a, b := cfg.Service("a"), cfg.Service("b")
	for _, tt := range []struct {
		what      string
		got, want []string
	}{
		{"a migrate", a.Migrate, []string{"alembic", "upgrade", "head"}},
		{"a populate", a.Populate, []string{}},
		{"a prestart", a.Prestart, []string{"python", "-m", "warmup"}},
		{"b migrate", b.Migrate, []string{}},
	} {
		if tt.got == nil || !reflect.DeepEqual(tt.got, tt.want) {
			t.Errorf("%s = %#v, want %#v", tt.what, tt.got, tt.want)
		}
	}
	if b.Populate != nil || b.Prestart != nil {
		t.Errorf("b populate %#v, prestart %#v: want nil (the presets)", b.Populate, b.Prestart)
	}
	_, err = Parse([]byte("version: 1\nservices:\n  - {name: a, path: services/a, migrate: \"alembic upgrade head\"}\n"), "services.yaml", root)
	var ce *Error
	if !errors.As(err, &ce) || len(ce.Problems) != 1 || !strings.HasPrefix(ce.Problems[0].String(), "services.yaml:3:42: migrate must be an argv list") {
		t.Errorf("err = %v, want services.yaml:3:42: migrate must be an argv list", err)
	}
}

// TestServiceProject: a loaded service is located by the repository root and its path; one
// built by hand without a path is its own root.
func TestServiceProject(t *testing.T) {
	root := filepath.Join(t.TempDir(), "repo")
	for _, tt := range []struct {
		svc  Service
		want python.Project
	}{
		{Service{Name: "a", Path: "services/a", Dir: filepath.Join(root, "services", "a")}, python.Project{Root: root, Dir: "services/a", Name: "a"}},
		{Service{Name: "b", Dir: filepath.Join(root, "b")}, python.Project{Root: filepath.Join(root, "b"), Dir: ".", Name: "b"}},
		{Service{Name: "c", Path: ".", Dir: root}, python.Project{Root: root, Dir: ".", Name: "c"}},
	} {
		if got := tt.svc.Project(); got != tt.want {
			t.Errorf("%s: Project() = %+v, want %+v", tt.svc.Name, got, tt.want)
		}
	}
}

// TestUnderscoreServiceName: a directory-style name is a service name; it is its own image
// name, and a hostname with '-' for '_'.
func TestUnderscoreServiceName(t *testing.T) {
	root := repo(t, baseFiles)
	cfg, err := Parse([]byte("version: 1\nservices: [{name: user_service, path: services/a}, {name: b-2, path: services/b}]\n"), "services.yaml", root)
	if err != nil {
		t.Fatal(err)
	}
	if got := cfg.Service("user_service").DNSName(); got != "user-service" {
		t.Errorf("DNSName = %q, want user-service", got)
	}
	if got := cfg.Service("b-2").DNSName(); got != "b-2" {
		t.Errorf("DNSName = %q, want b-2", got)
	}
}

// TestLoadDatabase: database: of defaults and of a service merge key by key over convoy's
// defaults (DATABASE_URL, a SQLite file for the unit stage).
func TestLoadDatabase(t *testing.T) {
	root := repo(t, baseFiles)
	manifest := `version: 1
defaults:
  database: {env: DB_URL}
services:
  - name: a
    path: services/a
  - name: b
    path: services/b
    database: {unit: none}
`
	cfg, err := Parse([]byte(manifest), "services.yaml", root)
	if err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]Database{
		"a": {Env: "DB_URL", Unit: DatabaseSQLite},
		"b": {Env: "DB_URL", Unit: DatabaseNone},
	} {
		if got := cfg.Service(name).Database; got != want {
			t.Errorf("%s: Database = %+v, want %+v", name, got, want)
		}
	}
	cfg, err = Parse([]byte("version: 1\nservices: [{name: a, path: services/a}]\n"), "services.yaml", root)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := cfg.Service("a").Database, (Database{Env: DefaultDatabaseEnv, Unit: DatabaseSQLite}); got != want {
		t.Errorf("default Database = %+v, want %+v", got, want)
	}
}

// TestLoadTools: a service takes defaults.tools unless it has tools: of its own ({} for none).
func TestLoadTools(t *testing.T) {
	files := map[string]string{"requirements-dev.txt": "flake8\n"}
	for k, v := range baseFiles {
		files[k] = v
	}
	root := repo(t, files)
	manifest := `version: 1
defaults:
  tools: {requirements: ./requirements-dev.txt, packages: [pytest]}
services:
  - {name: a, path: services/a}
  - {name: b, path: services/b, tools: {packages: [flake8==7.1.1]}}
  - {name: c, path: services/c, deps: pipenv, tools: {}}
`
	cfg, err := Parse([]byte(manifest), "services.yaml", root)
	if err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]Tools{
		"a": {Requirements: "requirements-dev.txt", Packages: []string{"pytest"}},
		"b": {Packages: []string{"flake8==7.1.1"}},
		"c": {},
	} {
		if got := cfg.Service(name).Tools; !reflect.DeepEqual(got, want) {
			t.Errorf("%s: Tools = %+v, want %+v", name, got, want)
		}
	}
}

// TestNeedIntegration: a manifest without integration: loads (gate, build and plan accept it),
// and the commands that run integration are refused at its top; one with a block passes.
func TestNeedIntegration(t *testing.T) {
	root := repo(t, baseFiles)
	without, err := Parse([]byte("version: 1\nservices: [{name: a, path: services/a}]\n"), "services.yaml", root)
	if err != nil {
		t.Fatalf("Parse without integration: %v", err)
	}
	var ce *Error
	if err := without.NeedIntegration(); !errors.As(err, &ce) || len(ce.Problems) != 1 ||
		!strings.HasPrefix(ce.Problems[0].String(), "services.yaml:1:1: no integration: block") {
		t.Errorf("NeedIntegration without a block = %v, want one problem at services.yaml:1:1", err)
	}
	with, err := Parse([]byte(`version: 1
services: [{name: a, path: services/a}]
integration: {command: [pytest], requirements: tests/integration/requirements.txt}
`), "services.yaml", root)
	if err != nil {
		t.Fatalf("Parse with integration: %v", err)
	}
	if err := with.NeedIntegration(); err != nil || with.Integration.Line != 3 {
		t.Errorf("NeedIntegration with a block = %v (line %d), want nil (line 3)", err, with.Integration.Line)
	}
}

// TestLoadRefusesSpecialFiles: a manifest that is a named pipe or a device is refused before it
// is opened (reading would block, or never end), and one over MaxManifestSize is not read whole.
func TestLoadRefusesSpecialFiles(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "fifo.yaml")
	if err := syscall.Mkfifo(fifo, 0o644); err != nil {
		t.Fatal(err)
	}
	big := filepath.Join(dir, "big.yaml")
	if err := os.WriteFile(big, bytes.Repeat([]byte("# padding\n"), MaxManifestSize/10+1), 0o644); err != nil {
		t.Fatal(err)
	}
	for file, want := range map[string]string{
		fifo:        "is not a regular file (it is a named pipe",
		"/dev/zero": "is not a regular file (it is a device",
		big:         "is larger than 1048576 bytes",
	} {
		_, err := Load(file, dir)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Load(%s) = %v, want an error saying %q", file, err, want)
		}
	}
}

// TestLoadPostgresImage: integration.postgres_image takes what base: takes — a registry
// reference, or an oci-layout: or docker-archive: path that exists (relative to the root).
func TestLoadPostgresImage(t *testing.T) {
	files := maps.Clone(baseFiles)
	files["images/pg/"] = ""
	root := repo(t, files)
	for _, ref := range []string{"postgres:16", "registry.example:5000/pg@sha256:" + strings.Repeat("a", 64), "oci-layout:images/pg:postgres", "oci-layout:" + filepath.Join(root, "images", "pg")} {
		manifest := "version: 1\nservices: [{name: a, path: services/a}]\nintegration: {command: [pytest], requirements: tests/integration/requirements.txt, postgres_image: \"" + ref + "\"}\n"
		cfg, err := Parse([]byte(manifest), "services.yaml", root)
		if err != nil {
			t.Fatalf("%s: %v", ref, err)
		}
		if cfg.Integration.PostgresImage != ref {
			t.Errorf("postgres_image = %q, want %q", cfg.Integration.PostgresImage, ref)
		}
	}
}

// TestLoadBaseAccepted: a base that is what it says is accepted — a layout with the tag named, a
// layout's only image, a docker archive file, a registry reference (not contacted at load).
func TestLoadBaseAccepted(t *testing.T) {
	files := map[string]string{}
	for _, m := range []map[string]string{baseFiles, layoutFiles} {
		for k, v := range m {
			files[k] = v
		}
	}
	root := repo(t, files)
	for _, base := range []string{"oci-layout:layout:python", "oci-layout:layout", "oci-layout:" + filepath.Join(root, "layout"),
		"docker-archive:base.tar", "python:3.11-slim", "registry.invalid/team/python:3.11"} {
		m := "version: 1\nservices: [{name: a, path: services/a, base: \"" + base + "\"}]\n"
		cfg, err := Parse([]byte(m), "services.yaml", root)
		if err == nil {
			err = cfg.NeedImages(nil)
		}
		if err != nil {
			t.Errorf("base %q: %v", base, err)
			continue
		}
		if got := cfg.Service("a").Base; got != base {
			t.Errorf("base = %q, want %q", got, base)
		}
	}
}

// TestNeedImages: a base that does not name what it says on disk passes load (convoy gate needs
// no base) and is refused, at its line, by NeedImages — what the commands that build images
// check before any work.
func TestNeedImages(t *testing.T) {
	files := map[string]string{}
	for _, m := range []map[string]string{baseFiles, layoutFiles} {
		for k, v := range m {
			files[k] = v
		}
	}
	root := repo(t, files)
	tests := []struct {
		name     string
		manifest string
		want     []string // "LINE:COL: substring", in order
	}{
		{"base not a layout", "version: 1\ndefaults: {base: \"oci-layout:/etc\"}\nservices: [{name: a, path: services/a}]\n",
			[]string{`2:18: base "oci-layout:/etc" of service "a": "/etc" is not an OCI image layout`}},
		{"base layout missing", "version: 1\nservices: [{name: a, path: services/a, base: \"oci-layout:nosuch\"}]\n",
			[]string{`2:46: base "oci-layout:nosuch" of service "a": OCI layout "ROOT/nosuch" does not exist (expected a registry reference`}},
		{"base layout empty dir", "version: 1\nservices: [{name: a, path: services/a, base: \"oci-layout:empty:python\"}]\n",
			[]string{`is not an OCI image layout`}},
		{"base layout a file", "version: 1\nservices: [{name: a, path: services/a, base: \"oci-layout:base.tar\"}]\n",
			[]string{`base "oci-layout:base.tar" of service "a": OCI layout "ROOT/base.tar" is not a directory`}},
		{"base layout tag", "version: 1\nservices: [{name: a, path: services/a, base: \"oci-layout:layout:nope\"}]\n",
			[]string{`has no image tagged "nope" (it has ["python"])`}},
		{"base archive a dir", "version: 1\nservices: [{name: a, path: services/a, base: \"docker-archive:empty\"}]\n",
			[]string{`docker archive "ROOT/empty" is not a regular file (it is a directory)`}},
		{"base archive missing", "version: 1\nservices: [{name: a, path: services/a, base: \"docker-archive:nosuch.tar\"}]\n",
			[]string{`docker archive "ROOT/nosuch.tar" does not exist`}},
		{"no base", "version: 1\nservices:\n  - {name: a, path: services/a}\n",
			[]string{`3:1: service "a" has no base image (expected base: in defaults or the service`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := Parse([]byte(tt.manifest), "services.yaml", root)
			if err != nil {
				t.Fatalf("load refused a base it cannot check without building: %v", err)
			}
			var ce *Error
			if err := cfg.NeedImages(nil); !errors.As(err, &ce) {
				t.Fatalf("NeedImages = %v, want *Error", err)
			}
			if len(ce.Problems) != len(tt.want) {
				t.Fatalf("got %d problems, want %d:\n%v", len(ce.Problems), len(tt.want), ce)
			}
			for i, want := range tt.want {
				want = strings.ReplaceAll(want, "ROOT", root)
				if got := ce.Problems[i].String(); !strings.HasPrefix(got, "services.yaml:") || !strings.Contains(got, want) {
					t.Errorf("problem %d = %q, want it to contain %q", i, got, want)
				}
			}
			if err := cfg.NeedImages([]string{"other"}); err != nil {
				t.Errorf("NeedImages of no service with that base = %v, want nil", err)
			}
		})
	}
}
