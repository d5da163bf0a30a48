package python

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"slices"

	"github.com/pelletier/go-toml/v2"
)

// poetry's files, in the service directory.
const (
	poetrySpec = "pyproject.toml"
	poetryLock = "poetry.lock"
)

// poetryTool is the Tool for a pyproject.toml managed by poetry and its poetry.lock. poetry,
// provisioned by convoy (PoetryProgram), installs the committed lock into the virtualenv the
// engine activates; it never resolves, so it never writes a lock.
type poetryTool struct{}

func init() { register(poetryTool{}) }

func (poetryTool) Name() string { return "poetry" }

func (poetryTool) Spec(p Project) string { return path.Join(p.Dir, poetrySpec) }

func (t poetryTool) Inputs(p Project) []string { return []string{t.Spec(p), t.Lock(p)} }

func (poetryTool) Lock(p Project) string { return path.Join(p.Dir, poetryLock) }

// Install creates the virtualenv with uv (with pip when o.Installer says so: poetry needs no
// pip in it), then runs `poetry install --no-root` into it (PoetryInstallArgv): every
// non-optional group, dev tools included, at the committed lock's versions, frozen or not.
// The lock must be committed — poetry would otherwise resolve and write one into the
// repository — and current: poetry refuses a lock older than its pyproject.toml. Path
// dependencies on the service's libs are installed (editable) from where the repository has
// them (Libs).
func (t poetryTool) Install(p Project, o InstallOptions) (Installation, error) {
	lock := t.Lock(p)
	if _, err := os.Stat(filepath.Join(p.Root, filepath.FromSlash(lock))); err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return Installation{}, fmt.Errorf("service %q uses poetry but %s does not exist: run `poetry lock` in %s and commit %s",
				p.Name, lock, p.Dir, poetryLock)
		}
		return Installation{}, fmt.Errorf("service %q: reading %s: %w", p.Name, lock, err)
	}
	installer := InstallerUV
	if o.Installer == InstallerPip {
		installer = InstallerPip
	}
	return Installation{Installer: installer, Commands: [][]string{PoetryInstallArgv()}, Env: PoetryEnv(""), Libs: true}, nil
}

// PoetryInstallArgv installs a poetry project's locked dependencies, every non-optional group
// (dev ones included) and not the project itself, into the virtualenv the command's
// environment activates (VIRTUAL_ENV; PoetryEnv keeps poetry from making its own). poetry
// fails when the lock is stale ("pyproject.toml changed significantly since poetry.lock was
// last generated. Run `poetry lock` to fix the lock file.").
func PoetryInstallArgv() []string {
	return []string{PoetryProgram, "install", "--no-root", "--no-interaction", "--no-ansi"}
}

// PoetryExportArgv prints the locked requirements of a poetry project's main group (no dev
// tools), one name==version line each with its environment markers, without hashes — in
// poetry's constraints.txt format, which is requirements.txt's without extras (the closure
// lists what they pull in) and without editable path dependencies: the service's libs, which
// reach images as source (services.yaml's libs), their own dependencies listed.
func PoetryExportArgv() []string {
	return []string{PoetryProgram, "export", "--only", "main", "--without-hashes", "--format", "constraints.txt",
		"--no-interaction", "--no-ansi"}
}

// PoetryCheckLockArgv checks that a poetry project's lock exists and is current with its
// pyproject.toml, without resolving or writing anything.
func PoetryCheckLockArgv(poetry string) []string {
	return []string{poetry, "check", "--lock", "--no-interaction", "--no-ansi"}
}

// Runtime is what `poetry export` prints for the main group (PoetryExportArgv).
func (poetryTool) Runtime(Project) Runtime {
	return Runtime{Argv: PoetryExportArgv(), Env: PoetryEnv("")}
}

// Freeze checks the lock is current (`poetry check --lock`) and describes e — every package
// e holds is locked at the version installed, every package the main group needs on every
// platform is installed — and returns it byte for byte: the lock a user of poetry commits.
func (t poetryTool) Freeze(ctx context.Context, p Project, e Env) ([]byte, error) {
	po, err := e.Tools.Poetry(ctx)
	if err != nil {
		return nil, fmt.Errorf("freezing %s: %w", p.Name, err)
	}
	dir := filepath.Join(p.Root, filepath.FromSlash(p.Dir))
	if err := run(ctx, PoetryCheckLockArgv(po.Path), Exec{Dir: dir, Env: po.Env(nil)}, io.Discard); err != nil {
		return nil, fmt.Errorf("checking %s against %s: %w", t.Lock(p), t.Spec(p), err)
	}
	lock, err := os.ReadFile(filepath.Join(p.Root, filepath.FromSlash(t.Lock(p))))
	if err != nil {
		return nil, fmt.Errorf("freezing %s: %w", p.Name, err)
	}
	l, err := parsePoetryLock(lock)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", t.Lock(p), err)
	}
	if err := checkFrozen(ctx, p, t.Lock(p), l.locked(), e); err != nil {
		return nil, err
	}
	return lock, nil
}

