// Package config loads and validates services.yaml, the manifest of a convoy monorepo.
//
// Load reports every problem it finds, each with the file, line and column it concerns, so a
// user can fix the whole file in one pass. A Config that Load returns without error has been
// fully validated: names are unique DNS labels (underscores allowed, see Service.DNSName), paths exist inside the repository, depends_on
// names existing services and has no cycle, and defaults have been merged into every Service.
package config

import (
	"fmt"
	"slices"
	"time"

	"github.com/convoy-ci/convoy/image"
	"github.com/convoy-ci/convoy/python"
)

// FileName is the default manifest name at the repository root.
const FileName = "services.yaml"

// DefaultDeps is the dependency tool of services when neither defaults: nor a service names one.
// The deps key's values are python.ToolNames.
const DefaultDeps = python.Pip

// Installers a pip service's virtualenv may be created and filled with (installer key). Tools
// that install with their own program (pipenv) ignore it.
const (
	InstallerUV  = "uv"
	InstallerPip = "pip"
)

// DefaultInstaller is the installer of pip services when neither defaults: nor a service names
// one.
const DefaultInstaller = InstallerUV

// Values of database.unit: what the unit stage's database is.
const (
	// DatabaseSQLite gives the unit stage a fresh SQLite file of the service's own.
	DatabaseSQLite = "sqlite"
	// DatabaseNone gives it none: the variable is not set (tests that make their own).
	DatabaseNone = "none"
)

// Values of lint_mode: what the lint stage's violations do.
const (
	// LintFail fails the gate on any violation.
	LintFail = "fail"
	// LintWarn reports and counts every violation and passes the gate.
	LintWarn = "warn"
)

// DefaultDatabaseEnv is the variable convoy gives database URLs in when database.env names none.
const DefaultDatabaseEnv = "DATABASE_URL"

// ReservedEnv are the variables convoy sets in every gate stage (engine/local's environ and
// engine/dagger's translation set exactly these, besides LANG and the host's download
// settings): env: may not set them, nor the service's database variable (Database.Env).
var ReservedEnv = []string{"PATH", "HOME", "VIRTUAL_ENV", "PYTHONPATH", "PYTHONPYCACHEPREFIX",
	"PYTHONUNBUFFERED", "CONVOY_SERVICE", "CONVOY_STAGE", "PYTEST_ADDOPTS"}

// IntegrationEnv are the variables integration gives every service besides its database's and
// every service's <NAME>_URL: integration.env may not set them.
var IntegrationEnv = []string{"HOST", "PORT"}

// Defaults used when neither defaults: nor a service sets a value.
const (
	DefaultPython  = "3.11"
	DefaultTimeout = 10 * time.Minute
	DefaultPort    = 8000
	DefaultHealth  = "/healthz"
)

// Config is a loaded, validated services.yaml.
type Config struct {
	// File is the path of the manifest as given to Load (used in messages).
	File string
	// Root is the absolute path of the repository the manifest describes.
	Root string
	// Version is the manifest format version; only 1 exists.
	Version int
	// Defaults holds the values services inherit.
	Defaults Defaults
	// Services lists the services in file order, defaults already applied.
	Services []*Service
	// Integration configures the cross-service stage.
	Integration Integration
	// Release configures QA releases.
	Release Release
	// Template is the directory (relative to Root, slash-separated) convoy new service renders a
	// new service from; "" means convoy's built-in Django+DRF template.
	Template string

	// baseAt is where each base: value was first written, for NeedImages' messages.
	baseAt map[string]Problem
}

// Defaults is the defaults: block.
type Defaults struct {
	Python string
	Base   string
	Deps   string
	// Installer is InstallerUV or InstallerPip (see Service.Installer).
	Installer string
	Timeout   time.Duration
	// Env is the stage environment of every service (see Service.Env).
	Env      map[string]string
	Unit     []string
	Lint     []string
	Populate []string
	// Migrate and Prestart are every service's integration steps (see Service.Migrate).
	Migrate, Prestart []string
	// Image is what every service's image gets (see Service.Image).
	Image Image
	// Database is every service's (see Service.Database).
	Database Database
	// Tools are every service's (see Service.Tools).
	Tools Tools
	// LintMode is every service's (see Service.LintMode).
	LintMode string
}

