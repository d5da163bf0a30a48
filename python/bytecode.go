package python

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
)

// bytecodeEnv is the environment modules are compiled to bytecode in, on top of base: a fixed
// hash seed so that sets in constants are marshalled in one order, and the same sources give
// the same bytes.
func bytecodeEnv(base []string) []string { return append(base, "PYTHONHASHSEED=0") }

// Bytecode gives every module under dir (an image's site-packages, at prefix in the image) its
// unchecked hash-based .pyc in __pycache__ — as `compileall --invalidation-mode unchecked-hash
// -s dir -p prefix` writes it: valid whatever the sources' modification times (image layers
// carry fixed ones), naming each module's path in the image — from the bytecode store,
// compiling into it with the host interpreter what it lacks, when the host's version
// (major.minor) is t's: bytecode is specific to the interpreter's minor version. It reports
// whether it compiled.
func (t *Tools) Bytecode(ctx context.Context, target Target, dir, prefix string, x Exec) (bool, error) {
	py, err := t.Python(ctx)
	if err != nil {
		return false, err
	}
	var out strings.Builder
	if err := run(ctx, []string{py, "-c", "import sys; print('%d.%d' % sys.version_info[:2])"}, Exec{}, &out); err != nil {
		return false, fmt.Errorf("asking %s for its version: %w", py, err)
	}
	host := strings.TrimSpace(out.String())
	if !sameMinor(host, target.Version) {
		return false, nil
	}
	mods, err := modules(dir, prefix)
	if err != nil {
		return false, err
	}
	store := t.storeDir(host)
	if _, err := fillStore(ctx, py, store, mods, x); err != nil {
		return false, fmt.Errorf("compiling %s to bytecode: %w", dir, err)
	}
	touch(store)
	tag := cacheTag(host)
	for _, m := range mods {
		dst := filepath.Join(filepath.Dir(m.src), "__pycache__", strings.TrimSuffix(filepath.Base(m.src), ".py")+"."+tag+".pyc")
		if _, err := placePyc(store, m, dst, pycUnchecked); err != nil {
			return false, fmt.Errorf("compiling %s to bytecode: %w", dir, err)
		}
	}
	return true, nil
}

// sameMinor says whether the version minor ("3.11") is the one of full ("3.11.2").
func sameMinor(minor, full string) bool {
	return minor != "" && (full == minor || strings.HasPrefix(full, minor+"."))
}
