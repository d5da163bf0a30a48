package python

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// UVVersion is the uv release convoy runs: the one Tools provisions from PyPI (the uv wheel
// carries the binary) and the one it accepts on PATH.
const UVVersion = "0.13.9"

// UV is a uv binary convoy runs.
type UV struct {
	// Path is the executable.
	Path string
	// Version is what it says it is, "0.13.9".
	Version string
	// CacheDir is its cache (UV_CACHE_DIR); "" means uv's own default.
	CacheDir string
}

// Installer names u in cache keys and messages: "uv 0.13.9".
func (u *UV) Installer() string { return "uv " + u.Version }

// Env returns the environment uv runs with: base (nil: convoy's own) with UVEnv(u.CacheDir,
// base) set.
func (u *UV) Env(base []string) []string {
	env := append([]string(nil), environ(base)...)
	set := UVEnv(u.CacheDir, env)
	keys := make([]string, 0, len(set))
	for k := range set {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		env = append(env, k+"="+set[k])
	}
	return env
}

// UVEnv returns the variables convoy sets for uv in an environment env: its cache
// (UV_CACHE_DIR, unless cacheDir is ""), no Python downloads, no progress bars, and uv's
// equivalents of the pip settings of env (PIP_INDEX_URL, PIP_EXTRA_INDEX_URL, PIP_FIND_LINKS,
// PIP_NO_INDEX, PIP_TRUSTED_HOST, PIP_CERT), so that uv reaches the package index pip does. A
// uv setting env has already is left alone. With extra indexes, uv is told to pick the best
// match across indexes, as pip does.
func UVEnv(cacheDir string, env []string) map[string]string {
	out := map[string]string{"UV_PYTHON_DOWNLOADS": "never", "UV_NO_PROGRESS": "1"}
	if cacheDir != "" {
		out["UV_CACHE_DIR"] = cacheDir
	}
	pairs := [][2]string{
		{"PIP_INDEX_URL", "UV_INDEX_URL"}, {"PIP_EXTRA_INDEX_URL", "UV_EXTRA_INDEX_URL"},
		{"PIP_FIND_LINKS", "UV_FIND_LINKS"}, {"PIP_TRUSTED_HOST", "UV_INSECURE_HOST"},
		{"PIP_CERT", "SSL_CERT_FILE"},
	}
	for _, p := range pairs {
		v, ok := lookupEnv(env, p[0])
		if _, set := lookupEnv(env, p[1]); ok && v != "" && !set {
			out[p[1]] = v
		}
	}
	if _, ok := out["UV_EXTRA_INDEX_URL"]; ok {
		if _, set := lookupEnv(env, "UV_INDEX_STRATEGY"); !set {
			out["UV_INDEX_STRATEGY"] = "unsafe-best-match"
		}
	}
	if v, ok := lookupEnv(env, "PIP_NO_INDEX"); ok && truthy(v) {
		if _, set := lookupEnv(env, "UV_NO_INDEX"); !set {
			out["UV_NO_INDEX"] = "1"
		}
	}
	return out
}

func truthy(v string) bool {
	switch strings.ToLower(strings.TrimSpace(v)) {
	case "1", "true", "yes", "on":
		return true
	}
	return false
}

// uvVersion runs `uv --version` and returns the version it prints ("0.13.9").
func uvVersion(ctx context.Context, path string) (string, error) {
	var out strings.Builder
	if err := run(ctx, []string{path, "--version"}, Exec{}, &out); err != nil {
		return "", err
	}
	f := strings.Fields(out.String())
	if len(f) < 2 || f[0] != "uv" {
		return "", fmt.Errorf("%s --version printed %q, not uv's version", path, strings.TrimSpace(out.String()))
	}
	return f[1], nil
}

// UVInstallArgv installs uv UVVersion from PyPI into dir with python's pip (its binary ends up
// in dir/bin/uv): how Tools provisions uv on the host, and how an engine can in a container.
func UVInstallArgv(python, dir string) []string {
	return []string{python, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "--no-input",
		"--no-deps", "--only-binary=:all:", "--target", dir, "uv==" + UVVersion}
}

// UVBin is where UVInstallArgv(python, dir) puts the uv binary.
func UVBin(dir string) string { return filepath.Join(dir, "bin", "uv") }

// ProvisionUV returns toolsDir/uv-UVVersion/bin/uv, installing it first (UVInstallArgv, with
// python) when it is not there (provision: one process at a time, never half-made).
func ProvisionUV(ctx context.Context, toolsDir, python string) (string, error) {
	return provision(ctx, toolsDir, provisioned{name: "uv", version: UVVersion, bin: UVBin, versionOf: uvVersion,
		install: func(ctx context.Context, tmp string) (string, error) {
			env := append(os.Environ(), "PYTHONDONTWRITEBYTECODE=1")
			return tmp, run(ctx, UVInstallArgv(python, tmp), Exec{Env: env}, nil)
		},
		hint: "make PyPI reachable, or put uv " + UVVersion + " on PATH"})
}
