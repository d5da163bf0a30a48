package release

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path"
	"sort"
	"strings"

	"github.com/convoy-ci/convoy/pipeline/config"
	"github.com/convoy-ci/convoy/python"
	"github.com/convoy-ci/convoy/repo"
)

// Service is what freezing one service needs: where it lives, its dependency tool and the
// environment that passed its gates.
type Service struct {
	// Name is the service's name in services.yaml.
	Name string
	// Dir is the service directory, slash-separated and relative to the
	// repository root ("services/auth").
	Dir string
	// Tool is the service's dependency tool, by name (python.ToolNamed).
	Tool string
	// Env is the environment that passed the service's gates, as the engine that installed
	// it provides it: the virtualenv and the tool's scratch directory. The tool checks that
	// the lockfile it freezes describes it. Spec.Envs, when set, replaces it.
	Env python.Env
	// Config is the service's configuration, what Environments are asked about; nil when
	// Env is given.
	Config *config.Service
	// Shadow marks a shadow service (config.Service.Shadow): when its gates or its release
	// build fail, the release goes on without it — its lockfile is not frozen, its image not
	// stamped — and the manifest records it (ManifestService.Stamped).
	Shadow bool
}

// Lockfile is the outcome of freezing one service.
type Lockfile struct {
	// Service is the service's name (the first of Services).
	Service string
	// Services are the services whose environments the lockfile describes: one, or every
	// service of a workspace that shares it.
	Services []string
	// Path is the lockfile's path, slash-separated, relative to the
	// repository root, as the tool says (python.Tool.Lock).
	Path string
	// Content is the lockfile that describes the service's environment.
	Content []byte
	// Previous is the lockfile committed at HEAD, nil when there is none.
	Previous []byte
	// Changed reports whether Content differs from Previous (a missing
	// lockfile counts as changed).
	Changed bool
	// SHA256 is the hex SHA-256 of Content.
	SHA256 string
	// Packages maps canonical package names to what is pinned for them
	// ("4.2.11", or "@ URL" for direct references).
	Packages map[string]string
	// Changes are the package-level differences from Previous, sorted by
	// name.
	Changes []PackageChange
	// Diff is a unified line diff from Previous to Content (empty when
	// unchanged).
	Diff string
}

// PackageChange is one package whose pin differs between two lockfiles.
type PackageChange struct {
	// Name is the canonical package name.
	Name string
	// From is the previous pin, "" when the package was added.
	From string
	// To is the new pin, "" when the package was removed.
	To string
}

// String renders the change as "name 1.0 -> 1.1", "+ name 1.1" or
// "- name 1.0".
func (c PackageChange) String() string {
	switch {
	case c.From == "":
		return "+ " + c.Name + " " + c.To
	case c.To == "":
		return "- " + c.Name + " " + c.From
	}
	return c.Name + " " + c.From + " -> " + c.To
}

// checkService checks svc's directory and returns its tool.
func checkService(svc Service) (python.Tool, error) {
	dir := path.Clean(strings.TrimSuffix(svc.Dir, "/"))
	if svc.Dir == "" || strings.HasPrefix(dir, "/") || dir == ".." || strings.HasPrefix(dir, "../") {
		return nil, fmt.Errorf("service %q: invalid directory %q", svc.Name, svc.Dir)
	}
	tool, ok := python.ToolNamed(svc.Tool)
	if !ok {
		return nil, fmt.Errorf("service %q: unknown dependency tool %q (want one of %s)", svc.Name, svc.Tool, strings.Join(python.ToolNames(), ", "))
	}
	return tool, nil
}

// project locates svc in the repository r for its tool.
func project(r *repo.Repo, svc Service) (python.Tool, python.Project, error) {
	tool, err := checkService(svc)
	if err != nil {
		return nil, python.Project{}, err
	}
	dir := path.Clean(strings.TrimSuffix(svc.Dir, "/"))
	return tool, python.Project{Root: r.Root(), Dir: dir, Name: svc.Name}, nil
}

// LockfilePath returns where svc's lockfile lives, relative to the repository root of r.
func LockfilePath(r *repo.Repo, svc Service) (string, error) {
	tool, p, err := project(r, svc)
	if err != nil {
		return "", err
	}
	return tool.Lock(p), nil
}

// names are the services l describes (Services; Service for a Lockfile made without them).
func (l Lockfile) names() []string {
	if len(l.Services) == 0 {
		return []string{l.Service}
	}
	return l.Services
}

// Freeze computes svc's lockfile from its gated environment (python.Tool.Freeze) and compares
// it with the one committed at HEAD in r. It writes nothing.
func Freeze(ctx context.Context, r *repo.Repo, svc Service) (Lockfile, error) {
	tool, p, err := project(r, svc)
	if err != nil {
		return Lockfile{}, err
	}
	content, err := tool.Freeze(ctx, p, svc.Env)
	if err != nil {
		return Lockfile{}, fmt.Errorf("freezing service %q: %w", svc.Name, err)
	}
	return compare(r, tool, svc.Name, tool.Lock(p), content)
}

