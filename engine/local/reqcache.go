package local

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/convoy-ci/convoy/pipeline/config"
	"github.com/convoy-ci/convoy/python"
)

// reqCache is where the runtime requirements of one service's image, resolved once, are kept
// (in the repository's state directory): a file named by everything they are a function of, so that an image stage whose dependencies
// did not change runs no resolver (nor the tool that lists them).
type reqCache struct{ file string }

// requirementsCache is the cache entry of svc's runtime requirements: keyed by the version of
// uv convoy pins (python.UVVersion: the one it provisions and resolves with), the target, the tool, the contents of the tool's input files and of its runtime spec, the
// files of the virtualenv's scratch directory (the lock pipenv wrote) and the virtualenv's pins.
func (e *Engine) requirementsCache(svc *config.Service, venv string, target python.Target, pins []string) (reqCache, error) {
	tool, p := svc.Tool(), svc.Project()
	h := sha256.New()
	fmt.Fprintf(h, "convoy-runtime-requirements-v1\nuv %s\ntarget %s %s\ntool %s\n", python.UVVersion, target.Version, target.Platform, tool.Name())
	files := append(tool.Inputs(p), tool.Runtime(p).File)
	for _, f := range files {
		if f == "" {
			continue
		}
		if err := hashFile(h, f, filepath.Join(p.Root, filepath.FromSlash(f))); err != nil {
			return reqCache{}, fmt.Errorf("runtime requirements of %q: %w", svc.Name, err)
		}
	}
	scratch := scratchDir(venv, tool)
	names, _ := filepath.Glob(filepath.Join(scratch, "*"))
	sort.Strings(names)
	for _, f := range names {
		if err := hashFile(h, "scratch/"+filepath.Base(f), f); err != nil {
			return reqCache{}, fmt.Errorf("runtime requirements of %q: %w", svc.Name, err)
		}
	}
	fmt.Fprintf(h, "pins %q\n", pins)
	key := hex.EncodeToString(h.Sum(nil))
	return reqCache{file: filepath.Join(e.stateDir, "requirements", key[:32]+".txt")}, nil
}

// hashFile adds the file at path (named name in the key) to h; a missing one counts as such.
func hashFile(h io.Writer, name, path string) error {
	data, err := os.ReadFile(path)
	if os.IsNotExist(err) {
		fmt.Fprintf(h, "file %s missing\n", name)
		return nil
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(h, "file %s %d\n", name, len(data))
	_, err = h.Write(data)
	return err
}

// load returns the requirements kept in c, if any.
func (c reqCache) load() ([]string, bool) {
	data, err := os.ReadFile(c.file)
	if err != nil {
		return nil, false
	}
	now := time.Now() // last used: what cache prune keeps by
	_ = os.Chtimes(c.file, now, now)
	return python.Pins(string(data)), true
}

// store keeps reqs in c, atomically (other runs may read it at once).
func (c reqCache) store(reqs []string) error {
	if err := os.MkdirAll(filepath.Dir(c.file), 0o755); err != nil {
		return fmt.Errorf("caching runtime requirements: %w", err)
	}
	tmp, err := os.CreateTemp(filepath.Dir(c.file), ".reqs-*")
	if err != nil {
		return fmt.Errorf("caching runtime requirements: %w", err)
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.WriteString("# resolved by convoy\n" + strings.Join(reqs, "\n") + "\n"); err != nil {
		tmp.Close()
		return fmt.Errorf("caching runtime requirements: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("caching runtime requirements: %w", err)
	}
	if err := os.Rename(tmp.Name(), c.file); err != nil {
		return fmt.Errorf("caching runtime requirements: %w", err)
	}
	return nil
}
