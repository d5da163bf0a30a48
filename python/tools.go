package python

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
)

// Tools finds and provisions the Python packaging tools convoy runs. Provisioned tools live
// under CACHE/tools, uv's cache under CACHE/uv, so that a cache directory shared by
// repositories (or by tests) shares them too. It is safe for concurrent use, and for several
// convoy processes on one cache directory.
type Tools struct {
	cacheDir string
	python   string // interpreter that provisions tools and that uv installs with
	uvPath   string // a uv to use as it is

	uvOnce sync.Once
	uv     *UV
	uvErr  error

	pyOnce sync.Once
	pyPath string
	pyErr  error

	poetryOnce sync.Once
	poetry     *Poetry
	poetryErr  error
}

// Option configures Tools.
type Option func(*Tools)

// WithUV uses the uv at path (of any version) instead of finding or provisioning one.
func WithUV(path string) Option { return func(t *Tools) { t.uvPath = path } }

// WithPython sets the host interpreter that provisions tools with pip and that uv is pointed at
// when it installs for a Target (default python3 on PATH).
func WithPython(path string) Option { return func(t *Tools) { t.python = path } }

// NewTools returns the tools kept under cacheDir (see DefaultCacheDir).
func NewTools(cacheDir string, opts ...Option) *Tools {
	t := &Tools{cacheDir: cacheDir, python: "python3"}
	for _, o := range opts {
		o(t)
	}
	return t
}

// DefaultCacheDir is $CONVOY_CACHE_DIR, else convoy's directory in the user's cache
// (~/.cache/convoy): where tools live when nothing says otherwise.
func DefaultCacheDir() string {
	if d := os.Getenv("CONVOY_CACHE_DIR"); d != "" {
		return d
	}
	if d, err := os.UserCacheDir(); err == nil {
		return filepath.Join(d, "convoy")
	}
	return filepath.Join(os.TempDir(), "convoy-cache")
}

// CacheDir is the directory the tools are kept under.
func (t *Tools) CacheDir() string { return t.cacheDir }

// UV returns uv UVVersion, once per Tools: the one WithUV names; else a uv of that version on
// PATH; else the one provisioned under CACHE/tools, installed there first when missing.
func (t *Tools) UV(ctx context.Context) (*UV, error) {
	t.uvOnce.Do(func() { t.uv, t.uvErr = t.findUV(ctx) })
	return t.uv, t.uvErr
}

func (t *Tools) findUV(ctx context.Context) (*UV, error) {
	cache := filepath.Join(t.cacheDir, "uv")
	if t.uvPath != "" {
		v, err := uvVersion(ctx, t.uvPath)
		if err != nil {
			return nil, fmt.Errorf("using uv %s: %w", t.uvPath, err)
		}
		return &UV{Path: t.uvPath, Version: v, CacheDir: cache}, nil
	}
	if p, err := exec.LookPath("uv"); err == nil {
		if v, err := uvVersion(ctx, p); err == nil && v == UVVersion {
			return &UV{Path: p, Version: v, CacheDir: cache}, nil
		}
	}
	python, err := t.Python(ctx)
	if err != nil {
		return nil, fmt.Errorf("provisioning uv %s: %w", UVVersion, err)
	}
	p, err := ProvisionUV(ctx, filepath.Join(t.cacheDir, "tools"), python)
	if err != nil {
		return nil, err
	}
	return &UV{Path: p, Version: UVVersion, CacheDir: cache}, nil
}

// Python returns the real executable of the host interpreter (WithPython, default python3 on
// PATH), resolved once through sys.executable so that shims (pyenv) are run only once.
func (t *Tools) Python(ctx context.Context) (string, error) {
	t.pyOnce.Do(func() { t.pyPath, t.pyErr = realPython(ctx, t.python) })
	return t.pyPath, t.pyErr
}

// realPython asks the interpreter python for its executable.
func realPython(ctx context.Context, python string) (string, error) {
	p, err := exec.LookPath(python)
	if err != nil {
		return "", fmt.Errorf("finding the host's Python: %w (install Python 3, or put it on PATH)", err)
	}
	var out strings.Builder
	if err := run(ctx, []string{p, "-c", "import sys; print(sys.executable)"}, Exec{}, &out); err != nil {
		return "", fmt.Errorf("asking %s for its executable: %w", p, err)
	}
	real := strings.TrimSpace(out.String())
	if real == "" {
		return "", fmt.Errorf("asking %s for its executable: it has none (sys.executable is empty)", p)
	}
	return real, nil
}

// Interpreter is the program convoy runs for Python version ("3.11" → "python3.11"), looked up
// on PATH.
func Interpreter(version string) string { return "python" + version }

// Installed returns where program (UVProgram or PoetryProgram) is at the version convoy pins
// (UVVersion, PoetryVersion) without installing anything: uv on PATH, else the one provisioned
// under CACHE/tools. ok is false when it would be provisioned on first use.
func (t *Tools) Installed(ctx context.Context, program string) (path string, ok bool) {
	switch program {
	case UVProgram:
		if p, err := exec.LookPath("uv"); err == nil {
			if v, err := uvVersion(ctx, p); err == nil && v == UVVersion {
				return p, true
			}
		}
		p := UVBin(filepath.Join(t.cacheDir, "tools", "uv-"+UVVersion))
		if v, err := uvVersion(ctx, p); err == nil && v == UVVersion {
			return p, true
		}
	case PoetryProgram:
		p := PoetryBin(filepath.Join(t.cacheDir, "tools", "poetry-"+PoetryVersion))
		if v, err := poetryVersion(ctx, p); err == nil && v == PoetryVersion {
			return p, true
		}
	}
	return "", false
}
