package local

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/convoy-ci/convoy/engine"
	"github.com/convoy-ci/convoy/internal/filelock"
	"github.com/convoy-ci/convoy/pipeline/config"
	"github.com/convoy-ci/convoy/python"
	"github.com/convoy-ci/convoy/stages"
)

// readyMarker is written into a virtualenv once its dependencies installed; a virtualenv
// without it is half-made and gets rebuilt.
const readyMarker = ".convoy-ready"

// pipenvDir holds the copy of the Pipfile pipenv works on, inside the virtualenv, so that
// pipenv never writes a Pipfile.lock into the source tree.
const pipenvDir = "pipenv"

// SpecHash is the hash a service's virtualenv is keyed by: the interpreter version, the
// dependency tool, the installer that creates it (with uv's version: python.InstallerID), the bytes of its spec files (config.SpecFiles) and the commands of the deps
// stage that installs it — so that a virtualenv installed from the lockfile (a release) is
// never taken for one installed from the unpinned spec, or the other way round.
func SpecHash(svc *config.Service, deps stages.Stage) (string, error) {
	h := sha256.New()
	fmt.Fprintf(h, "python=%s\ndeps=%s\n", svc.Python, svc.Deps)
	if deps.Installer != "" {
		fmt.Fprintf(h, "installer=%s\n", python.InstallerID(deps.Installer))
	}
	for _, c := range deps.Commands {
		fmt.Fprintf(h, "command %d %q\n", len(c), c)
	}
	for _, name := range config.SpecFiles(svc.Deps) {
		data, err := os.ReadFile(filepath.Join(svc.Dir, name))
		if os.IsNotExist(err) && name != config.SpecFile(svc.Deps) {
			continue
		}
		if err != nil {
			return "", fmt.Errorf("reading dependency spec of %q: %w", svc.Name, err)
		}
		fmt.Fprintf(h, "%s %d\n", name, len(data))
		h.Write(data)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// Venv returns the directory of svc's virtualenv (which may not exist yet): the one its deps
// stage used in this engine's run, or else the one its default deps stage would install.
func (e *Engine) Venv(svc *config.Service) (string, error) {
	e.venvMu.Lock()
	venv, ok := e.venvs[svc.Dir]
	e.venvMu.Unlock()
	if ok {
		return venv, nil
	}
	return e.venvFor(svc, stages.ForService(svc)[0])
}

// venvFor is the virtualenv deps installs svc into.
func (e *Engine) venvFor(svc *config.Service, deps stages.Stage) (string, error) {
	sum, err := SpecHash(svc, deps)
	if err != nil {
		return "", err
	}
	dir, err := filepath.Abs(filepath.Join(e.cacheDir, "venvs", "py"+svc.Python+"-"+sum[:16]))
	if err != nil {
		return "", fmt.Errorf("resolving virtualenv of %q: %w", svc.Name, err)
	}
	return dir, nil
}

// PipenvLock returns the Pipfile.lock pipenv wrote when it installed svc's virtualenv, or ""
// for a service that does not use pipenv.
func (e *Engine) PipenvLock(svc *config.Service) (string, error) {
	if svc.Deps != config.DepsPipenv {
		return "", nil
	}
	venv, err := e.Venv(svc)
	if err != nil {
		return "", err
	}
	return filepath.Join(venv, pipenvDir, "Pipfile.lock"), nil
}

// deps makes sure svc's virtualenv exists with its dependencies installed. Virtualenvs are
// shared by every service (and repository, when the cache is) with the same spec; a file lock
// serialises the services that would build the same one.
func (e *Engine) deps(ctx context.Context, req engine.Request, venv string) (engine.Result, error) {
	fail := func(err error) (engine.Result, error) {
		fmt.Fprintf(req.Log, "convoy: %v\n", err)
		return engine.Result{}, &engine.StageError{Reason: engine.Failed, ExitCode: -1, Err: err}
	}
	if err := os.MkdirAll(filepath.Dir(venv), 0o755); err != nil {
		return fail(fmt.Errorf("creating virtualenv directory: %w", err))
	}
	unlock, err := filelock.Lock(ctx, venv+".lock")
	if err != nil {
		return fail(err)
	}
	defer unlock()
	if _, err := os.Stat(filepath.Join(venv, readyMarker)); err == nil {
		fmt.Fprintf(req.Log, "convoy: virtualenv %s is up to date with the dependency spec; nothing to install\n", venv)
		return engine.Result{Note: "virtualenv reused"}, nil
	}
	if err := os.RemoveAll(venv); err != nil {
		return fail(fmt.Errorf("removing half-made virtualenv %s: %w", venv, err))
	}
	interp, err := e.python(req.Service.Python)
	if err != nil {
		return fail(err)
	}
	env, err := e.environ(req, venv)
	if err != nil {
		return fail(err)
	}
	uv, env, err := e.installerEnv(ctx, req.Stage, env)
	if err != nil {
		return fail(err)
	}
	if err := e.run(ctx, req, python.VenvArgv(req.Stage.Installer, uv, interp, venv), env); err != nil {
		return engine.Result{}, err
	}
	if req.Service.Deps == config.DepsPipenv {
		pipfile, err := copyPipfile(req.Service, venv)
		if err != nil {
			return fail(err)
		}
		env = append(env, "PIPENV_PIPFILE="+pipfile)
	}
	for _, argv := range req.Stage.Commands {
		if err := e.run(ctx, req, python.ResolveUV(argv, uv), env); err != nil {
			return engine.Result{}, err
		}
	}
	if err := os.WriteFile(filepath.Join(venv, readyMarker), []byte(req.Service.Name+"\n"), 0o644); err != nil {
		return fail(fmt.Errorf("marking virtualenv ready: %w", err))
	}
	return engine.Result{}, nil
}

// installerEnv returns the uv a deps stage st runs, when it uses uv (to create the virtualenv or
// in its commands) — found or provisioned by the engine's tools — and env with uv's settings
// (cache under the cache directory, the PIP_* index settings as uv's: python.UV.Env).
func (e *Engine) installerEnv(ctx context.Context, st stages.Stage, env []string) (string, []string, error) {
	if st.Installer != python.InstallerUV && !python.UsesUV(st.Commands) {
		return "", env, nil
	}
	u, err := e.tools.UV(ctx)
	if err != nil {
		return "", nil, fmt.Errorf("finding uv for the deps stage: %w", err)
	}
	return u.Path, u.Env(env), nil
}

// copyPipfile copies the service's Pipfile (and Pipfile.lock, when committed) into the
// virtualenv and returns the copy's path.
func copyPipfile(svc *config.Service, venv string) (string, error) {
	dir := filepath.Join(venv, pipenvDir)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("preparing pipenv directory for %q: %w", svc.Name, err)
	}
	for _, name := range []string{"Pipfile", "Pipfile.lock"} {
		data, err := os.ReadFile(filepath.Join(svc.Dir, name))
		if os.IsNotExist(err) && name == "Pipfile.lock" {
			continue
		}
		if err != nil {
			return "", fmt.Errorf("reading %s of %q: %w", name, svc.Name, err)
		}
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o644); err != nil {
			return "", fmt.Errorf("copying %s of %q: %w", name, svc.Name, err)
		}
	}
	return filepath.Join(dir, "Pipfile"), nil
}

// python finds the interpreter for a version ("3.11" → python3.11 on PATH) and resolves it to
// the real executable, so virtualenvs do not depend on shims.
func (e *Engine) python(version string) (string, error) {
	e.pyMu.Lock()
	defer e.pyMu.Unlock()
	if p, ok := e.pythons[version]; ok {
		return p, nil
	}
	name := "python" + version
	path, err := exec.LookPath(name)
	if err != nil {
		return "", fmt.Errorf("finding Python %s: %s is not on PATH (install it, or set python: in services.yaml)", version, name)
	}
	out, err := exec.Command(path, "-c", "import sys; print(sys.executable)").Output()
	if err != nil {
		return "", fmt.Errorf("asking %s for its executable: %w", path, err)
	}
	real := strings.TrimSpace(string(out))
	e.pythons[version] = real
	return real, nil
}