// Pins reads the packages of a poetry.lock, every group.
func (poetryTool) Pins(lock []byte) (map[string]string, error) {
	l, err := parsePoetryLock(lock)
	if err != nil {
		return nil, err
	}
	out := make(map[string]string, len(l.Package))
	for _, pkg := range l.Package {
		out[CanonicalName(pkg.Name)] = pkg.pin()
	}
	return out, nil
}

// poetryLockFile is the part of a poetry.lock convoy reads.
type poetryLockFile struct {
	Package  []poetryPackage `toml:"package"`
	Metadata *struct {
		LockVersion string `toml:"lock-version"`
	} `toml:"metadata"`
}

// poetryPackage is one [[package]] of a poetry.lock.
type poetryPackage struct {
	Name     string   `toml:"name"`
	Version  string   `toml:"version"`
	Optional bool     `toml:"optional"`
	Groups   []string `toml:"groups"`
	// Markers is a string, or a table of one per group (lock-version 2.1).
	Markers any  `toml:"markers"`
	Develop bool `toml:"develop"`
	Source  struct {
		Type              string `toml:"type"`
		URL               string `toml:"url"`
		ResolvedReference string `toml:"resolved_reference"`
		Subdirectory      string `toml:"subdirectory"`
	} `toml:"source"`
}

// parsePoetryLock reads a poetry.lock: its [[package]] tables, each with a name and a
// version, and its [metadata].
func parsePoetryLock(lock []byte) (poetryLockFile, error) {
	var l poetryLockFile
	if err := toml.Unmarshal(lock, &l); err != nil {
		var de *toml.DecodeError
		if errors.As(err, &de) {
			row, col := de.Position()
			return l, fmt.Errorf("parsing %s: line %d, column %d: %s", poetryLock, row, col, de.Error())
		}
		return l, fmt.Errorf("parsing %s: %w", poetryLock, err)
	}
	if l.Metadata == nil {
		return l, fmt.Errorf("parsing %s: no [metadata] table: not a lock poetry wrote", poetryLock)
	}
	for i, pkg := range l.Package {
		if pkg.Name == "" || pkg.Version == "" {
			return l, fmt.Errorf("parsing %s: [[package]] number %d (%q) has no name or no version", poetryLock, i+1, pkg.Name)
		}
	}
	return l, nil
}

// pin is what pkg pins: its version for an index package, "@ URL" for a direct reference
// (a git commit, an archive URL, a local file or directory).
func (pkg poetryPackage) pin() string {
	s := pkg.Source
	switch s.Type {
	case "", "legacy", "pypi":
		return pkg.Version
	case "git":
		pin := "@ git+" + s.URL + "@" + s.ResolvedReference
		if s.Subdirectory != "" {
			pin += "#subdirectory=" + s.Subdirectory
		}
		return pin
	}
	return "@ " + s.URL
}

// unconditional says whether pkg is installed wherever its main group is: not optional (an
// extra), in the main group, with no environment markers.
func (pkg poetryPackage) unconditional() bool {
	if pkg.Optional || !slices.Contains(pkg.Groups, "main") {
		return false
	}
	switch m := pkg.Markers.(type) {
	case nil:
		return true
	case string:
		return m == ""
	case map[string]any:
		return m["main"] == nil
	}
	return false
}

// locked is what l says a gated environment holds: every package at its version; those the
// main group needs on every platform (unconditional) must be installed; directories (path
// dependencies, installed editable) are the repository's own code.
func (l poetryLockFile) locked() map[string]lockedPkg {
	out := make(map[string]lockedPkg, len(l.Package))
	for _, pkg := range l.Package {
		out[CanonicalName(pkg.Name)] = lockedPkg{versions: []string{pkg.Version}, pin: pkg.pin(),
			required: pkg.unconditional(), local: pkg.Source.Type == "directory"}
	}
	return out
}
