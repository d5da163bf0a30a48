package python

import (
	"context"
	"fmt"
	"strings"
)

// BytecodeArgv compiles every module under dir to bytecode with the interpreter python, as an
// image's interpreter would on first import — so that each process started from the image does
// not compile its libraries again (a container's user usually cannot write __pycache__). The
// .pyc files are valid whatever the sources' modification times (unchecked-hash: image layers
// carry fixed times) and record the modules' paths as they are in the image (prefix instead of
// dir), so that the same sources give the same bytes. Run it with BytecodeEnv.
func BytecodeArgv(python, dir, prefix string) []string {
	return []string{python, "-m", "compileall", "-q", "-j", "0", "--invalidation-mode", "unchecked-hash",
		"-s", dir, "-p", prefix, dir}
}

// BytecodeEnv is the environment BytecodeArgv runs with, on top of base: a fixed hash seed so
// that sets in constants are marshalled in one order.
func BytecodeEnv(base []string) []string { return append(base, "PYTHONHASHSEED=0") }

// Bytecode runs BytecodeArgv with the host interpreter when its version (major.minor) is t's:
// bytecode is specific to the interpreter's minor version. It reports whether it compiled.
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
	x.Env = BytecodeEnv(environ(x.Env))
	if err := run(ctx, BytecodeArgv(py, dir, prefix), x, nil); err != nil {
		return false, fmt.Errorf("compiling %s to bytecode: %w", dir, err)
	}
	return true, nil
}

// sameMinor says whether the version minor ("3.11") is the one of full ("3.11.2").
func sameMinor(minor, full string) bool {
	return minor != "" && (full == minor || strings.HasPrefix(full, minor+"."))
}