// compare describes content, the lockfile at lock (repository-relative) that tool froze for
// service, against the one committed at HEAD in r.
func compare(r *repo.Repo, tool python.Tool, service, lock string, content []byte) (Lockfile, error) {
	pins, err := tool.Pins(content)
	if err != nil {
		return Lockfile{}, fmt.Errorf("freezing service %q: reading the %s it froze: %w", service, lock, err)
	}
	sum := sha256.Sum256(content)
	lf := Lockfile{Service: service, Services: []string{service}, Path: lock, Content: content,
		SHA256: hex.EncodeToString(sum[:]), Packages: pins}
	prev, err := r.ReadFile("HEAD", lock)
	switch {
	case err == nil:
		lf.Previous = prev
	case errors.Is(err, os.ErrNotExist), errors.Is(err, repo.ErrNoCommits):
	default:
		return Lockfile{}, fmt.Errorf("freezing service %q: reading committed %q: %w", service, lock, err)
	}
	lf.Changed = lf.Previous == nil || !bytes.Equal(lf.Previous, lf.Content)
	if lf.Changed {
		old := map[string]string{}
		if lf.Previous != nil {
			if old, err = tool.Pins(lf.Previous); err != nil {
				old = map[string]string{} // an unparsable old lockfile: everything is new
			}
		}
		lf.Changes = packageChanges(old, lf.Packages)
		lf.Diff = unifiedDiff(lf.Path, lf.Previous, lf.Content)
	}
	return lf, nil
}

// FreezeAll freezes every service, in order. Services that share a lockfile (those of one
// workspace) get one Lockfile, listing them all, at the first one's place; their
// environments must freeze to the same content, or FreezeAll refuses.
func FreezeAll(ctx context.Context, r *repo.Repo, services []Service) ([]Lockfile, error) {
	out := make([]Lockfile, 0, len(services))
	at := map[string]int{} // lockfile path → index in out
	for _, s := range services {
		tool, p, err := project(r, s)
		if err != nil {
			return nil, err
		}
		content, err := tool.Freeze(ctx, p, s.Env)
		if err != nil {
			return nil, fmt.Errorf("freezing service %q: %w", s.Name, err)
		}
		lock := tool.Lock(p)
		if i, ok := at[lock]; ok {
			if !bytes.Equal(out[i].Content, content) {
				return nil, fmt.Errorf("freezing service %q: it shares %s with %s, but their gated environments freeze to different lockfiles (install them from one lock)", s.Name, lock, strings.Join(out[i].Services, ", "))
			}
			out[i].Services = append(out[i].Services, s.Name)
			continue
		}
		lf, err := compare(r, tool, s.Name, lock, content)
		if err != nil {
			return nil, err
		}
		at[lock] = len(out)
		out = append(out, lf)
	}
	return out, nil
}

// CheckResult is the outcome of Check.
type CheckResult struct {
	// Lockfiles has one entry per lockfile (per service, but for those that share one), in
	// the order given.
	Lockfiles []Lockfile
}

// OK reports whether every committed lockfile matches its environment.
func (c CheckResult) OK() bool {
	for _, l := range c.Lockfiles {
		if l.Changed {
			return false
		}
	}
	return true
}

// String describes every lockfile that does not match: its package changes
// and a unified diff.
func (c CheckResult) String() string {
	var b strings.Builder
	for _, l := range c.Lockfiles {
		if !l.Changed {
			continue
		}
		if l.Previous == nil {
			fmt.Fprintf(&b, "%s: %s is not committed\n", l.Service, l.Path)
		} else {
			fmt.Fprintf(&b, "%s: %s does not match the environment that passed the gates\n", l.Service, l.Path)
		}
		for _, ch := range l.Changes {
			fmt.Fprintf(&b, "  %s\n", ch)
		}
		b.WriteString(l.Diff)
	}
	return b.String()
}

// Check verifies, without writing anything, that every service's committed
// lockfile is what Freeze would write. The repository is the one containing
// dir.
func Check(ctx context.Context, dir string, services []Service) (CheckResult, error) {
	r, err := repo.Open(dir)
	if err != nil {
		return CheckResult{}, err
	}
	ls, err := FreezeAll(ctx, r, services)
	if err != nil {
		return CheckResult{}, err
	}
	return CheckResult{Lockfiles: ls}, nil
}

func packageChanges(old, cur map[string]string) []PackageChange {
	var out []PackageChange
	for n, v := range cur {
		if o, ok := old[n]; !ok {
			out = append(out, PackageChange{Name: n, To: v})
		} else if o != v {
			out = append(out, PackageChange{Name: n, From: o, To: v})
		}
	}
	for n, o := range old {
		if _, ok := cur[n]; !ok {
			out = append(out, PackageChange{Name: n, From: o})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}
