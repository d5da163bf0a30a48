package python

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	"github.com/pelletier/go-toml/v2"
)

// uvProject is the dependency tool "uv" (services.yaml's deps: uv): a service is a uv project,
// its spec the pyproject.toml in its directory, its lock a uv.lock — the service's own, or,
// when the service is a member of a uv workspace, the workspace root's, which every member
// shares. Not to be confused with InstallerUV, which installs a pip service's requirements
// files: both are named "uv".
//
// A service installs the packages the lock pins for it alone — its dependencies, those of
// the workspace members it depends on, and its own dependency groups (dev), but not the
// groups of the workspace root, which `uv sync` in a member directory leaves out. Workspace
// members themselves (the service, its libs) are not installed: the gates import them from
// the service directory and services.yaml's libs (PYTHONPATH), as its image does.
type uvProject struct{}

var _ Tool = uvProject{}

func init() { register(uvProject{}) }

const (
	pyprojectFile = "pyproject.toml"
	uvLockFile    = "uv.lock"
	uvConfigFile  = "uv.toml"
)

// uvVenvVars are set to the virtualenv for every uv command of a service: UV_PROJECT_ENVIRONMENT
// makes uv sync into it rather than into a .venv of the project; UV_PYTHON pins the
// interpreter to the virtualenv's, or uv would delete the virtualenv and make another for
// one a .python-version file asks for.
var uvVenvVars = []string{"UV_PROJECT_ENVIRONMENT", "UV_PYTHON"}

// uvSyncArgv installs what the lock pins for the project of the working directory into the
// virtualenv of UV_PROJECT_ENVIRONMENT. --locked fails, with uv's message telling the user to
// run `uv lock`, when the lock does not describe the pyproject.toml files any more. The sync is
// exact (no --inexact): the virtualenv is new and ends up holding the lock's packages and
// nothing else, as Freeze checks. --no-install-workspace leaves out the service and the
// workspace members it depends on (their dependencies are installed): the gates get them from
// the source tree and the libs, as images do, and no build backend runs.
var uvSyncArgv = []string{UVProgram, "sync", "--locked", "--no-install-workspace"}

// uvExportArgv prints the runtime requirements of the project of the working directory, from
// the lock: no dependency groups (the dev tools), no hashes (the image's resolution pins
// again), no workspace members (an image gets its libs as source), markers kept (evaluated for
// the image's target by Compile).
var uvExportArgv = []string{UVProgram, "export", "--locked", "--format", "requirements.txt",
	"--no-default-groups", "--no-hashes", "--no-emit-workspace", "--no-header", "--no-annotate"}

// Name is "uv".
func (uvProject) Name() string { return "uv" }

// Spec is the service's pyproject.toml.
func (uvProject) Spec(p Project) string { return path.Join(p.Dir, pyprojectFile) }

// Inputs are the service's pyproject.toml and the lock; for a workspace member, the root's
// pyproject.toml and uv.toml and every other member's pyproject.toml too (the lock is
// shared: any of them may make it stale, and `uv sync --locked` says so); for a project of
// its own, its uv.toml.
func (t uvProject) Inputs(p Project) []string {
	ws, _ := findUVWorkspace(p)
	in := []string{t.Spec(p), path.Join(ws.root, uvLockFile), path.Join(ws.root, uvConfigFile)}
	if ws.root != path.Clean(p.Dir) {
		in = append(in, path.Join(ws.root, pyprojectFile))
	}
	for _, m := range ws.members {
		if f := path.Join(m, pyprojectFile); !slices.Contains(in, f) {
			in = append(in, f)
		}
	}
	return in
}

// Lock is the uv.lock of the service's workspace root, or its own.
func (uvProject) Lock(p Project) string {
	ws, _ := findUVWorkspace(p)
	return path.Join(ws.root, uvLockFile)
}

// Install syncs the new virtualenv from the lock (uvSyncArgv). The lock is always the
// committed one, so o.Frozen changes nothing; o.Installer neither: uv makes the virtualenv.
func (t uvProject) Install(p Project, o InstallOptions) (Installation, error) {
	ws, err := findUVWorkspace(p)
	if err != nil {
		return Installation{}, fmt.Errorf("service %s: %w", p.Name, err)
	}
	lock := path.Join(ws.root, uvLockFile)
	if _, err := os.Stat(filepath.Join(p.Root, filepath.FromSlash(lock))); err != nil {
		where := ws.root
		if where == "." {
			where = "the repository root"
		}
		return Installation{}, fmt.Errorf("service %s (deps: uv) has no lock: %s: %w (run `uv lock` in %s and commit %s)",
			p.Name, lock, err, where, uvLockFile)
	}
	return Installation{
		Installer: InstallerUV,
		Commands:  [][]string{slices.Clone(uvSyncArgv)},
		VenvVars:  slices.Clone(uvVenvVars),
	}, nil
}

