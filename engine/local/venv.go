package local

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/convoy-ci/convoy/engine"
	"github.com/convoy-ci/convoy/image"
	"github.com/convoy-ci/convoy/internal/filelock"
	"github.com/convoy-ci/convoy/pipeline/config"
	"github.com/convoy-ci/convoy/python"
	"github.com/convoy-ci/convoy/stages"
)

// readyMarker is written into a virtualenv once its dependencies installed; a virtualenv
// without it is half-made and gets rebuilt.
const readyMarker = ".convoy-ready"

// scratchDir is the tool's scratch directory (python.Installation.Scratch) of the virtualenv
// venv: inside it, named after the tool (pipenv's Pipfile copy is in venv/pipenv), so that the
// tool never writes into the source tree and its files live as long as the virtualenv.
func scratchDir(venv string, tool python.Tool) string { return filepath.Join(venv, tool.Name()) }

// SpecHash is the hash a service's virtualenv is keyed by: the interpreter version, the
// dependency tool, the installer that creates it (with uv's version: python.InstallerID), the
// bytes of the files its tool's install reads (python.Tool.Inputs, then the stage's Inputs: the
// repository's tools requirements) and the commands of the deps
// stage that installs it — so that a virtualenv installed from the lockfile (a release) is
// never taken for one installed from the unpinned spec, or the other way round.
func SpecHash(svc *config.Service, deps stages.Stage) (string, error) {
	h := sha256.New()
	tool := svc.Tool()
	fmt.Fprintf(h, "python=%s\ndeps=%s\n", svc.Python, tool.Name())
	if deps.Installer != "" {
		fmt.Fprintf(h, "installer=%s\n", python.InstallerID(deps.Installer))
	}
	for _, c := range deps.Commands {
		fmt.Fprintf(h, "command %d %q\n", len(c), c)
	}
	p := svc.Project()
	inputs := tool.Inputs(p)
	for i, in := range append(slices.Clone(inputs), deps.Inputs...) {
		data, err := os.ReadFile(filepath.Join(p.Root, filepath.FromSlash(in)))
		if os.IsNotExist(err) && i > 0 && i < len(inputs) {
			continue
		}
		if err != nil {
			return "", fmt.Errorf("reading dependency spec of %q: %w", svc.Name, err)
		}
		// Named relative to the service, as "requirements.txt" or "../../uv.lock".
		fmt.Fprintf(h, "%s %d\n", relTo(p.Dir, in), len(data))
		h.Write(data)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// relTo is the slash-separated path rel (relative to the repository root) relative to dir.
func relTo(dir, rel string) string {
	r, err := filepath.Rel(filepath.FromSlash(dir), filepath.FromSlash(rel))
	if err != nil {
		return rel
	}
	return filepath.ToSlash(r)
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

// Env returns the environment svc's deps stage installed (Venv), with its tool's scratch
// directory, the engine's tools and the repository's DevTools it installed: what release
// freezes.
func (e *Engine) Env(svc *config.Service) (python.Env, error) {
	venv, err := e.Venv(svc)
	if err != nil {
		return python.Env{}, err
	}
	env := python.Env{Venv: venv, Tools: e.tools, DevTools: svc.DevTools()}
	if len(stages.ForService(svc)[0].Scratch) > 0 {
		env.Scratch = scratchDir(venv, svc.Tool())
	}
	return env, nil
}

// deps makes sure svc's virtualenv exists with its dependencies installed. Virtualenvs are
// shared by every service (and repository, when the cache is) with the same spec; a file lock
// serialises the services that would build the same one.
func (e *Engine) deps(ctx context.Context, req engine.Request, venv string) (engine.Result, error) {
	fail := func(err error) (engine.Result, error) {
		fmt.Fprintf(req.Log, "convoy: %v\n", err)
		return engine.Result{}, &engine.StageError{Reason: engine.Failed, ExitCode: -1, Err: err}
	}
	if req.Stage.Err != nil {
		return fail(req.Stage.Err)
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
		now := time.Now() // last used: what cache prune keeps by
		_ = os.Chtimes(filepath.Join(venv, readyMarker), now, now)
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
	scratch, err := copyScratch(req.Service, req.Stage, venv)
	if err != nil {
		return fail(err)
	}
	env = append(env, toolVars(req.Stage.VenvVars, req.Stage.ScratchVars, venv, scratch)...)
	dir := req.Service.Dir
	if req.Stage.InScratch {
		dir = scratch
	}
	for _, argv := range req.Stage.Commands {
		env, err := e.tools.ProgramEnv(ctx, argv, env)
		if err != nil {
			return fail(err)
		}
		if offline, ok := python.OfflineFirst(argv); ok {
			installed, err := e.tryOffline(ctx, req, dir, offline, env)
			if err != nil {
				return engine.Result{}, err
			}
			if installed {
				continue
			}
		}
		argv, err := e.tools.Resolve(ctx, argv)
		if err != nil {
			return fail(err)
		}
		if err := e.runIn(ctx, req, dir, argv, env); err != nil {
			return engine.Result{}, err
		}
	}
	if err := e.bytecode(ctx, req, venv); err != nil {
		return fail(err)
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

// copyScratch copies the files (repository-relative) of deps stage st's scratch into svc's
// tool's scratch directory of venv, writes st's ScratchFiles there and returns that directory
// ("" without files). Missing files are skipped, except the first.
func copyScratch(svc *config.Service, st stages.Stage, venv string) (string, error) {
	files := st.Scratch
	if len(files) == 0 && len(st.ScratchFiles) == 0 {
		return "", nil
	}
	dir := scratchDir(venv, svc.Tool())
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("preparing the %s directory of %q: %w", svc.Tool().Name(), svc.Name, err)
	}
	root := svc.Project().Root
	for i, f := range files {
		data, err := os.ReadFile(filepath.Join(root, filepath.FromSlash(f)))
		if os.IsNotExist(err) && i > 0 {
			continue
		}
		if err != nil {
			return "", fmt.Errorf("reading %s of %q: %w", f, svc.Name, err)
		}
		if err := os.WriteFile(filepath.Join(dir, path.Base(f)), data, 0o644); err != nil {
			return "", fmt.Errorf("copying %s of %q: %w", f, svc.Name, err)
		}
	}
	for name, content := range st.ScratchFiles {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			return "", fmt.Errorf("writing %s for %q: %w", name, svc.Name, err)
		}
	}
	return dir, nil
}

// toolVars are the variables a tool's commands get: each of venvVars set to venv, each of
// scratchVars set to its file's copy in scratch.
func toolVars(venvVars []string, scratchVars map[string]string, venv, scratch string) []string {
	var out []string
	for _, k := range venvVars {
		out = append(out, k+"="+venv)
	}
	for k, base := range scratchVars {
		out = append(out, k+"="+filepath.Join(scratch, base))
	}
	sort.Strings(out)
	return out
}

// python finds the interpreter for a version ("3.11" → python3.11 on PATH) and resolves it to
// the real executable, so virtualenvs do not depend on shims.
func (e *Engine) python(version string) (string, error) {
	e.pyMu.Lock()
	defer e.pyMu.Unlock()
	if p, ok := e.pythons[version]; ok {
		return p, nil
	}
	name := python.Interpreter(version)
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

// bytecode gives the new virtualenv venv the bytecode the store and its interpreter have, so
// that its first test run compiles neither the modules an image (or an earlier run) compiled
// nor the standard library; when the run builds the service's image (Stage.CompileAll), every
// module is compiled into the store first.
func (e *Engine) bytecode(ctx context.Context, req engine.Request, venv string) error {
	compiled, placed, err := e.tools.PlaceBytecode(ctx, venv, image.SitePackages, req.Stage.CompileAll)
	if err != nil {
		return err
	}
	if req.Stage.CompileAll {
		fmt.Fprintf(req.Log, "convoy: compiled %d modules into the bytecode store (the image will have them)\n", compiled)
	}
	linked, err := python.LinkStdlibBytecode(ctx, venv)
	if err != nil {
		return err
	}
	fmt.Fprintf(req.Log, "convoy: bytecode of %d modules from the store, of %d from the standard library\n", placed, linked)
	return nil
}

// tryOffline runs argv (python.OfflineFirst's offline variant of a deps command) and reports
// whether it installed; when it did not, for want of something in uv's cache, the caller runs
// the online command. Only an interruption is an error.
func (e *Engine) tryOffline(ctx context.Context, req engine.Request, dir string, argv, env []string) (bool, error) {
	resolved, err := e.tools.Resolve(ctx, argv)
	if err != nil {
		return false, &engine.StageError{Reason: engine.Failed, ExitCode: -1, Err: err}
	}
	err = e.runIn(ctx, req, dir, resolved, env)
	switch {
	case err == nil:
		return true, nil
	case ctx.Err() != nil:
		return false, err
	}
	fmt.Fprintf(req.Log, "convoy: uv's cache cannot install this alone: installing online\n")
	return false, nil
}
