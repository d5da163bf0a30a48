package python

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/convoy-ci/convoy/internal/filelock"
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
// python) when it is not there. A file lock serialises convoy processes that provision at once;
// the install goes to a temporary directory renamed into place once `uv --version` answers, so
// that a half-made install is never used.
func ProvisionUV(ctx context.Context, toolsDir, python string) (string, error) {
	dir := filepath.Join(toolsDir, "uv-"+UVVersion)
	bin := UVBin(dir)
	if v, err := uvVersion(ctx, bin); err == nil && v == UVVersion {
		return bin, nil
	}
	if err := os.MkdirAll(toolsDir, 0o755); err != nil {
		return "", fmt.Errorf("provisioning uv %s: %w", UVVersion, err)
	}
	unlock, err := filelock.Lock(ctx, dir+".lock")
	if err != nil {
		return "", fmt.Errorf("provisioning uv %s: %w", UVVersion, err)
	}
	defer unlock()
	if v, err := uvVersion(ctx, bin); err == nil && v == UVVersion {
		return bin, nil // another process provisioned it while this one waited
	}
	if err := installUV(ctx, toolsDir, dir, python); err != nil {
		return "", fmt.Errorf("provisioning uv %s into %s: %w (make PyPI reachable, or put uv %s on PATH)", UVVersion, dir, err, UVVersion)
	}
	return bin, nil
}

// installUV installs uv into a temporary directory of toolsDir, checks it and renames it to dir.
func installUV(ctx context.Context, toolsDir, dir, python string) error {
	tmp, err := os.MkdirTemp(toolsDir, ".uv-"+UVVersion+"-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	env := append(os.Environ(), "PYTHONDONTWRITEBYTECODE=1")
	if err := run(ctx, UVInstallArgv(python, tmp), Exec{Env: env}, nil); err != nil {
		return err
	}
	v, err := uvVersion(ctx, UVBin(tmp))
	if err != nil {
		return fmt.Errorf("checking the installed uv: %w", err)
	}
	if v != UVVersion {
		return fmt.Errorf("the installed uv says it is %s", v)
	}
	if err := os.RemoveAll(dir); err != nil {
		return err
	}
	return os.Rename(tmp, dir)
}