// Runtime exports the service's runtime requirements from the lock (uvExportArgv).
func (uvProject) Runtime(Project) Runtime { return Runtime{Argv: slices.Clone(uvExportArgv)} }

// Freeze checks that the lock is current (`uv lock --check`, which names `uv lock` as the
// fix when it is not) and that it pins every package e holds at the version e holds, and
// returns the lock's bytes: a release commits the uv.lock the gates installed from.
func (t uvProject) Freeze(ctx context.Context, p Project, e Env) ([]byte, error) {
	lockFile := t.Lock(p)
	if err := checkUVLock(ctx, p, e); err != nil {
		return nil, fmt.Errorf("freezing %s for service %s: checking that the lock is current: %w", lockFile, p.Name, err)
	}
	lock, err := os.ReadFile(filepath.Join(p.Root, filepath.FromSlash(lockFile)))
	if err != nil {
		return nil, fmt.Errorf("freezing %s: %w", lockFile, err)
	}
	l, err := readUVLock(lockFile, lock)
	if err != nil {
		return nil, err
	}
	if err := checkFrozen(ctx, p, lockFile, l.locked(), e); err != nil {
		return nil, fmt.Errorf("freezing %s for service %s: %w", lockFile, p.Name, err)
	}
	return lock, nil
}

// checkUVLock runs `uv lock --check` for p, with the provisioned uv and e's virtualenv.
func checkUVLock(ctx context.Context, p Project, e Env) error {
	u, err := e.Tools.UV(ctx)
	if err != nil {
		return err
	}
	env := u.Env(nil)
	for _, v := range uvVenvVars {
		env = append(env, v+"="+e.Venv)
	}
	x := Exec{Dir: filepath.Join(p.Root, filepath.FromSlash(p.Dir)), Env: env}
	return run(ctx, []string{u.Path, "lock", "--check"}, x, nil)
}

// locked is what l says a gated environment may hold: each package at any version the lock
// has for it (one per marker set). None is required: a workspace's lock holds every member's
// packages, a service's environment only its own. Members and editable or virtual entries are
// the repository's own code.
func (l uvLock) locked() map[string]lockedPkg {
	out := map[string]lockedPkg{}
	for _, pkg := range l.Package {
		name := CanonicalName(pkg.Name)
		lp := out[name]
		lp.versions = append(lp.versions, pkg.Version)
		lp.pin = strings.Join(lp.versions, ", ")
		lp.local = lp.local || slices.Contains(l.Manifest.Members, pkg.Name) || pkg.Source.Editable != "" || pkg.Source.Virtual != ""
		out[name] = lp
	}
	return out
}

// Pins are the lock's packages at their versions; workspace members (the repository's own
// code) are left out. A package from a git repository, a URL or a path is "@ " and where it
// came from; one the lock holds at several versions (for different markers) has them all,
// comma-separated.
func (uvProject) Pins(lock []byte) (map[string]string, error) {
	l, err := readUVLock(uvLockFile, lock)
	if err != nil {
		return nil, err
	}
	versions := map[string][]string{}
	for _, pkg := range l.Package {
		if slices.Contains(l.Manifest.Members, pkg.Name) || pkg.Source.Editable != "" || pkg.Source.Virtual != "" {
			continue
		}
		name := CanonicalName(pkg.Name)
		versions[name] = append(versions[name], pkg.Source.pin(pkg.Version))
	}
	out := make(map[string]string, len(versions))
	for name, vs := range versions {
		sort.Strings(vs)
		out[name] = strings.Join(slices.Compact(vs), ", ")
	}
	return out, nil
}

// uvLock is what convoy reads of a uv.lock.
type uvLock struct {
	Manifest struct {
		Members []string `toml:"members"`
	} `toml:"manifest"`
	Package []struct {
		Name    string   `toml:"name"`
		Version string   `toml:"version"`
		Source  uvSource `toml:"source"`
	} `toml:"package"`
}

// uvSource is where a package of a uv.lock comes from: one of its fields is set.
type uvSource struct {
	Registry  string `toml:"registry"`
	Git       string `toml:"git"` // "https://host/repo?rev=main#COMMIT"
	URL       string `toml:"url"`
	Path      string `toml:"path"`
	Directory string `toml:"directory"`
	Editable  string `toml:"editable"`
	Virtual   string `toml:"virtual"`
}

// pin renders a package at version from s for Pins.
func (s uvSource) pin(version string) string {
	switch {
	case s.Git != "":
		repo, commit, _ := strings.Cut(s.Git, "#")
		repo, _, _ = strings.Cut(repo, "?")
		return "@ git+" + repo + "@" + commit
	case s.URL != "":
		return "@ " + s.URL
	case s.Path != "":
		return "@ " + s.Path
	case s.Directory != "":
		return "@ " + s.Directory
	}
	return version
}