// Tools is a tools: block: test and lint tools installed into a service's gate virtualenv on
// top of its own dependency spec, from where the repository keeps them.
type Tools struct {
	// Requirements is a requirements file relative to the repository root
	// (requirements-dev.txt at the root, say); "" for none.
	Requirements string
	// Packages are requirement specifiers (pytest, flake8==7.1.1).
	Packages []string
}

// Database is a database: block, of defaults: or of a service: how convoy hands the service its
// databases.
type Database struct {
	// Env is the variable a database's URL is given in: in the gates (a SQLite file) and in
	// integration (postgresql://…). DefaultDatabaseEnv when the manifest names none.
	Env string
	// Unit is the unit stage's database: DatabaseSQLite or DatabaseNone.
	Unit string
}

// Image is an image: block, of defaults: or of a service: what goes into a service's image
// besides its source, libs and dependencies.
type Image struct {
	// Env is the runtime environment baked into the image's config. It is never the stage
	// environment (env:), and never holds secrets: deployments pass those (docker run -e,
	// Kubernetes secrets), as integration passes integration.env.
	Env map[string]string
	// Include re-includes files the image leaves out as dev-only (image.DevOnly): patterns in
	// .dockerignore syntax, relative to the service's directory and to each lib's.
	Include []string
}

// Service is one entry of services:, with defaults merged in.
type Service struct {
	// Name is unique: a DNS label, or one with single underscores (user_service); DNSName is
	// it as a hostname.
	Name string
	// Path is the service directory relative to Config.Root, slash-separated.
	Path string
	// Dir is the absolute service directory.
	Dir string
	// Python is the interpreter version for the service's virtualenv.
	Python string
	// Base is the base image reference for the service's image.
	Base string
	// Deps is the dependency tool: one of python.ToolNames (see Tool).
	Deps string
	// Installer creates and fills the virtualenv of a service whose tool installs requirements
	// files (python.InstallOptions.Installer): InstallerUV (uv venv, then uv's pip interface) or
	// InstallerPip (python -m venv, then its pip). Tools with an installer of their own ignore
	// it.
	Installer string
	// Libs are the shared local directories the service imports, in manifest order.
	Libs []Lib
	// DependsOn names services that must be up before this one in integration.
	DependsOn []string
	// Env is the stage environment: defaults.env overlaid with the service's env. Every gate
	// stage gets it; images never do (see Image).
	Env map[string]string
	// Image is defaults.image with the service's image: applied: env merged key by key (the
	// service's win), include replaced when the service sets it.
	Image Image
	// Timeout bounds every stage of this service.
	Timeout time.Duration
	// Database is defaults.database with the service's database: applied key by key.
	Database Database
	// Tools are defaults.tools, or the service's tools: when it has one (tools: {} for none).
	// They are part of the virtualenv's key.
	Tools Tools
	// LintMode is LintFail (the default) or LintWarn: whether lint violations fail the gate or
	// are reported, counted, and let it pass.
	LintMode string
	// Unit, Lint and Populate are stage argv overrides; nil means the preset. An empty
	// Populate (populate: []) means the service has no populator: its populate stage runs
	// nothing and integration loads no scenario.
	Unit, Lint, Populate []string
	// Migrate is integration's first step, run in the service's image against its database; nil
	// means Django's (python manage.py migrate --noinput), empty (migrate: []) means none.
	Migrate []string
	// Prestart runs after the populator and before serve (empty: nothing), e.g. collectstatic.
	Prestart []string
	// Serve is the argv that starts the service; it may use ${HOST} and ${PORT}.
	Serve []string
	// Port is the port the service listens on inside its image.
	Port int
	// Check is how integration knows the service is up once serve started: CheckHTTP (GET
	// Health answers 2xx), CheckTCP, CheckCommand (CheckCommand exits 0) or CheckNone.
	Check string
	// Health is the HTTP path that answers 200 when the service is healthy; "" unless Check is
	// CheckHTTP (images then get no HEALTHCHECK).
	Health string
	// CheckCommand is the command of CheckCommand, run in the service's image with its
	// integration environment.
	CheckCommand []string
	// HealthTimeout bounds the wait for the check in integration (0: integration's default).
	HealthTimeout time.Duration
	// Backing names the backing services integration starts for the service (BackingKinds); it
	// gets <KIND>_URL and CELERY_BROKER_URL.
	Backing []string
	// Processes run in the service's image beside serve in integration, in manifest order.
	Processes []Process
	// Scenario is the populator scenario loaded for integration ("" = the populator's default).
	Scenario string
	// Shadow marks a service on its way in (the silent migration): gated, imaged and
	// integrated like any other, its failures reported as shadow failures, but they never fail
	// the run nor block a release. No service may depend_on a shadow service.
	Shadow bool
	// Line is the line of the service's entry in the manifest.
	Line int
	// SpecFile, for a pip service, names the requirements file in Dir to install instead of
	// requirements.txt (python.Project.SpecFile): the integration suite's. The manifest has no
	// key for it.
	SpecFile string
}

