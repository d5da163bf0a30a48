// Package affected selects the services a change touches: convoy's --since REF. A service is
// selected when one of its inputs (images.Inputs: its directory, its libs, its dependency spec
// and lock files, the root .dockerignore — and its services.yaml entry) differs between REF and
// the worktree, or when it depends_on a selected service. Every service of the manifest gets a
// reason, selected or not.
package affected

import (
	"errors"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"reflect"
	"strings"

	"github.com/convoy-ci/convoy/pipeline/config"
	"github.com/convoy-ci/convoy/pipeline/images"
	"github.com/convoy-ci/convoy/repo"
)

// Kinds of reasons, from the strongest: the first that applies is a service's.
const (
	// KindChanged: a file of the service's directory changed.
	KindChanged = "changed"
	// KindSpec: a dependency spec or lock file outside its directory changed (a uv
	// workspace's uv.lock, tools.requirements).
	KindSpec = "spec"
	// KindLib: a file of a lib it uses changed.
	KindLib = "lib"
	// KindManifest: its services.yaml entry (defaults applied) differs from REF's, or REF's
	// manifest has no such service.
	KindManifest = "manifest"
	// KindShared: the repository's root .dockerignore changed.
	KindShared = "shared"
	// KindDependsOn: it depends_on a selected service.
	KindDependsOn = "depends_on"
	// KindNeeded: a selected service depends on it, and integration brings it up (ForIntegration).
	KindNeeded = "needed"
	// KindSuite: the integration suite changed, and integration brings every service up.
	KindSuite = "suite"
	// KindUnchanged: none of the above; the service is not selected.
	KindUnchanged = "unchanged"
)

// Reason is why a service is selected, or that it is not.
type Reason struct {
	Service  string `json:"service"`
	Selected bool   `json:"selected"`
	Kind     string `json:"kind"`
	// Why is the sentence: "changed (services/auth/api/views.py)", "depends on auth",
	// "unchanged — skipped".
	Why string `json:"why"`
}

// String is "SERVICE: WHY".
func (r Reason) String() string { return r.Service + ": " + r.Why }

// Selection is what --since REF selects, every service of the manifest with its reason, in
// manifest order.
type Selection struct {
	// Since is REF as given; Commit the commit it names.
	Since  string `json:"since"`
	Commit string `json:"commit"`
	// Changed counts the paths that differ between REF and the worktree.
	Changed  int      `json:"changed_paths"`
	Services []Reason `json:"services"`
	// Suite, when the integration suite changed (integration: block, or a file of its
	// requirements' directory), says so: "integration suite changed (tests/integration/x.py)".
	Suite string `json:"integration_suite,omitempty"`
}

// Names lists the selected services, in manifest order.
func (s *Selection) Names() []string {
	var out []string
	for _, r := range s.Services {
		if r.Selected {
			out = append(out, r.Service)
		}
	}
	return out
}

// UnknownRevisionError is a REF the repository does not have: a usage error.
type UnknownRevisionError struct{ Err error }

// Error names the revision and what git said.
func (e *UnknownRevisionError) Error() string {
	return fmt.Sprintf("--since: %v (expected a commit, branch or tag of the repository, e.g. HEAD~1 or origin/main)", e.Err)
}

// Unwrap returns the cause.
func (e *UnknownRevisionError) Unwrap() error { return e.Err }

// Select compares the repository holding cfg.Root at commit since with its worktree (see
// repo.ChangedSince) and selects cfg's services the difference touches.
func Select(cfg *config.Config, since string) (*Selection, error) {
	r, err := repo.Open(cfg.Root)
	if err != nil {
		return nil, fmt.Errorf("--since %s: %w", since, err)
	}
	info, err := r.CommitInfo(since)
	if err != nil {
		return nil, &UnknownRevisionError{Err: err}
	}
	changed, err := r.ChangedSince(since)
	if err != nil {
		if errors.Is(err, repo.ErrUnknownRevision) {
			return nil, &UnknownRevisionError{Err: err}
		}
		return nil, err
	}
	prefix, err := filepath.Rel(r.Root(), cfg.Root)
	if err != nil {
		return nil, fmt.Errorf("--since %s: locating %q in its repository: %w", since, cfg.Root, err)
	}
	d := &differ{cfg: cfg, prefix: filepath.ToSlash(prefix), changed: changed}
	sel := &Selection{Since: since, Commit: info.Hash, Changed: len(changed)}
	old, err := d.oldManifest(r, info.Hash)
	if err != nil {
		return nil, err
	}
	for _, svc := range cfg.Services {
		sel.Services = append(sel.Services, d.reason(svc, old))
	}
	d.dependents(sel)
	sel.Suite = d.suite(old)
	return sel, nil
}

// differ holds the changed paths and answers which of a service's inputs they touch.
type differ struct {
	cfg     *config.Config
	prefix  string   // cfg.Root relative to the git root, "." when they are one
	changed []string // relative to the git root
}

// under returns the changed paths under dir (relative to cfg.Root), or equal to it.
func (d *differ) under(dir string) []string {
	full := path.Clean(path.Join(d.prefix, dir))
	var out []string
	for _, p := range d.changed {
		if p == full || full == "." || strings.HasPrefix(p, full+"/") {
			out = append(out, p)
		}
	}
	return out
}

// files names the first of paths, and how many more there are.
func files(paths []string) string {
	if len(paths) == 1 {
		return paths[0]
	}
	return fmt.Sprintf("%s and %d more", paths[0], len(paths)-1)
}