// readUVLock parses the uv.lock data, read from file (for messages).
func readUVLock(file string, data []byte) (uvLock, error) {
	var l uvLock
	if err := toml.Unmarshal(data, &l); err != nil {
		return uvLock{}, tomlError(file, err)
	}
	for i, pkg := range l.Package {
		if pkg.Name == "" {
			return uvLock{}, fmt.Errorf("reading %s: [[package]] number %d has no name", file, i+1)
		}
	}
	return l, nil
}

// tomlError says where in file the TOML decoding error err is.
func tomlError(file string, err error) error {
	var de *toml.DecodeError
	if errors.As(err, &de) {
		line, col := de.Position()
		return fmt.Errorf("reading %s:%d:%d: %w", file, line, col, err)
	}
	return fmt.Errorf("reading %s: %w", file, err)
}

// uvWorkspace is where the lock of a uv project is: the root of its workspace, or the
// project's own directory. Paths are repository-relative.
type uvWorkspace struct {
	root    string
	members []string // the workspace's members, sorted; none for a project of its own
}

// uvPyproject is what convoy reads of a pyproject.toml.
type uvPyproject struct {
	Tool struct {
		UV struct {
			Workspace *struct {
				Members []string `toml:"members"`
				Exclude []string `toml:"exclude"`
			} `toml:"workspace"`
		} `toml:"uv"`
	} `toml:"tool"`
}

// findUVWorkspace finds the workspace of p as uv does: the nearest pyproject.toml with a
// [tool.uv.workspace], from p's directory up to the repository root. p belongs to it when it
// is the root or one of its members (the directories its members globs match, minus those its
// exclude globs match); otherwise — no workspace, or one p is not a member of — p is a project
// of its own. The zero-error result is p's own directory when reading fails.
func findUVWorkspace(p Project) (uvWorkspace, error) {
	own := uvWorkspace{root: path.Clean(p.Dir)}
	for dir := own.root; ; dir = path.Dir(dir) {
		ws, found, err := readUVWorkspace(p.Root, dir)
		if err != nil {
			return own, err
		}
		if found {
			if dir == own.root || slices.Contains(ws.members, own.root) {
				return ws, nil
			}
			return own, nil
		}
		if dir == "." {
			return own, nil
		}
	}
}

// readUVWorkspace reads dir/pyproject.toml (repository-relative) and, when it declares a
// workspace, returns it with its members.
func readUVWorkspace(root, dir string) (uvWorkspace, bool, error) {
	file := path.Join(dir, pyprojectFile)
	data, err := os.ReadFile(filepath.Join(root, filepath.FromSlash(file)))
	if errors.Is(err, fs.ErrNotExist) {
		return uvWorkspace{}, false, nil
	}
	if err != nil {
		return uvWorkspace{}, false, fmt.Errorf("reading %s: %w", file, err)
	}
	var pp uvPyproject
	if err := toml.Unmarshal(data, &pp); err != nil {
		return uvWorkspace{}, false, tomlError(file, err)
	}
	w := pp.Tool.UV.Workspace
	if w == nil {
		return uvWorkspace{}, false, nil
	}
	members, err := globProjects(root, dir, w.Members)
	if err != nil {
		return uvWorkspace{}, false, fmt.Errorf("reading %s: [tool.uv.workspace] members: %w", file, err)
	}
	excluded, err := globProjects(root, dir, w.Exclude)
	if err != nil {
		return uvWorkspace{}, false, fmt.Errorf("reading %s: [tool.uv.workspace] exclude: %w", file, err)
	}
	members = slices.DeleteFunc(members, func(m string) bool { return slices.Contains(excluded, m) })
	return uvWorkspace{root: dir, members: members}, true, nil
}

// globProjects returns the directories the globs (relative to the repository-relative dir)
// match that hold a pyproject.toml, repository-relative and sorted.
func globProjects(root, dir string, globs []string) ([]string, error) {
	var out []string
	for _, g := range globs {
		matches, err := filepath.Glob(filepath.Join(root, filepath.FromSlash(dir), filepath.FromSlash(g)))
		if err != nil {
			return nil, fmt.Errorf("glob %q: %w", g, err)
		}
		for _, m := range matches {
			if _, err := os.Stat(filepath.Join(m, pyprojectFile)); err != nil {
				continue
			}
			rel, err := filepath.Rel(root, m)
			if err != nil {
				return nil, err
			}
			out = append(out, filepath.ToSlash(rel))
		}
	}
	sort.Strings(out)
	return slices.Compact(out), nil
}
