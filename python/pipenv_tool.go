package python

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
)

// pipenv's files, in the service directory.
const (
	pipenvSpec = "Pipfile"
	pipenvLock = "Pipfile.lock"
)

// pipenvTool is the Tool for a Pipfile and its Pipfile.lock. pipenv is pip-installed into the
// service's virtualenv and works on a scratch copy of the Pipfile (PIPENV_PIPFILE), so that the
// Pipfile.lock it writes never lands in the repository.
type pipenvTool struct{}

func init() { register(pipenvTool{}) }

func (pipenvTool) Name() string { return "pipenv" }

func (pipenvTool) Spec(p Project) string { return path.Join(p.Dir, pipenvSpec) }

func (t pipenvTool) Inputs(p Project) []string { return []string{t.Spec(p), t.Lock(p)} }

func (pipenvTool) Lock(p Project) string { return path.Join(p.Dir, pipenvLock) }

// pipenvEnv is the environment pipenv runs in: quiet, never asking, installing into the
// virtualenv it runs in.
var pipenvEnv = map[string]string{
	"PIPENV_VERBOSITY": "-1", "PIPENV_NOSPIN": "1", "PIPENV_YES": "1",
	"PIPENV_IGNORE_VIRTUALENVS": "0",
}

// PipenvVersion is the pipenv convoy installs where pipenv itself must run (a missing or
// stale lock, VCS or path entries): pinned, so that the locks it writes and the hash convoy
// computes of a Pipfile (PipfileHashes, checked against this version's locks) agree.
const PipenvVersion = "2026.10.3"

// pipenvRequirements is the file, in the scratch directory, of the requirement lines installed
// from a committed Pipfile.lock.
const pipenvRequirements = "Pipfile.lock.txt"

// Install installs a service's committed Pipfile.lock with uv when the lock is the Pipfile's
// (the hash pipenv recorded is the Pipfile's: PipfileHashes; any lock when o.Frozen) and holds
// index packages only: its [default] and [develop] pins with their hashes (--require-hashes),
// what `pipenv sync --dev` installs, in a fraction of the time. Otherwise pipenv itself runs:
// pip-installed into a virtualenv made with pip, `pipenv install --dev` (`pipenv sync --dev`
// when o.Frozen) on the scratch copy of the Pipfile and of the committed lock — resolving the
// Pipfile when the lock is missing or stale.
func (t pipenvTool) Install(p Project, o InstallOptions) (Installation, error) {
	inst := Installation{
		Scratch:     []string{t.Spec(p), t.Lock(p)},
		ScratchVars: map[string]string{"PIPENV_PIPFILE": pipenvSpec},
	}
	lines, err := t.lockedRequirements(p, o.Frozen)
	if err != nil {
		return Installation{}, err
	}
	if lines != nil {
		inst.Installer, inst.InScratch = InstallerUV, true
		inst.Files = map[string]string{pipenvRequirements: strings.Join(lines, "\n") + "\n"}
		inst.Commands = [][]string{{UVProgram, "pip", "install", "--no-config", "--require-hashes", "-r", pipenvRequirements}}
		return inst, nil
	}
	sync := []string{"python", "-m", "pipenv", "install", "--dev"}
	if o.Frozen && exists(p, t.Lock(p)) {
		sync = []string{"python", "-m", "pipenv", "sync", "--dev"}
	}
	inst.Env = make(map[string]string, len(pipenvEnv))
	for k, v := range pipenvEnv {
		inst.Env[k] = v
	}
	inst.Installer = InstallerPip
	inst.Commands = [][]string{{"python", "-m", "pip", "install", "--quiet", "pipenv==" + PipenvVersion}, sync}
	return inst, nil
}

// lockedRequirements returns the requirement lines (with hashes) of the committed Pipfile.lock
// when uv can install it in pipenv's stead — nil when there is none, it is stale (unless
// frozen), or it holds what only pipenv installs.
func (t pipenvTool) lockedRequirements(p Project, frozen bool) ([]string, error) {
	lock, err := os.ReadFile(filepath.Join(p.Root, filepath.FromSlash(t.Lock(p))))
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", t.Lock(p), err)
	}
	if !frozen {
		current, err := t.lockCurrent(p, lock)
		if err != nil || !current {
			return nil, err
		}
	}
	lines, ok, err := pipenvLockLines(lock, true, "default", "develop")
	if err != nil {
		return nil, fmt.Errorf("%s: %w", t.Lock(p), err)
	}
	if !ok {
		return nil, nil
	}
	return lines, nil
}

