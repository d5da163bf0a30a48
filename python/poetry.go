package python

import (
	"context"
	"fmt"
	"path/filepath"
	"sort"
	"strings"
)

// PoetryVersion is the poetry release convoy runs, provisioned in a virtualenv of its own
// with poetry-plugin-export PoetryExportVersion (for `poetry export`).
const PoetryVersion = "2.5.1"

// PoetryExportVersion is the poetry-plugin-export release provisioned with poetry.
const PoetryExportVersion = "1.10.1"

// Poetry is a poetry convoy runs.
type Poetry struct {
	// Path is the executable.
	Path string
	// Version is PoetryVersion.
	Version string
	// CacheDir is its cache (POETRY_CACHE_DIR).
	CacheDir string
}

// Env returns the environment poetry runs with: base (nil: convoy's own) with
// PoetryEnv(p.CacheDir) set.
func (p *Poetry) Env(base []string) []string {
	env := append([]string(nil), environ(base)...)
	set := PoetryEnv(p.CacheDir)
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

// PoetryEnv returns the variables convoy runs poetry with: its cache (POETRY_CACHE_DIR,
// unless cacheDir is ""), no virtualenv of its own — it installs into the one the command's
// environment activates (VIRTUAL_ENV) — and no keyring, whose backends may prompt or block.
// Commands also pass --no-interaction: poetry has no variable for it.
func PoetryEnv(cacheDir string) map[string]string {
	out := map[string]string{"POETRY_VIRTUALENVS_CREATE": "false", "POETRY_KEYRING_ENABLED": "false"}
	if cacheDir != "" {
		out["POETRY_CACHE_DIR"] = cacheDir
	}
	return out
}

// Poetry returns poetry PoetryVersion, once per Tools: the one provisioned under
// CACHE/tools/poetry-PoetryVersion, installed there first (with UV) when missing. Its cache
// is CACHE/poetry.
func (t *Tools) Poetry(ctx context.Context) (*Poetry, error) {
	t.poetryOnce.Do(func() { t.poetry, t.poetryErr = t.findPoetry(ctx) })
	return t.poetry, t.poetryErr
}

func (t *Tools) findPoetry(ctx context.Context) (*Poetry, error) {
	uv, err := t.UV(ctx)
	if err != nil {
		return nil, fmt.Errorf("provisioning poetry %s: %w", PoetryVersion, err)
	}
	python, err := t.Python(ctx)
	if err != nil {
		return nil, fmt.Errorf("provisioning poetry %s: %w", PoetryVersion, err)
	}
	p, err := ProvisionPoetry(ctx, filepath.Join(t.cacheDir, "tools"), uv, python)
	if err != nil {
		return nil, err
	}
	return &Poetry{Path: p, Version: PoetryVersion, CacheDir: filepath.Join(t.cacheDir, "poetry")}, nil
}

// PoetryProvisionArgv are the commands that make dir a virtualenv of the interpreter python
// holding poetry PoetryVersion and poetry-plugin-export PoetryExportVersion, run by the uv at
// uv (with its Env): how Tools provisions poetry on the host, and how an engine can in a
// container. The virtualenv is relocatable: it may be made elsewhere and renamed to dir.
func PoetryProvisionArgv(uv, python, dir string) [][]string {
	return [][]string{
		{uv, "venv", "--no-config", "--quiet", "--relocatable", "--python", python, dir},
		{uv, "pip", "install", "--no-config", "--quiet", "--python", filepath.Join(dir, "bin", "python"),
			"poetry==" + PoetryVersion, "poetry-plugin-export==" + PoetryExportVersion},
	}
}

// PoetryBin is where PoetryProvisionArgv(uv, python, dir) puts the poetry executable.
func PoetryBin(dir string) string { return filepath.Join(dir, "bin", "poetry") }

// ProvisionPoetry returns toolsDir/poetry-PoetryVersion/bin/poetry, installing it first
// (PoetryProvisionArgv, with uv and python) when it is not there or does not answer (provision:
// one process at a time, never half-made).
func ProvisionPoetry(ctx context.Context, toolsDir string, uv *UV, python string) (string, error) {
	return provision(ctx, toolsDir, provisioned{name: "poetry", version: PoetryVersion, bin: PoetryBin, versionOf: poetryVersion,
		install: func(ctx context.Context, tmp string) (string, error) {
			venv := filepath.Join(tmp, "venv") // uv venv wants to create the directory itself
			for _, argv := range PoetryProvisionArgv(uv.Path, python, venv) {
				if err := run(ctx, argv, Exec{Env: uv.Env(nil)}, nil); err != nil {
					return "", err
				}
			}
			return venv, nil
		},
		hint: "make PyPI reachable"})
}

// poetryVersion runs `poetry --version` and returns the version it prints ("2.5.1" of
// "Poetry (version 2.5.1)").
func poetryVersion(ctx context.Context, path string) (string, error) {
	var out strings.Builder
	if err := run(ctx, []string{path, "--version", "--no-ansi"}, Exec{}, &out); err != nil {
		return "", err
	}
	return parsePoetryVersion(path, out.String())
}

// parsePoetryVersion returns the version of what `poetry --version` printed: "2.5.1" of
// "Poetry (version 2.5.1)".
func parsePoetryVersion(path, out string) (string, error) {
	s := strings.TrimSpace(out)
	v, ok := strings.CutPrefix(s, "Poetry (version ")
	if !ok || !strings.HasSuffix(v, ")") {
		return "", fmt.Errorf("%s --version printed %q, not poetry's version", path, s)
	}
	return strings.TrimSuffix(v, ")"), nil
}
