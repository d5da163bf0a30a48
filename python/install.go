package python

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
)

// Install installs pinned requirements into a directory for a Target (an image's
// site-packages), without the target interpreter.
type Install struct {
	// Requirements is a file of pins, the whole closure: nothing else is installed.
	Requirements string
	// Dir is the directory they are installed into (uv's --target); console scripts go to
	// Dir/bin.
	Dir string
	// Target is what to install for.
	Target Target
	// Python is the interpreter uv runs with (as for Compile); console scripts name it in
	// their shebang, to be rewritten for the image.
	Python string
}

// InstallArgv is the `uv pip install` that installs in with the uv at uv: wheels only, no
// dependencies of their own (the pins are the closure), no bytecode, uv's configuration files
// ignored. Files are hard-linked from uv's cache where it is on the same filesystem as in.Dir
// (copied otherwise): a file of in.Dir must be replaced, never written into.
func InstallArgv(uv string, in Install) []string {
	argv := []string{uv, "pip", "install", "--no-config"}
	if in.Python != "" {
		argv = append(argv, "--python", in.Python)
	}
	argv = append(argv, in.Target.Args()...)
	return append(argv, "--target", in.Dir, "--no-deps", "--only-binary", ":all:", "--no-compile",
		"--link-mode", "hardlink", "-r", in.Requirements)
}

// Install runs InstallArgv(u.Path, in) as x says (with u.Env(x.Env)); its output goes to
// x.Log. It leaves nothing of its own in in.Dir: uv's lock file there is removed.
func (u *UV) Install(ctx context.Context, in Install, x Exec) error {
	x.Env = u.Env(x.Env)
	if err := run(ctx, InstallArgv(u.Path, in), x, nil); err != nil {
		return fmt.Errorf("installing %s for %s: %w", in.Requirements, in.Target, err)
	}
	if err := os.Remove(filepath.Join(in.Dir, ".lock")); err != nil && !os.IsNotExist(err) {
		return fmt.Errorf("installing %s: %w", in.Requirements, err)
	}
	return nil
}

// PipInstallArgv installs the pins of the file requirements into dir with python's own pip:
// wheels only, no dependencies of their own, no bytecode. For an engine that runs it with the
// target interpreter itself (the Dagger engine's builder container, made from the base image),
// where nothing needs to be told which Python and platform to install for.
func PipInstallArgv(python, dir, requirements string) []string {
	return []string{python, "-m", "pip", "install",
		"--target", dir,
		"--no-deps", // the pinned list is already the closure
		"--only-binary=:all:",
		"--no-compile",
		"--no-input",
		"--disable-pip-version-check",
		"--no-warn-script-location",
		"--progress-bar", "off",
		"-r", requirements}
}

// OfflineFirst returns, for a deps command that installs exact versions only (a lock's
// hash-pinned requirements, `uv sync --locked`), the same command with uv's --offline: uv's
// cache then answers alone, with no round trip to the index to revalidate what a lock already
// fixes (0.2 s instead of 1.1 s for the sample's pipenv services when the index pages are not
// fresh). It installs the same packages or fails, and the engine then runs argv as it is.
// Installs of version ranges are never tried offline: their answer may be newer online.
func OfflineFirst(argv []string) ([]string, bool) {
	if len(argv) < 2 || argv[0] != UVProgram || slices.Contains(argv, "--offline") {
		return nil, false
	}
	exact := (argv[1] == "pip" && slices.Contains(argv, "--require-hashes")) ||
		(argv[1] == "sync" && (slices.Contains(argv, "--locked") || slices.Contains(argv, "--frozen")))
	if !exact {
		return nil, false
	}
	return append(slices.Clone(argv), "--offline"), true
}