// lockCurrent says whether lock was made from the service's Pipfile as it is.
func (t pipenvTool) lockCurrent(p Project, lock []byte) (bool, error) {
	pipfile, err := os.ReadFile(filepath.Join(p.Root, filepath.FromSlash(t.Spec(p))))
	if err != nil {
		return false, fmt.Errorf("reading %s: %w", t.Spec(p), err)
	}
	var meta struct {
		Meta struct {
			Hash struct {
				SHA256 string `json:"sha256"`
			} `json:"hash"`
		} `json:"_meta"`
	}
	if err := json.Unmarshal(lock, &meta); err != nil {
		return false, fmt.Errorf("reading %s: %w", t.Lock(p), err)
	}
	hashes, err := PipfileHashes(pipfile)
	if err != nil {
		return false, nil // pipenv decides
	}
	return slices.Contains(hashes, meta.Meta.Hash.SHA256), nil
}

// Runtime is what `pipenv requirements` prints for the [packages] of the lock pipenv wrote in
// the scratch directory — read from the lock itself when it can be (PipenvLockRequirements).
func (pipenvTool) Runtime(Project) Runtime {
	return Runtime{Argv: PipenvRequirementsArgv(), Env: map[string]string{"PIPENV_VERBOSITY": "-1"}, FromScratch: func(scratch string) ([]string, bool, error) {
		lock, err := os.ReadFile(filepath.Join(scratch, pipenvLock))
		if err != nil {
			return nil, false, fmt.Errorf("reading the %s the deps stage wrote: %w", pipenvLock, err)
		}
		return PipenvLockRequirements(lock)
	}}
}

// Freeze returns the Pipfile.lock pipenv wrote for e (in its scratch directory; the committed
// one when e has none), byte for byte, after checking that every installed package is pinned
// in it at the installed version and that every unconditional pin is installed.
func (t pipenvTool) Freeze(ctx context.Context, p Project, e Env) ([]byte, error) {
	src := filepath.Join(p.Root, filepath.FromSlash(t.Lock(p)))
	if e.Scratch != "" {
		src = filepath.Join(e.Scratch, pipenvLock)
	}
	lock, err := os.ReadFile(src)
	if err != nil {
		return nil, fmt.Errorf("reading the %s of the environment: %w", pipenvLock, err)
	}
	l, err := parsePipenvLock(lock)
	if err != nil {
		return nil, err
	}
	if err := checkFrozen(ctx, p, src, l.locked(), e); err != nil {
		return nil, err
	}
	return lock, nil
}

// Pins reads the [default] and [develop] pins of a Pipfile.lock.
func (pipenvTool) Pins(lock []byte) (map[string]string, error) {
	l, err := parsePipenvLock(lock)
	if err != nil {
		return nil, err
	}
	m := map[string]string{}
	for n, e := range l.entries() {
		m[n] = e.pin()
	}
	return m, nil
}

// entries are the [default] and [develop] packages of l by canonical name.
func (l pipenvLockFile) entries() map[string]pipenvLockEntry {
	out := map[string]pipenvLockEntry{}
	for _, sec := range []map[string]pipenvLockEntry{l.Default, l.Develop} {
		for n, e := range sec {
			out[CanonicalName(n)] = e
		}
	}
	return out
}

// pipenvLockFile is the part of Pipfile.lock convoy reads.
type pipenvLockFile struct {
	Meta    json.RawMessage            `json:"_meta"`
	Default map[string]pipenvLockEntry `json:"default"`
	Develop map[string]pipenvLockEntry `json:"develop"`
}

type pipenvLockEntry struct {
	Version  string `json:"version"`
	Markers  string `json:"markers"`
	Editable bool   `json:"editable"`
	Path     string `json:"path"`
	File     string `json:"file"`
	Git      string `json:"git"`
	Ref      string `json:"ref"`
}

// parsePipenvLock reads a Pipfile.lock, which must have a _meta section.
func parsePipenvLock(content []byte) (pipenvLockFile, error) {
	var l pipenvLockFile
	if err := json.Unmarshal(content, &l); err != nil {
		return l, fmt.Errorf("parsing %s: %w", pipenvLock, err)
	}
	if l.Meta == nil {
		return l, fmt.Errorf("parsing %s: no _meta section", pipenvLock)
	}
	return l, nil
}

// pin is what e pins: its version, or "@ URL" for a VCS, file or path entry.
func (e pipenvLockEntry) pin() string {
	switch {
	case e.Version != "":
		return strings.TrimPrefix(strings.TrimPrefix(e.Version, "=="), "=")
	case e.Git != "":
		return "@ git+" + e.Git + "@" + e.Ref
	case e.File != "":
		return "@ " + e.File
	case e.Path != "":
		return "@ " + e.Path
	}
	return ""
}

// locked is what l says the gated environment holds: its [default] and [develop] pins;
// entries with markers need not be installed, editable and path entries are the
// repository's own code.
func (l pipenvLockFile) locked() map[string]lockedPkg {
	out := map[string]lockedPkg{}
	for name, e := range l.entries() {
		lp := lockedPkg{pin: e.pin(), required: e.Markers == "", local: e.Editable || e.Path != ""}
		if e.Version != "" {
			lp.versions = []string{e.pin()}
		}
		out[name] = lp
	}
	return out
}
