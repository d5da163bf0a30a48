package python

import (
	"context"
	"fmt"
)

// The installers that create a service's virtualenv and install its requirements into it.
// Their names are those of services.yaml's installer key.
const (
	// InstallerUV creates with `uv venv` and installs with `uv pip install`. The virtualenv
	// has no pip of its own.
	InstallerUV = "uv"
	// InstallerPip creates with the interpreter's venv module and installs with its pip.
	InstallerPip = "pip"
)

// UVProgram is argv[0] of the uv commands RequirementsInstallArgv returns: a stage's argv is
// made before uv is found or provisioned, so engines replace it with the uv they run
// (Tools.Resolve on the host, ResolveUV in a container).
const UVProgram = "uv"

// InstallerID names installer in virtualenv cache keys: "uv 0.13.9" (so that a virtualenv
// made by another uv release is never reused) or "pip".
func InstallerID(installer string) string {
	if installer == InstallerUV {
		return InstallerUV + " " + UVVersion
	}
	return installer
}

// VenvArgv creates an empty virtualenv at dir for the interpreter python (a path, or a name the
// command's PATH resolves): with installer uv, `uv venv` run by the uv at uv (no pip, no
// setuptools in it); otherwise `python -m venv` (with pip).
func VenvArgv(installer, uv, python, dir string) []string {
	if installer == InstallerUV {
		return []string{uv, "venv", "--no-config", "--quiet", "--python", python, dir}
	}
	return []string{python, "-m", "venv", dir}
}

// RequirementsInstallArgv installs the requirements file requirements (with what it includes,
// -r) into the virtualenv the command's environment activates (VIRTUAL_ENV, its bin first on
// PATH; both engines set them): `uv pip install` with installer uv (argv[0] UVProgram; run it
// with UV.Env), `python -m pip install` otherwise.
func RequirementsInstallArgv(installer, requirements string) []string {
	if installer == InstallerUV {
		return []string{UVProgram, "pip", "install", "--no-config", "-r", requirements}
	}
	return []string{"python", "-m", "pip", "install", "-r", requirements}
}

// ResolveUV returns argv with argv[0] replaced by uv when it is UVProgram, else argv itself:
// for engines that run uv where Tools does not (a container).
func ResolveUV(argv []string, uv string) []string {
	return replaceProgram(argv, UVProgram, uv)
}

// replaceProgram returns argv with argv[0] replaced by path when it is the placeholder
// program, else argv itself.
func replaceProgram(argv []string, program, path string) []string {
	if len(argv) == 0 || argv[0] != program {
		return argv
	}
	return append([]string{path}, argv[1:]...)
}

// Resolve returns argv with a placeholder argv[0] (UVProgram, PoetryProgram) replaced by the
// path of the program t finds or provisions for it, else argv itself.
func (t *Tools) Resolve(ctx context.Context, argv []string) ([]string, error) {
	if len(argv) == 0 {
		return argv, nil
	}
	switch argv[0] {
	case UVProgram:
		u, err := t.UV(ctx)
		if err != nil {
			return nil, fmt.Errorf("finding uv for %s: %w", QuoteArgv(argv), err)
		}
		return replaceProgram(argv, UVProgram, u.Path), nil
	case PoetryProgram:
		p, err := t.Poetry(ctx)
		if err != nil {
			return nil, fmt.Errorf("finding poetry for %s: %w", QuoteArgv(argv), err)
		}
		return replaceProgram(argv, PoetryProgram, p.Path), nil
	}
	return argv, nil
}

// ProgramEnv returns env with the settings of the program argv runs when its argv[0] is a
// placeholder (Resolve): uv's (UV.Env) for UVProgram, poetry's (Poetry.Env, its cache under
// t's) for PoetryProgram; else env itself.
func (t *Tools) ProgramEnv(ctx context.Context, argv []string, env []string) ([]string, error) {
	if len(argv) == 0 {
		return env, nil
	}
	switch argv[0] {
	case UVProgram:
		u, err := t.UV(ctx)
		if err != nil {
			return nil, fmt.Errorf("finding uv for %s: %w", QuoteArgv(argv), err)
		}
		return u.Env(env), nil
	case PoetryProgram:
		p, err := t.Poetry(ctx)
		if err != nil {
			return nil, fmt.Errorf("finding poetry for %s: %w", QuoteArgv(argv), err)
		}
		return p.Env(env), nil
	}
	return env, nil
}

// ResolvePoetry returns argv with argv[0] replaced by poetry when it is PoetryProgram, else
// argv itself: for engines that run poetry where Tools does not (a container).
func ResolvePoetry(argv []string, poetry string) []string {
	return replaceProgram(argv, PoetryProgram, poetry)
}

// UsesUV says whether any of cmds runs UVProgram.
func UsesUV(cmds [][]string) bool { return UsesProgram(cmds, UVProgram) }

// UsesProgram says whether any of cmds runs the placeholder program (UVProgram,
// PoetryProgram).
func UsesProgram(cmds [][]string, program string) bool {
	for _, c := range cmds {
		if len(c) > 0 && c[0] == program {
			return true
		}
	}
	return false
}
