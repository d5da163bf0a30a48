package image

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/convoy-ci/convoy/internal/filelock"
	"github.com/convoy-ci/convoy/python"
)

// normalizeRequirements trims and sorts requirement lines, dropping blanks and
// comments: with --no-deps their order does not matter.
func normalizeRequirements(reqs []string) []string {
	var out []string
	for _, r := range reqs {
		r = strings.TrimSpace(r)
		if r != "" && !strings.HasPrefix(r, "#") {
			out = append(out, r)
		}
	}
	sort.Strings(out)
	return out
}

// depsAddendum is the layer of reqs installed for s's base image.
func depsAddendum(ctx context.Context, s Spec, reqs []string, mt types.MediaType, created time.Time) (mutate.Addendum, error) {
	target, err := s.Base.Target()
	if err != nil {
		return mutate.Addendum{}, err
	}
	tools := s.Tools
	if tools == nil {
		tools = python.NewTools(python.DefaultCacheDir())
	}
	t := depsTarget{python: target, platform: s.Base.Platform.String()}
	l, err := depsLayer(ctx, s, reqs, t, tools, mt)
	if err != nil {
		return mutate.Addendum{}, err
	}
	return mutate.Addendum{Layer: l, MediaType: mt, History: v1.History{
		Created:   v1.Time{Time: created},
		CreatedBy: fmt.Sprintf("convoy: %d dependencies for %s %s -> %s", len(reqs), target, t.platform, SitePackages),
	}}, nil
}

// depsTarget is what the dependency layer is built for.
type depsTarget struct {
	python   python.Target
	platform string // "linux/amd64", for messages
}

// installer names what installs dependency layers, in their cache key: a new
// uv may lay out the same wheels differently.
const installer = "uv " + python.UVVersion

// key is the dependency layer's cache key: the requirements, the full Python
// version and platform they are installed for, and the installer.
func (t depsTarget) key(reqs []string) string {
	h := sha256.New()
	fmt.Fprintf(h, "convoy-deps-v5 bytecode, klauspost gzip best speed\npython %s\nplatform %s\ninstaller %s\n", t.python.Version, t.python.Platform, installer)
	for _, r := range reqs {
		fmt.Fprintf(h, "req %s\n", r)
	}
	return hex.EncodeToString(h.Sum(nil))
}

// noWheelRE finds the requirement uv could not satisfy with a wheel.
var noWheelRE = regexp.MustCompile(`Because (\S+) has no (?:usable )?wheels`)

// depsEpoch is the time of every entry of a dependency layer. The layer is a
// function of the requirements and the target alone, not of the commit, so it
// is shared across commits and services.
var depsEpoch = time.Date(1980, 1, 1, 0, 0, 0, 0, time.UTC)

// depsLayer returns the layer of reqs installed for t under /app/site-packages,
// from s.CacheDir when it holds one for the same requirements and target, or by
// installing them with uv (from tools; its output going to s.Log) and caching
// the result, whose file tree goes to s.LayerTrees.
func depsLayer(ctx context.Context, s Spec, reqs []string, t depsTarget, tools *python.Tools, mt types.MediaType) (v1.Layer, error) {
	cacheDir, log := s.CacheDir, s.Log
	cached := ""
	if cacheDir != "" {
		cached = filepath.Join(cacheDir, "deps-"+t.key(reqs)+".tar.gz")
		if l, ok := reuseLayer(cached, mt); ok {
			return l, nil
		}
		if err := os.MkdirAll(cacheDir, 0o755); err != nil {
			return nil, fmt.Errorf("creating layer cache: %w", err)
		}
		// Services with the same runtime requirements (and concurrent runs) build their
		// layer once: the others wait for it and reuse it.
		unlock, err := filelock.Lock(ctx, cached+".lock")
		if err != nil {
			return nil, fmt.Errorf("waiting for the dependency layer being built: %w", err)
		}
		defer unlock()
		if l, ok := reuseLayer(cached, mt); ok {
			return l, nil
		}
	}
	tmp, err := os.MkdirTemp(cacheDir, "deps-")
	if err != nil {
		return nil, fmt.Errorf("installing dependencies: %w", err)
	}
	defer os.RemoveAll(tmp)
	target := filepath.Join(tmp, "site-packages")
	if err := install(ctx, reqs, t, tools, tmp, target, log); err != nil {
		return nil, err
	}
	if err := fixScripts(filepath.Join(target, "bin")); err != nil {
		return nil, err
	}
	if err := compileBytecode(ctx, tools, t, target, log); err != nil {
		return nil, err
	}
	files, err := walkInstalled(target)
	if err != nil {
		return nil, err
	}
	if cached == "" {
		// Nothing to keep: the layer lives in memory.
		return memoryLayer(treeFiles(files, "app/site-packages"), depsEpoch, mt)
	}
	var meta layerMeta
	entries := treeFiles(files, "app/site-packages")
	err = writeAtomic(cached, func(w io.Writer) (err error) {
		meta, err = writeLayer(w, entries, depsEpoch)
		return err
	})
	if err == nil {
		err = recordLayer(cached, meta)
	}
	if err != nil {
		return nil, fmt.Errorf("writing the dependency layer: %w", err)
	}
	giveTree(s.LayerTrees, meta.DiffID, entries, log)
	return &fileLayer{file: cached, meta: meta, mt: mt}, nil
}

