package dagger

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"

	"dagger.io/dagger"

	"github.com/convoy-ci/convoy/pipeline/config"
	"github.com/convoy-ci/convoy/python"
	"github.com/convoy-ci/convoy/stages"
)

// venvMetadata are the files of a virtualenv that say what it holds: its pyvenv.cfg (the
// interpreter's version) and its packages' metadata — what release reads to freeze it.
var venvMetadata = []string{"pyvenv.cfg", "lib/*/site-packages/*.dist-info/**", "lib/*/site-packages/*.egg-info/**"}

// Env returns svc's environment as its deps stage installed it on the engine — the container
// this engine ran (or, run by another process, rebuilt from Dagger's cache as it ran) — exported
// to the host for release to freeze (release.Environments): the virtualenv's pyvenv.cfg and
// package metadata, with the host's python<version> as its interpreter (it only reads that
// metadata), and the tool's scratch directory (pipenv's lock). Freezing thus reads what the
// gates installed on the engine, not a host virtualenv this run never built.
func (e *Engine) Env(svc *config.Service) (python.Env, error) {
	env, err := e.env(context.Background(), svc)
	if err != nil {
		return python.Env{}, fmt.Errorf("exporting the environment of %q from the engine: %w", svc.Name, err)
	}
	return env, nil
}

func (e *Engine) env(ctx context.Context, svc *config.Service) (python.Env, error) {
	tr, err := e.hostTranslator(ctx)
	if err != nil {
		return python.Env{}, err
	}
	prep, err := tr.prepared(&config.Config{Root: svc.Project().Root}, svc)
	if err != nil {
		return python.Env{}, err
	}
	ctr, ok := e.lookup(&prep)
	if !ok {
		if ctr, err = e.rebuild(ctx, &prep); err != nil {
			return python.Env{}, err
		}
	}
	e.mu.Lock()
	dir, err := e.scratchLocked("env-")
	e.mu.Unlock()
	if err != nil {
		return python.Env{}, err
	}
	out := python.Env{Venv: filepath.Join(dir, "venv"), Tools: e.o.tools, DevTools: svc.DevTools()}
	meta := e.client.Directory().WithDirectory("/", ctr.Directory(venvDir), dagger.DirectoryWithDirectoryOpts{Include: venvMetadata})
	if _, err := meta.Export(ctx, out.Venv); err != nil {
		return python.Env{}, err
	}
	interp, err := exec.LookPath("python" + svc.Python)
	if err != nil {
		return python.Env{}, fmt.Errorf("reading the exported virtualenv needs the host's python%s: %w", svc.Python, err)
	}
	if err := os.MkdirAll(filepath.Join(out.Venv, "bin"), 0o755); err != nil {
		return python.Env{}, err
	}
	if err := os.Symlink(interp, filepath.Join(out.Venv, "bin", "python")); err != nil {
		return python.Env{}, err
	}
	if len(stages.ForService(svc)[0].Scratch) > 0 {
		out.Scratch = filepath.Join(dir, "scratch")
		if _, err := ctr.Directory(scratchDir(svc.Tool())).Export(ctx, out.Scratch); err != nil {
			return python.Env{}, err
		}
	}
	return out, nil
}
