package release

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"regexp"
	"sort"
	"strings"

	convoypy "github.com/convoy-ci/convoy/python"
	"github.com/convoy-ci/convoy/repo"
)

// Dependency tools a service can use (services.yaml `deps`).
const (
	DepsPip    = "pip"
	DepsPipenv = "pipenv"
)

// Lockfile names, inside the service directory.
const (
	PipLockfile    = "requirements.lock"
	PipenvLockfile = "Pipfile.lock"
)

// Service is what freezing one service needs: where it lives and the
// environment that passed its gates.
type Service struct {
	// Name is the service's name in services.yaml.
	Name string
	// Dir is the service directory, slash-separated and relative to the
	// repository root ("services/auth").
	Dir string
	// Deps is DepsPip or DepsPipenv.
	Deps string
	// Python is the path of the interpreter of the virtualenv that passed
	// the service's gates.
	Python string
	// PipenvLock (pipenv only) is the Pipfile.lock pipenv wrote when it
	// installed that virtualenv. When empty, the committed Pipfile.lock is
	// used. Either way it is checked against what the virtualenv actually
	// contains, and freezing fails if it does not describe it.
	PipenvLock string
}

// Lockfile is the outcome of freezing one service.
type Lockfile struct {
	// Service is the service's name.
	Service string
	// Path is the lockfile's path, slash-separated, relative to the
	// repository root ("services/auth/Pipfile.lock").
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

// excludedFromLock are installer tooling that `pip freeze` may list but that
// a service's lockfile must not pin. pkg-resources==0.0.0 is an artefact of
// Debian's virtualenvs that cannot be installed from an index.
var excludedFromLock = map[string]bool{
	"pip": true, "setuptools": true, "wheel": true, "distribute": true,
	"pipenv": true, "pkg-resources": true,
}

var nonCanonical = regexp.MustCompile(`[-_.]+`)

// CanonicalName normalises a Python distribution name as PEP 503 does:
// lower case, runs of "-", "_" and "." replaced by one "-".
func CanonicalName(name string) string {
	return nonCanonical.ReplaceAllString(strings.ToLower(strings.TrimSpace(name)), "-")
}

// LockfilePath returns where svc's lockfile lives, relative to the
// repository root.
func LockfilePath(svc Service) (string, error) {
	dir := path.Clean(strings.TrimSuffix(svc.Dir, "/"))
	if svc.Dir == "" || strings.HasPrefix(dir, "/") || dir == ".." || strings.HasPrefix(dir, "../") {
		return "", fmt.Errorf("service %q: invalid directory %q", svc.Name, svc.Dir)
	}
	switch svc.Deps {
	case DepsPip, "":
		return path.Join(dir, PipLockfile), nil
	case DepsPipenv:
		return path.Join(dir, PipenvLockfile), nil
	}
	return "", fmt.Errorf("service %q: unknown deps tool %q (want %q or %q)", svc.Name, svc.Deps, DepsPip, DepsPipenv)
}

// Freeze computes svc's lockfile from its gated environment and compares it
// with the one committed at HEAD in r. It writes nothing.
//
// pip: what `pip freeze --exclude-editable` would print, read from the
// virtualenv's metadata (it may have no pip: uv made it), normalised — canonical
// names, sorted, installer tooling (pip, setuptools, wheel, pipenv) left
// out — under a header naming the Python version.
//
// pipenv: the Pipfile.lock pipenv wrote for the environment (svc.PipenvLock,
// else the committed one), byte for byte, after checking that every
// installed package is pinned in it at the installed version and that every
// unconditional pin is installed.
func Freeze(ctx context.Context, r *repo.Repo, svc Service) (Lockfile, error) {
	lf, err := compute(ctx, r, svc)
	if err != nil {
		return Lockfile{}, err
	}
	prev, err := r.ReadFile("HEAD", lf.Path)
	switch {
	case err == nil:
		lf.Previous = prev
	case errors.Is(err, os.ErrNotExist), errors.Is(err, repo.ErrNoCommits):
	default:
		return Lockfile{}, fmt.Errorf("freezing service %q: reading committed %q: %w", svc.Name, lf.Path, err)
	}
	lf.Changed = lf.Previous == nil || !bytes.Equal(lf.Previous, lf.Content)
	if lf.Changed {
		old := map[string]string{}
		if lf.Previous != nil {
			if old, err = lockPackages(svc.Deps, lf.Previous); err != nil {
				old = map[string]string{} // an unparsable old lockfile: everything is new
			}
		}
		lf.Changes = packageChanges(old, lf.Packages)
		lf.Diff = unifiedDiff(lf.Path, lf.Previous, lf.Content)
	}
	return lf, nil
}

// FreezeAll freezes every service, in order.
func FreezeAll(ctx context.Context, r *repo.Repo, services []Service) ([]Lockfile, error) {
	out := make([]Lockfile, 0, len(services))
	for _, s := range services {
		lf, err := Freeze(ctx, r, s)
		if err != nil {
			return nil, err
		}
		out = append(out, lf)
	}
	return out, nil
}

// CheckResult is the outcome of Check.
type CheckResult struct {
	// Lockfiles has one entry per service, in the order given.
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

func compute(ctx context.Context, r *repo.Repo, svc Service) (Lockfile, error) {
	p, err := LockfilePath(svc)
	if err != nil {
		return Lockfile{}, err
	}
	if svc.Python == "" {
		return Lockfile{}, fmt.Errorf("freezing service %q: no python interpreter given", svc.Name)
	}
	installed, info, err := pipFreeze(ctx, svc.Python)
	if err != nil {
		return Lockfile{}, fmt.Errorf("freezing service %q: %w", svc.Name, err)
	}
	lf := Lockfile{Service: svc.Name, Path: p}
	switch svc.Deps {
	case DepsPip, "":
		lf.Content, lf.Packages = renderRequirementsLock(svc.Name, info.Version, installed)
	case DepsPipenv:
		var src string
		var content []byte
		if svc.PipenvLock != "" {
			src = svc.PipenvLock
			if content, err = os.ReadFile(svc.PipenvLock); err != nil {
				return Lockfile{}, fmt.Errorf("freezing service %q: reading pipenv lock %q: %w", svc.Name, svc.PipenvLock, err)
			}
		} else {
			src = p + " (committed)"
			if content, err = r.ReadFile("HEAD", p); err != nil {
				return Lockfile{}, fmt.Errorf("freezing service %q: no Pipfile.lock given and none committed at %q: %w", svc.Name, p, err)
			}
		}
		pkgs, err := verifyPipenvLock(installed, info.Tooling, content)
		if err != nil {
			return Lockfile{}, fmt.Errorf("freezing service %q: %s does not describe the environment of %q: %w", svc.Name, src, svc.Python, err)
		}
		lf.Content, lf.Packages = content, pkgs
	}
	sum := sha256.Sum256(lf.Content)
	lf.SHA256 = hex.EncodeToString(sum[:])
	return lf, nil
}

// installedPkg is one line of pip freeze.
type installedPkg struct {
	name    string // canonical
	version string // "4.2.11", or "" for a direct reference
	line    string // the normalised requirement line
}

// envInfo is what pipFreeze learns about an environment.
type envInfo struct {
	// Version is the Python version ("3.11.7").
	Version string `json:"version"`
	// Tooling is the canonical names of pipenv and everything it requires,
	// transitively, as installed in the environment (empty without pipenv).
	Tooling []string `json:"tooling"`
}

// infoScript prints envInfo as JSON. The closure of pipenv's requirements
// ignores environment markers (an over-approximation: it is only used to
// tell tooling from unlocked packages, never to drop a locked one).
const infoScript = `
import importlib.metadata as md, json, platform, re
def canon(n): return re.sub(r"[-_.]+", "-", n).lower()
seen = set()
def walk(name):
    try:
        d = md.distribution(name)
    except md.PackageNotFoundError:
        return
    key = canon(d.metadata["Name"])
    if key in seen:
        return
    seen.add(key)
    for r in d.requires or []:
        req, _, marker = r.partition(";")
        if "extra" in marker:
            continue
        m = re.match(r"\s*([A-Za-z0-9][A-Za-z0-9._-]*)", req)
        if m:
            walk(m.group(1))
walk("pipenv")
print(json.dumps({"version": platform.python_version(), "tooling": sorted(seen)}))
`

// pipFreeze returns what `pip freeze --exclude-editable` would list in the
// virtualenv of the interpreter python (its bin/python), read from the
// virtualenv's metadata (python.FreezeRequirements) without pip, installer
// tooling excluded, and facts about the environment (asked of python).
func pipFreeze(ctx context.Context, python string) ([]installedPkg, envInfo, error) {
	env := pythonEnv(python)
	var info envInfo
	cmd := exec.CommandContext(ctx, python, "-c", infoScript)
	cmd.Env = env
	out, err := cmd.Output()
	if err != nil {
		return nil, info, fmt.Errorf("running %q: %w%s", python, err, stderrOf(err))
	}
	if err := json.Unmarshal(out, &info); err != nil || info.Version == "" {
		return nil, info, fmt.Errorf("reading the environment of %q: unexpected output %q", python, out)
	}
	// The virtualenv's metadata, as pip freeze would print it: a virtualenv uv made has no pip.
	venv := filepath.Dir(filepath.Dir(python))
	lines, err := convoypy.FreezeRequirements(venv)
	if err != nil {
		return nil, info, fmt.Errorf("freezing the environment of %q: %w", python, err)
	}
	pkgs, err := parseFreeze(strings.Join(lines, "\n"))
	if err != nil {
		return nil, info, fmt.Errorf("parsing the packages of %q: %w", python, err)
	}
	return pkgs, info, nil
}

func stderrOf(err error) string {
	var ee *exec.ExitError
	if errors.As(err, &ee) && len(ee.Stderr) > 0 {
		return ": " + strings.TrimSpace(string(ee.Stderr))
	}
	return ""
}

// pythonEnv is the environment pip runs in: the virtualenv's bin first on
// PATH, nothing that could add or hide distributions (PYTHONPATH,
// PYTHONHOME, user site-packages), no pip self-check.
func pythonEnv(python string) []string {
	bin := filepath.Dir(python)
	env := []string{
		"PATH=" + bin + string(os.PathListSeparator) + os.Getenv("PATH"),
		"VIRTUAL_ENV=" + filepath.Dir(bin),
		"PYTHONNOUSERSITE=1",
		"PYTHONDONTWRITEBYTECODE=1",
		"PIP_DISABLE_PIP_VERSION_CHECK=1",
		"PIP_NO_INPUT=1",
		"PIP_NO_COLOR=1",
		"LC_ALL=C.UTF-8",
	}
	if h := os.Getenv("HOME"); h != "" {
		env = append(env, "HOME="+h)
	}
	return env
}

var (
	pinRE    = regexp.MustCompile(`^([A-Za-z0-9][A-Za-z0-9._-]*)(\[[^\]]*\])?\s*(===?)\s*([^\s;#]+)\s*$`)
	directRE = regexp.MustCompile(`^([A-Za-z0-9][A-Za-z0-9._-]*)(\[[^\]]*\])?\s+@\s+(\S+)\s*$`)
)

// parseFreeze parses `pip freeze` output. Comments (pip's warnings about
// unknown origins) and blank lines are skipped; installer tooling is left
// out; editable lines are rejected (--exclude-editable should have removed
// them).
func parseFreeze(out string) ([]installedPkg, error) {
	byName := map[string]installedPkg{}
	for _, raw := range strings.Split(out, "\n") {
		line := strings.TrimSpace(raw)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		var p installedPkg
		if m := pinRE.FindStringSubmatch(line); m != nil {
			p = installedPkg{name: CanonicalName(m[1]), version: m[4]}
			p.line = p.name + m[3] + p.version
		} else if m := directRE.FindStringSubmatch(line); m != nil {
			p = installedPkg{name: CanonicalName(m[1])}
			p.line = p.name + " @ " + m[3]
		} else {
			return nil, fmt.Errorf("unexpected line %q", line)
		}
		if excludedFromLock[p.name] {
			continue
		}
		byName[p.name] = p
	}
	out2 := make([]installedPkg, 0, len(byName))
	for _, p := range byName {
		out2 = append(out2, p)
	}
	sort.Slice(out2, func(i, j int) bool { return out2[i].name < out2[j].name })
	return out2, nil
}

func renderRequirementsLock(service, pyVersion string, pkgs []installedPkg) ([]byte, map[string]string) {
	var b bytes.Buffer
	fmt.Fprintf(&b, "# requirements.lock of service %q: the exact packages installed in the\n", service)
	b.WriteString("# environment that passed its gates. Written by `convoy release`; do not edit.\n")
	fmt.Fprintf(&b, "# python %s\n", pyVersion)
	m := map[string]string{}
	for _, p := range pkgs {
		b.WriteString(p.line)
		b.WriteByte('\n')
		m[p.name] = pinOf(p)
	}
	return b.Bytes(), m
}

func pinOf(p installedPkg) string {
	if p.version != "" {
		return p.version
	}
	_, url, _ := strings.Cut(p.line, " @ ")
	return "@ " + url
}

// pipenvLock is the part of Pipfile.lock convoy reads.
type pipenvLock struct {
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

// lockPackages returns name → pin for a lockfile of the given tool.
func lockPackages(deps string, content []byte) (map[string]string, error) {
	if deps == DepsPipenv {
		var l pipenvLock
		if err := json.Unmarshal(content, &l); err != nil {
			return nil, err
		}
		m := map[string]string{}
		for _, sec := range []map[string]pipenvLockEntry{l.Default, l.Develop} {
			for n, e := range sec {
				m[CanonicalName(n)] = pipenvPin(e)
			}
		}
		return m, nil
	}
	pkgs, err := parseFreeze(string(content))
	if err != nil {
		return nil, err
	}
	m := map[string]string{}
	for _, p := range pkgs {
		m[p.name] = pinOf(p)
	}
	return m, nil
}

func pipenvPin(e pipenvLockEntry) string {
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

// verifyPipenvLock checks that the lock describes the installed packages:
// every installed package is pinned at its installed version, and every
// pin without environment markers is installed. Packages that are not
// locked but belong to tooling (pipenv and its requirements, installed in
// the environment to run pipenv) are not the service's and are skipped; a
// tooling package that is also locked is checked like any other. Editable
// and local-path entries are not compared (pip freeze --exclude-editable
// hides them).
func verifyPipenvLock(installed []installedPkg, tooling []string, content []byte) (map[string]string, error) {
	isTooling := map[string]bool{}
	for _, n := range tooling {
		isTooling[CanonicalName(n)] = true
	}
	var l pipenvLock
	if err := json.Unmarshal(content, &l); err != nil {
		return nil, fmt.Errorf("parsing Pipfile.lock: %w", err)
	}
	if l.Meta == nil {
		return nil, errors.New("parsing Pipfile.lock: no _meta section")
	}
	type pin struct {
		e    pipenvLockEntry
		name string
	}
	pins := map[string]pin{}
	for _, sec := range []map[string]pipenvLockEntry{l.Default, l.Develop} {
		for n, e := range sec {
			pins[CanonicalName(n)] = pin{e, n}
		}
	}
	have := map[string]installedPkg{}
	var problems []string
	for _, p := range installed {
		have[p.name] = p
		pn, ok := pins[p.name]
		if !ok && isTooling[p.name] {
			continue
		}
		if !ok {
			problems = append(problems, fmt.Sprintf("%s is installed but not in the lock", strings.TrimSpace(p.line)))
			continue
		}
		if pn.e.Version != "" && p.version != "" && !strings.EqualFold(pipenvPin(pn.e), p.version) {
			problems = append(problems, fmt.Sprintf("%s is installed at %s but locked at %s", p.name, p.version, pipenvPin(pn.e)))
		}
	}
	pkgs := map[string]string{}
	for name, pn := range pins {
		pkgs[name] = pipenvPin(pn.e)
		if pn.e.Editable || pn.e.Path != "" || excludedFromLock[name] {
			continue
		}
		if _, ok := have[name]; !ok && pn.e.Markers == "" {
			problems = append(problems, fmt.Sprintf("%s %s is locked but not installed", name, pipenvPin(pn.e)))
		}
	}
	if len(problems) > 0 {
		sort.Strings(problems)
		return nil, errors.New(strings.Join(problems, "; "))
	}
	return pkgs, nil
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
