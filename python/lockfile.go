package python

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
)

// The freezing both pip and pipenv share: what a gated virtualenv holds, read as `pip freeze
// --exclude-editable` would print it, and facts about its interpreter.

// excludedFromLock are installer tooling that `pip freeze` may list but that a service's
// lockfile must not pin. pkg-resources==0.0.0 is an artefact of Debian's virtualenvs that
// cannot be installed from an index.
var excludedFromLock = map[string]bool{
	"pip": true, "setuptools": true, "wheel": true, "distribute": true,
	"pipenv": true, "pkg-resources": true,
}

var nonCanonical = regexp.MustCompile(`[-_.]+`)

// CanonicalName normalises a Python distribution name as PEP 503 does: lower case, runs of
// "-", "_" and "." replaced by one "-".
func CanonicalName(name string) string {
	return nonCanonical.ReplaceAllString(strings.ToLower(strings.TrimSpace(name)), "-")
}

// installedPkg is one line of pip freeze.
type installedPkg struct {
	name    string // canonical
	version string // "4.2.11", or "" for a direct reference
	line    string // the normalised requirement line
}

// pin is what p pins: its version, or "@ URL" for a direct reference.
func (p installedPkg) pin() string {
	if p.version != "" {
		return p.version
	}
	_, url, _ := strings.Cut(p.line, " @ ")
	return "@ " + url
}

// envInfo is what venvInfo learns about a virtualenv's interpreter.
type envInfo struct {
	// Version is the Python version ("3.11.7").
	Version string `json:"version"`
	// Tooling is the canonical names of the roots frozenVenv was given (pipenv, the
	// repository's DevTools) and everything they require, transitively, as installed in the
	// environment: what the gates installed besides the service's dependencies.
	Tooling []string `json:"tooling"`
}

// infoScript prints envInfo as JSON for the roots named by its arguments. The closure of their
// requirements ignores environment markers (an over-approximation: it is only used to tell
// tooling from unlocked packages, never to drop a locked one).
const infoScript = `
import importlib.metadata as md, json, platform, re, sys
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
for root in sys.argv[1:]:
    walk(root)
print(json.dumps({"version": platform.python_version(), "tooling": sorted(seen)}))
`

// frozenVenv returns what `pip freeze --exclude-editable` would list in the virtualenv venv,
// read from its metadata (FreezeRequirements: a virtualenv uv made has no pip), installer
// tooling excluded, and facts about its interpreter (asked of venv/bin/python; the version is
// the one its pyvenv.cfg records, when it does: a virtualenv an engine exported from a
// container is read with the host's interpreter of the same minor version), the closure of the
// distributions roots among them.
func frozenVenv(ctx context.Context, venv string, roots []string) ([]installedPkg, envInfo, error) {
	python := filepath.Join(venv, "bin", "python")
	var info envInfo
	cmd := exec.CommandContext(ctx, python, append([]string{"-c", infoScript}, roots...)...)
	cmd.Env = isolatedEnv(venv)
	out, err := cmd.Output()
	if err != nil {
		return nil, info, fmt.Errorf("running %q: %w%s", python, err, stderrOf(err))
	}
	if err := json.Unmarshal(out, &info); err != nil || info.Version == "" {
		return nil, info, fmt.Errorf("reading the environment of %q: unexpected output %q", python, out)
	}
	if v := venvVersion(venv); v != "" {
		info.Version = v
	}
	lines, err := FreezeRequirements(venv)
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

// isolatedEnv is the environment a virtualenv's interpreter is asked about in: its bin first
// on PATH, nothing that could add or hide distributions (PYTHONPATH, PYTHONHOME, user
// site-packages).
func isolatedEnv(venv string) []string {
	env := []string{
		"PATH=" + filepath.Join(venv, "bin") + string(os.PathListSeparator) + os.Getenv("PATH"),
		"VIRTUAL_ENV=" + venv,
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

// parseFreeze parses `pip freeze` output, sorted by canonical name. Comments (pip's warnings
// about unknown origins) and blank lines are skipped; installer tooling is left out; editable
// lines are rejected (--exclude-editable should have removed them).
func parseFreeze(out string) ([]installedPkg, error) {
	byName := map[string]installedPkg{}
	for i, raw := range strings.Split(out, "\n") {
		line := strings.TrimSpace(raw)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		p, ok := parseFreezeLine(line)
		if !ok {
			return nil, fmt.Errorf("line %d: unexpected line %q (expected name==version or name @ url)", i+1, line)
		}
		if !excludedFromLock[p.name] {
			byName[p.name] = p
		}
	}
	pkgs := make([]installedPkg, 0, len(byName))
	for _, p := range byName {
		pkgs = append(pkgs, p)
	}
	sort.Slice(pkgs, func(i, j int) bool { return pkgs[i].name < pkgs[j].name })
	return pkgs, nil
}

// parseFreezeLine parses one name==version or name @ url line.
func parseFreezeLine(line string) (installedPkg, bool) {
	if m := pinRE.FindStringSubmatch(line); m != nil {
		p := installedPkg{name: CanonicalName(m[1]), version: m[4]}
		p.line = p.name + m[3] + p.version
		return p, true
	}
	if m := directRE.FindStringSubmatch(line); m != nil {
		p := installedPkg{name: CanonicalName(m[1])}
		p.line = p.name + " @ " + m[3]
		return p, true
	}
	return installedPkg{}, false
}

// venvVersion is the full Python version venv's pyvenv.cfg records ("version" as venv writes it,
// "version_info" as uv does), "" when it records none.
func venvVersion(venv string) string {
	b, err := os.ReadFile(filepath.Join(venv, "pyvenv.cfg"))
	if err != nil {
		return ""
	}
	for _, line := range strings.Split(string(b), "\n") {
		k, v, ok := strings.Cut(line, "=")
		if k = strings.TrimSpace(k); ok && (k == "version" || k == "version_info") {
			if v = strings.TrimSpace(v); v != "" {
				return v
			}
		}
	}
	return ""
}
