package pgcluster

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
)

// ErrNoBinaries is returned (wrapped) when initdb, pg_ctl and postgres cannot be found. Its text tells
// how to install them or how to use an existing server instead.
var ErrNoBinaries = errors.New("PostgreSQL server binaries (initdb, pg_ctl, postgres) not found: " +
	"install them (Debian/Ubuntu: apt-get install -y postgresql) " +
	"or point convoy at an existing server with --postgres URL (or integration.postgres in services.yaml)")

// binaries are the programs a throwaway cluster needs, all from one installation.
var binaries = []string{"initdb", "pg_ctl", "postgres"}

// DefaultSearchGlobs are the directories searched, after PATH, for a PostgreSQL installation: Debian's
// and Ubuntu's versioned directories, the PGDG RPMs' and a source build's default prefix.
var DefaultSearchGlobs = []string{
	"/usr/lib/postgresql/*/bin",
	"/usr/pgsql-*/bin",
	"/usr/local/pgsql/bin",
}

// FindBinDir returns a directory holding initdb, pg_ctl and postgres. It looks first in every
// directory of the PATH environment variable (following symbolic links, so that all three come from
// the same installation), then in DefaultSearchGlobs, preferring the newest major version. When none
// is found the error wraps ErrNoBinaries.
func FindBinDir() (string, error) {
	return findBinDir(filepath.SplitList(os.Getenv("PATH")), DefaultSearchGlobs)
}

// FindBinDirIn is FindBinDir searching the directories path, then globs, instead of PATH and
// DefaultSearchGlobs.
func FindBinDirIn(path []string, globs []string) (string, error) { return findBinDir(path, globs) }

func findBinDir(path []string, globs []string) (string, error) {
	for _, dir := range path {
		if dir == "" {
			continue
		}
		initdb := filepath.Join(dir, "initdb")
		if !isExecutable(initdb) {
			continue
		}
		// /usr/local/bin/initdb may be a link into /usr/lib/postgresql/15/bin: use the real directory
		// when it is complete, so postgres finds its share directory and matches initdb's version.
		if real, err := filepath.EvalSymlinks(initdb); err == nil && hasAll(filepath.Dir(real)) {
			return filepath.Dir(real), nil
		}
		if hasAll(dir) {
			return dir, nil
		}
	}
	var candidates []string
	for _, g := range globs {
		m, _ := filepath.Glob(g)
		for _, dir := range m {
			if hasAll(dir) {
				candidates = append(candidates, dir)
			}
		}
	}
	if len(candidates) == 0 {
		return "", fmt.Errorf("searched PATH and %s: %w", strings.Join(globs, ", "), ErrNoBinaries)
	}
	sort.SliceStable(candidates, func(i, j int) bool {
		return versionLess(versionOf(candidates[j]), versionOf(candidates[i]))
	})
	return candidates[0], nil
}

func hasAll(dir string) bool {
	for _, b := range binaries {
		if !isExecutable(filepath.Join(dir, b)) {
			return false
		}
	}
	return true
}

func isExecutable(path string) bool {
	fi, err := os.Stat(path)
	return err == nil && fi.Mode().IsRegular() && fi.Mode().Perm()&0o111 != 0
}

// versionOf extracts the numeric components of the last path element that looks like a version
// ("15", "9.6", "pgsql-16"); paths without one sort lowest.
func versionOf(dir string) []int {
	parts := strings.Split(filepath.ToSlash(dir), "/")
	for i := len(parts) - 1; i >= 0; i-- {
		part := strings.TrimPrefix(parts[i], "pgsql-")
		var v []int
		for _, f := range strings.Split(part, ".") {
			n, err := strconv.Atoi(f)
			if err != nil {
				v = nil
				break
			}
			v = append(v, n)
		}
		if len(v) > 0 {
			return v
		}
	}
	return nil
}

func versionLess(a, b []int) bool {
	for i := 0; i < len(a) && i < len(b); i++ {
		if a[i] != b[i] {
			return a[i] < b[i]
		}
	}
	return len(a) < len(b)
}
