package python

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
)

// The one comparison behind every tool's Freeze: does a lockfile describe the environment the
// gates installed? Each tool reads its lock into lockedPkgs (its own rules for what a gated
// environment must hold); the comparison and its messages are the same for all.

// lockedPkg is what a lockfile says about one package, for comparing it with an environment.
type lockedPkg struct {
	// versions are the versions the lock holds (several where markers pick one); a package
	// installed at another is refused. Empty for direct references, which are not compared.
	versions []string
	// pin is the lock's pin, for messages ("4.2.11", "@ git+…").
	pin string
	// required says the package is installed wherever the lock applies (no markers, not
	// optional, in a group the gates install): a gated environment without it is refused.
	required bool
	// local marks a path or editable entry (the repository's own code): never compared.
	local bool
}

// lockDescribes checks that lock describes installed (a gated environment, as pip freeze
// lists it): every installed package is locked at its installed version, and every required
// package is installed. Installed packages the lock does not hold are allowed when they are
// extra — installer tooling, pipenv and its requirements, the repository's DevTools and their
// requirements: what the gates put there besides the service's own dependencies — while an
// extra package the lock holds is compared like any other.
func lockDescribes(lock map[string]lockedPkg, installed []installedPkg, extra []string) error {
	isExtra := map[string]bool{}
	for _, n := range extra {
		isExtra[CanonicalName(n)] = true
	}
	have := map[string]bool{}
	var problems []string
	for _, p := range installed {
		have[p.name] = true
		l, ok := lock[p.name]
		switch {
		case !ok && (isExtra[p.name] || excludedFromLock[p.name]):
		case !ok:
			problems = append(problems, fmt.Sprintf("%s is installed but not locked", strings.TrimSpace(p.line)))
		case l.local || len(l.versions) == 0 || p.version == "":
		case !slices.ContainsFunc(l.versions, func(v string) bool { return strings.EqualFold(v, p.version) }):
			problems = append(problems, fmt.Sprintf("%s is installed at %s but locked at %s", p.name, p.version, l.pin))
		}
	}
	for name, l := range lock {
		if l.required && !l.local && !excludedFromLock[name] && !have[name] {
			problems = append(problems, fmt.Sprintf("%s %s is locked but not installed", name, l.pin))
		}
	}
	if len(problems) > 0 {
		sort.Strings(problems)
		return errors.New(strings.Join(problems, "; "))
	}
	return nil
}

// checkFrozen reads the gated environment e of p and checks that lock (the file at file, for
// messages) describes it: the comparison every tool's Freeze makes.
func checkFrozen(ctx context.Context, p Project, file string, lock map[string]lockedPkg, e Env) error {
	installed, info, err := frozenVenv(ctx, e.Venv, extraRoots(e.DevTools, p.Root))
	if err != nil {
		return err
	}
	if err := lockDescribes(lock, installed, info.Tooling); err != nil {
		return fmt.Errorf("%s does not describe the environment %s: %w", file, e.Venv, err)
	}
	return nil
}

var requirementName = regexp.MustCompile(`^\s*([A-Za-z0-9][A-Za-z0-9._-]*)`)

// extraRoots are the distributions the gates install besides a service's own dependencies:
// pipenv (where pipenv installed) and the repository's DevTools, its packages and the lines of
// its requirements file (read from the repository at root) that name a package. Their
// requirements, transitively, are extra too (infoScript walks them).
func extraRoots(d DevTools, root string) []string {
	roots := []string{"pipenv"}
	lines := slices.Clone(d.Packages)
	if d.Requirements != "" {
		if data, err := os.ReadFile(filepath.Join(root, filepath.FromSlash(d.Requirements))); err == nil {
			lines = append(lines, strings.Split(string(data), "\n")...)
		}
	}
	for _, l := range lines {
		if m := requirementName.FindStringSubmatch(l); m != nil {
			roots = append(roots, m[1])
		}
	}
	return roots
}