// reason is why svc is selected by its own inputs, or that it is unchanged.
func (d *differ) reason(svc *config.Service, old *config.Config) Reason {
	in := images.InputsOf(svc)
	sel := func(kind, why string) Reason { return Reason{Service: svc.Name, Selected: true, Kind: kind, Why: why} }
	if ps := d.under(in.Dir); len(ps) > 0 {
		return sel(KindChanged, "changed ("+files(ps)+")")
	}
	for _, f := range in.Spec {
		if ps := d.under(f); len(ps) > 0 {
			return sel(KindSpec, "dependency spec changed ("+files(ps)+")")
		}
	}
	for _, l := range in.Libs {
		if ps := d.under(l); len(ps) > 0 {
			return sel(KindLib, "uses lib "+l+" ("+files(ps)+")")
		}
	}
	if why := d.entry(svc, old); why != "" {
		return sel(KindManifest, why)
	}
	for _, f := range in.Shared {
		if ps := d.under(f); len(ps) > 0 {
			return sel(KindShared, "every image's "+files(ps)+" changed")
		}
	}
	return Reason{Service: svc.Name, Kind: KindUnchanged, Why: "unchanged — skipped"}
}

// manifestPath is the manifest's path relative to cfg.Root.
func (d *differ) manifestPath() string {
	f := d.cfg.File
	if filepath.IsAbs(f) {
		if rel, err := filepath.Rel(d.cfg.Root, f); err == nil {
			f = rel
		}
	}
	return filepath.ToSlash(filepath.Clean(f))
}

// oldManifest is the manifest as commit had it, validated against today's tree: nil when it
// did not change. A manifest commit did not have, or that does not load, is an error-free
// "every entry changed": config.Config with no services.
func (d *differ) oldManifest(r *repo.Repo, commit string) (*config.Config, error) {
	rel := d.manifestPath()
	if len(d.under(rel)) == 0 {
		return nil, nil
	}
	data, err := r.ReadFile(commit, path.Join(d.prefix, rel))
	if errors.Is(err, os.ErrNotExist) {
		return &config.Config{}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("--since: reading %s at %s: %w", rel, commit, err)
	}
	old, err := config.Parse(data, rel, d.cfg.Root)
	if err != nil {
		return &config.Config{}, nil // what it said cannot be compared: every entry changed
	}
	return old, nil
}

// entry says how svc's manifest entry changed since old ("" when it did not).
func (d *differ) entry(svc *config.Service, old *config.Config) string {
	if old == nil {
		return ""
	}
	was := old.Service(svc.Name)
	if was == nil {
		return "new in " + d.manifestPath()
	}
	a, b := *svc, *was
	a.Line, b.Line = 0, 0
	if reflect.DeepEqual(a, b) {
		return ""
	}
	return "its " + d.manifestPath() + " entry changed"
}

// dependents selects, to a fixed point, every service that depends_on a selected one.
func (d *differ) dependents(sel *Selection) {
	at := map[string]int{}
	for i, r := range sel.Services {
		at[r.Service] = i
	}
	for grew := true; grew; {
		grew = false
		for i, svc := range d.cfg.Services {
			if sel.Services[i].Selected {
				continue
			}
			var on []string
			for _, dep := range svc.DependsOn {
				if j, ok := at[dep]; ok && sel.Services[j].Selected {
					on = append(on, dep)
				}
			}
			if len(on) > 0 {
				sel.Services[i] = Reason{Service: svc.Name, Selected: true, Kind: KindDependsOn, Why: "depends on " + strings.Join(on, ", ")}
				grew = true
			}
		}
	}
}

// suite says why the integration suite changed: its integration: block, or a file of the
// directory of its requirements (where the suite lives); "" when neither did.
func (d *differ) suite(old *config.Config) string {
	in := d.cfg.Integration
	if in.Line == 0 {
		return ""
	}
	if old != nil {
		a, b := in, old.Integration
		a.Line, b.Line = 0, 0
		if !reflect.DeepEqual(a, b) {
			return "integration suite changed (its " + d.manifestPath() + " block)"
		}
	}
	if ps := d.under(path.Dir(in.Requirements)); len(ps) > 0 && path.Dir(in.Requirements) != "." {
		return "integration suite changed (" + files(ps) + ")"
	}
	if ps := d.under(in.Requirements); len(ps) > 0 {
		return "integration suite changed (" + files(ps) + ")"
	}
	return ""
}

// ForIntegration is the selection of a command that runs integration: the selected services
// and every service they depend on, transitively (reason "needed by …"); every service when
// the integration suite changed.
func (s *Selection) ForIntegration(cfg *config.Config) *Selection {
	out := *s
	out.Services = append([]Reason(nil), s.Services...)
	at := map[string]int{}
	for i, r := range out.Services {
		at[r.Service] = i
	}
	if s.Suite != "" {
		for i := range out.Services {
			if !out.Services[i].Selected {
				out.Services[i] = Reason{Service: out.Services[i].Service, Selected: true, Kind: KindSuite, Why: s.Suite}
			}
		}
		return &out
	}
	var need func(name, by string)
	need = func(name, by string) {
		for _, dep := range cfg.Service(name).DependsOn {
			j, ok := at[dep]
			if !ok || out.Services[j].Selected {
				continue
			}
			out.Services[j] = Reason{Service: dep, Selected: true, Kind: KindNeeded, Why: "needed by " + by + " in integration"}
			need(dep, by)
		}
	}
	for _, r := range s.Services {
		if r.Selected {
			need(r.Service, r.Service)
		}
	}
	return &out
}
