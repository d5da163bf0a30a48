// Package scaffold creates a new service in a monorepo from a template — the repository's own
// (the manifest's template: directory) or convoy's built-in Django+DRF one — and adds it to the
// manifest, keeping the manifest's comments and formatting.
//
// Everything that can be refused is refused before anything is written: the name (a valid,
// unused service name whose directory does not exist), the dependency tool, the template and its
// variables. The rendered service is then moved into place and the new manifest is validated
// with pipeline/config before it replaces the old one; when it is not valid the service
// directory is removed again.
package scaffold

import (
	"fmt"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"

	"github.com/convoy-ci/convoy/pipeline/config"
	"github.com/convoy-ci/convoy/python"
)

// RefusedError is a request NewService refused before anything was written (a name, tool or
// template that cannot be used, or a manifest that would not be valid): convoy exits 2 on it.
type RefusedError struct{ Err error }

// Error is the reason, with what was expected.
func (e *RefusedError) Error() string { return e.Err.Error() }

// Unwrap is the reason's own error.
func (e *RefusedError) Unwrap() error { return e.Err }

// refuse returns a *RefusedError of fmt.Errorf(format, args...).
func refuse(format string, args ...any) error {
	return &RefusedError{Err: fmt.Errorf(format, args...)}
}

// DefaultParent is the directory new services go in when the manifest has none yet.
const DefaultParent = "services"

// Vars are what a template is rendered with.
type Vars struct {
	// Name is the service's name in the manifest ("billing", "user-profile").
	Name string
	// Module is Name as a Python identifier ("user_profile"): the app's package; the Django
	// project is Module + "_service".
	Module string
	// Class is Name in CamelCase ("UserProfile"), for class names.
	Class string
	// Path is the service's directory, relative to the repository root ("services/billing").
	Path string
	// Deps is the service's dependency tool (python.ToolNames).
	Deps string
	// DepsLine is true when Deps is not what the manifest's defaults give: the entry names it.
	DepsLine bool
	// Python is the service's Python version ("3.11").
	Python string
	// DatabaseEnv is the variable the service's database URL comes in (DATABASE_URL).
	DatabaseEnv string
}

// Created is what NewService made.
type Created struct {
	Vars
	// Template is the manifest's template directory, or "" for the built-in template.
	Template string
	// Files are the files written, relative to the repository root, sorted.
	Files []string
	// Manifest is the manifest file that got the new entry.
	Manifest string
}

// Option configures NewService.
type Option func(*options)

type options struct {
	deps string
}

// WithDeps makes the service use tool (pip, pipenv, …) instead of the tool most of the
// manifest's services use.
func WithDeps(tool string) Option { return func(o *options) { o.deps = tool } }

// NewService creates the service name in the repository at root whose manifest is file (as
// config.Load takes them): its directory rendered from the template, and its entry appended to
// the manifest's services. An invalid manifest is returned as config.Load's *config.Error; a
// request that cannot be met is a *RefusedError. Either way nothing was written.
func NewService(file, root, name string, opts ...Option) (*Created, error) {
	var o options
	for _, opt := range opts {
		opt(&o)
	}
	cfg, err := config.Load(file, root)
	if err != nil {
		return nil, err
	}
	vars, err := varsFor(cfg, name, o)
	if err != nil {
		return nil, err
	}
	tpl, err := templateFor(cfg)
	if err != nil {
		return nil, err
	}
	files, entry, err := tpl.render(vars)
	if err != nil {
		return nil, err
	}
	manifest := manifestPath(cfg)
	old, err := os.ReadFile(manifest)
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", cfg.File, err)
	}
	updated, err := appendService(old, vars, entry)
	if err != nil {
		return nil, refuse("adding %q to %s: %v", name, cfg.File, err)
	}
	if err := place(cfg, vars, files, updated, manifest); err != nil {
		return nil, err
	}
	return &Created{Vars: vars, Template: cfg.Template, Files: sortedPaths(vars.Path, files), Manifest: cfg.File}, nil
}

// varsFor checks name against cfg and returns the template's variables.
func varsFor(cfg *config.Config, name string, o options) (Vars, error) {
	if err := config.ValidServiceName(name); err != nil {
		return Vars{}, refuse("%v", err)
	}
	module := strings.ReplaceAll(name, "-", "_")
	if module[0] >= '0' && module[0] <= '9' {
		return Vars{}, refuse("service name %q starts with a digit (expected a letter first: its Python package is named after it)", name)
	}
	for _, s := range cfg.Services {
		if s.Name == name {
			return Vars{}, refuse("%s:%d: a service named %q exists already (expected a new name)", cfg.File, s.Line, name)
		}
	}
	dir := path.Join(parentDir(cfg), name)
	if _, err := os.Lstat(filepath.Join(cfg.Root, filepath.FromSlash(dir))); err == nil {
		return Vars{}, refuse("%s exists already (expected a new directory for %q)", dir, name)
	}
	deps := o.deps
	if deps == "" {
		deps = majorityDeps(cfg)
	}
	if _, ok := python.ToolNamed(deps); !ok {
		return Vars{}, refuse("--deps %q is not a dependency tool (expected one of %s)", deps, strings.Join(python.ToolNames(), ", "))
	}
	return Vars{
		Name: name, Module: module, Class: className(module), Path: dir, Deps: deps, DepsLine: deps != cfg.Defaults.Deps,
		Python: cfg.Defaults.Python, DatabaseEnv: cfg.Defaults.Database.Env,
	}, nil
}

// majorityDeps is the tool most of cfg's services use; a tie goes to the manifest's default.
func majorityDeps(cfg *config.Config) string {
	count := map[string]int{}
	for _, s := range cfg.Services {
		count[s.Deps]++
	}
	best := cfg.Defaults.Deps
	for _, tool := range python.ToolNames() {
		if count[tool] > count[best] {
			best = tool
		}
	}
	return best
}

// parentDir is the directory most of cfg's services are in (DefaultParent when none is).
func parentDir(cfg *config.Config) string {
	count := map[string]int{}
	for _, s := range cfg.Services {
		count[path.Dir(s.Path)]++
	}
	best, n := DefaultParent, 0
	for dir, c := range count {
		if c > n || (c == n && dir < best) {
			best, n = dir, c
		}
	}
	return best
}

// className is module in CamelCase: user_profile → UserProfile.
func className(module string) string {
	var b strings.Builder
	for _, part := range strings.Split(module, "_") {
		if part != "" {
			b.WriteString(strings.ToUpper(part[:1]) + part[1:])
		}
	}
	return b.String()
}

// manifestPath is the manifest's path on disk.
func manifestPath(cfg *config.Config) string {
	if filepath.IsAbs(cfg.File) {
		return cfg.File
	}
	return filepath.Join(cfg.Root, cfg.File)
}

func sortedPaths(dir string, files map[string][]byte) []string {
	out := make([]string, 0, len(files))
	for p := range files {
		out = append(out, path.Join(dir, p))
	}
	sort.Strings(out)
	return out
}