// Integration is the integration: block.
type Integration struct {
	// Postgres is the URL of an existing server; empty means a throwaway cluster.
	Postgres string
	// PostgresImage is the image the Dagger engine runs the server from: a registry reference,
	// oci-layout:PATH[:TAG] or docker-archive:FILE[:REF] (relative paths from Root), as base:
	// takes them; empty means the engine's default (postgres:16).
	PostgresImage string
	// Requirements is the suite's requirements file, relative to Root.
	Requirements string
	// Command is the suite's argv, run from Root.
	Command []string
	// Env is shared with every service and the suite.
	Env map[string]string
	// Timeout bounds the whole integration stage.
	Timeout time.Duration
	// Line is the line of the integration: key; 0 when the manifest has none.
	Line int
}

// NeedIntegration says whether the manifest can run the integration stage, for the commands
// that run it (run, integration, release): nil when it has an integration: block (Load refuses
// one without a command or requirements), else an *Error at the top of the file. Commands that
// stop before integration (gate, build, plan) accept a manifest without one.
func (c *Config) NeedIntegration() error {
	if c.Integration.Line > 0 {
		return nil
	}
	return &Error{Problems: []Problem{{File: c.File, Line: 1, Col: 1, Msg: "no integration: block, and this command " +
		"runs the integration stage (expected integration: with command: and requirements:; " +
		"convoy build runs the gates and images without it)"}}}
}

// NeedImages checks, for the commands that build images (build, run, integration, release),
// that every service named in only (every service when empty) has a base image and what it names
// on disk, before any work: an OCI layout is a directory holding oci-layout and index.json with the tag
// asked for, a docker archive a regular file (image.Base.Check). It returns an *Error with a
// problem at each faulty base: line, nil when all can be read. A registry reference is not
// contacted here. Commands that build no image (gate, plan) accept a base that is not there.
func (c *Config) NeedImages(only []string) error {
	var problems []Problem
	seen := map[string]bool{}
	for _, svc := range c.Services {
		if len(only) > 0 && !slices.Contains(only, svc.Name) {
			continue
		}
		if svc.Base == "" {
			problems = append(problems, Problem{File: c.File, Line: max(svc.Line, 1), Col: 1, Msg: fmt.Sprintf(
				"service %q has no base image (expected base: in defaults or the service, e.g. %s built by scripts/base-image.sh)",
				svc.Name, "oci-layout:/var/cache/convoy/base:python")})
			continue
		}
		if seen[svc.Base] {
			continue
		}
		seen[svc.Base] = true
		b, err := image.ParseBase(svc.Base)
		if err == nil {
			err = b.Check(c.Root)
		}
		if err != nil {
			p := c.baseAt[svc.Base]
			if p.File == "" {
				p = Problem{File: c.File, Line: 1, Col: 1}
			}
			p.Msg = fmt.Sprintf("base %q of service %q: %v (%s)", svc.Base, svc.Name, err, baseExpected)
			problems = append(problems, p)
		}
	}
	if len(problems) > 0 {
		return &Error{Problems: problems}
	}
	return nil
}

// Release is the release: block.
type Release struct {
	// TagPattern is the regular expression a release tag must match.
	TagPattern string
	// Registry is HOST/NAMESPACE release images are pushed to.
	Registry string
}

// Service returns the service called name, or nil.
func (c *Config) Service(name string) *Service {
	for _, s := range c.Services {
		if s.Name == name {
			return s
		}
	}
	return nil
}