// giveTree gives the tree of a layer just written (its entries, linked from the installed files
// before they are removed) to trees, when there is one. Failing to is no error: whoever would
// have used the tree unpacks the layer instead, as the log says.
func giveTree(trees LayerTrees, diffID v1.Hash, entries []layerFile, log io.Writer) {
	if trees == nil {
		return
	}
	err := trees(diffID, func(dir string) error { return writeTree(dir, entries, depsEpoch) })
	if err != nil && log != nil {
		fmt.Fprintf(log, "convoy: the dependency layer's files were not kept unpacked (%v): the runtime unpacks the layer\n", err)
	}
}

// reuseLayer returns the cached layer file, marked as used now (what convoy cache prune keeps
// by), when it exists.
func reuseLayer(file string, mt types.MediaType) (v1.Layer, bool) {
	if _, err := os.Stat(file); err != nil {
		return nil, false
	}
	now := time.Now()
	_ = os.Chtimes(file, now, now)
	l, err := cachedLayer(file, mt)
	return l, err == nil
}

// install installs reqs into target for t with uv, writing them to a file in tmp first.
func install(ctx context.Context, reqs []string, t depsTarget, tools *python.Tools, tmp, target string, log io.Writer) error {
	uv, err := tools.UV(ctx)
	if err != nil {
		return fmt.Errorf("installing dependencies: %w", err)
	}
	host, err := tools.Python(ctx)
	if err != nil {
		return fmt.Errorf("installing dependencies: %w", err)
	}
	reqFile := filepath.Join(tmp, python.RuntimeFile)
	if err := os.WriteFile(reqFile, []byte(strings.Join(reqs, "\n")+"\n"), 0o644); err != nil {
		return fmt.Errorf("installing dependencies: %w", err)
	}
	in := python.Install{Requirements: reqFile, Dir: target, Target: t.python, Python: host}
	err = uv.Install(ctx, in, python.Exec{Env: append(os.Environ(), "PYTHONDONTWRITEBYTECODE=1"), Log: log})
	var te *python.ToolError
	if errors.As(err, &te) {
		if m := noWheelRE.FindStringSubmatch(te.Stderr); m != nil {
			return fmt.Errorf("installing dependencies: no wheel of %s for %s, %s: sdists are not built into images: %w",
				m[1], t.platform, t.python, err)
		}
	}
	if err != nil {
		return fmt.Errorf("installing dependencies: %w", err)
	}
	return nil
}

// compileBytecode compiles the installed modules for the image's interpreter, so that processes
// started from the image load them without compiling them first (python.Tools.Bytecode); when the
// host's Python is another minor version than the image's, the layer goes without.
func compileBytecode(ctx context.Context, tools *python.Tools, t depsTarget, target string, log io.Writer) error {
	ok, err := tools.Bytecode(ctx, t.python, target, SitePackages, python.Exec{Log: log})
	if err != nil {
		return fmt.Errorf("installing dependencies: %w", err)
	}
	if !ok && log != nil {
		fmt.Fprintf(log, "convoy: the host's Python is not %s: the dependency layer has no bytecode, each process compiles what it imports\n", t.python.Version)
	}
	return nil
}

// shExec is the second line of a console script whose interpreter's path is
// too long for a shebang: "#!/bin/sh" runs it through exec.
var shExec = []byte("'''exec' ")

// fixScripts rewrites the shebangs the installer wrote into console scripts,
// which name the host's interpreter, to the image's python3: the plain
// "#!/path/python" form, and the "#!/bin/sh" form whose next line execs the
// interpreter (used when its path is too long for a shebang).
func fixScripts(dir string) error {
	entries, err := os.ReadDir(dir)
	if os.IsNotExist(err) {
		return nil
	}
	if err != nil {
		return err
	}
	for _, e := range entries {
		p := filepath.Join(dir, e.Name())
		b, err := os.ReadFile(p)
		if err != nil || !e.Type().IsRegular() || !bytes.HasPrefix(b, []byte("#!")) {
			continue
		}
		rest, ok := scriptBody(b)
		if !ok {
			continue
		}
		b = append([]byte("#!/usr/bin/env python3\n"), rest...)
		if err := replaceFile(p, b, 0o755); err != nil {
			return err
		}
	}
	return nil
}

// replaceFile replaces the file p by a new one holding b, rather than writing into it: the
// installer may have hard-linked p from its cache, which must stay as it is.
func replaceFile(p string, b []byte, mode os.FileMode) error {
	f, err := os.CreateTemp(filepath.Dir(p), ".convoy-*")
	if err != nil {
		return err
	}
	defer os.Remove(f.Name())
	if _, err := f.Write(b); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := os.Chmod(f.Name(), mode); err != nil {
		return err
	}
	return os.Rename(f.Name(), p)
}

// scriptBody returns script b without the lines that start its interpreter,
// when they name a Python.
func scriptBody(b []byte) ([]byte, bool) {
	first, rest, _ := bytes.Cut(b, []byte("\n"))
	if bytes.Contains(first, []byte("python")) {
		return rest, true
	}
	if string(bytes.TrimSpace(first)) != "#!/bin/sh" {
		return nil, false
	}
	second, rest, _ := bytes.Cut(rest, []byte("\n"))
	third, rest, _ := bytes.Cut(rest, []byte("\n"))
	if !bytes.HasPrefix(second, shExec) || !bytes.Contains(second, []byte("python")) || string(third) != "' '''" {
		return nil, false
	}
	return rest, true
}
