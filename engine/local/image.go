package local

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/convoy-ci/convoy/engine"
	"github.com/convoy-ci/convoy/python"
	"github.com/convoy-ci/convoy/stages"
)

// image builds svc's image from the runtime requirements its gated virtualenv resolved.
func (e *Engine) image(ctx context.Context, req engine.Request, venv string) (engine.Result, error) {
	if e.images == nil {
		return imageFailure(req, fmt.Errorf("image stage of %q: this run builds no images", req.Service.Name))
	}
	hash, err := e.images.InputHash(ctx, req.Service)
	if err != nil {
		return imageFailure(req, err)
	}
	reqs, err := e.RuntimeRequirements(ctx, req, venv)
	if err != nil {
		return engine.Result{}, err
	}
	fmt.Fprintf(req.Log, "convoy: runtime requirements of %s (%d): %s\n", req.Service.Name, len(reqs), strings.Join(reqs, " "))
	ref, err := e.images.Build(ctx, req.Service, hash, reqs, req.Log)
	if err != nil {
		if ctx.Err() != nil {
			return engine.Result{}, stopped(ctx, []string{"build image"})
		}
		return imageFailure(req, err)
	}
	return engine.Result{Image: ref.Name, Digest: ref.Digest}, nil
}

// layer builds the dependency layer of svc's image from the runtime requirements its
// virtualenv resolves (images.Builder.Layer), for the image stage to find built.
func (e *Engine) layer(ctx context.Context, req engine.Request, venv string) (engine.Result, error) {
	if e.images == nil {
		return imageFailure(req, fmt.Errorf("layer stage of %q: this run builds no images", req.Service.Name))
	}
	reqs, err := e.RuntimeRequirements(ctx, req, venv)
	if err != nil {
		return engine.Result{}, err
	}
	fmt.Fprintf(req.Log, "convoy: runtime requirements of %s (%d): %s\n", req.Service.Name, len(reqs), strings.Join(reqs, " "))
	size, err := e.images.Layer(ctx, req.Service, reqs, req.Log)
	if err != nil {
		if ctx.Err() != nil {
			return engine.Result{}, stopped(ctx, []string{"build dependency layer"})
		}
		return imageFailure(req, err)
	}
	fmt.Fprintf(req.Log, "convoy: dependency layer of %s: %.1f MB\n", req.Service.Name, float64(size)/1e6)
	return engine.Result{}, nil
}

// imageFailure is the failure of an image or layer stage with err, which goes to its log.
func imageFailure(req engine.Request, err error) (engine.Result, error) {
	fmt.Fprintf(req.Log, "convoy: %v\n", err)
	return engine.Result{}, &engine.StageError{Reason: engine.Failed, ExitCode: -1, Err: err}
}

// RuntimeRequirements lists, as pinned requirement lines (name==version), the packages svc's
// image needs at run time — without its test and lint tools — resolved by uv
// (python.UV.Resolve) for the image's own interpreter and platform: its base's full Python
// version, architecture and glibc (image.BaseImage.Target), so that environment markers are
// evaluated for the image, not the host. What is resolved is the runtime spec the service's
// tool gives (python.Tool.Runtime: a file, or lines it prints, markers kept) — held to the versions the gated virtualenv holds (python.Freeze), so that the image
// gets what the gates tested wherever the target allows it. Errors go to the stage's log and
// are *engine.StageError.
func (e *Engine) RuntimeRequirements(ctx context.Context, req engine.Request, venv string) ([]string, error) {
	reqs, err := e.runtimeRequirements(ctx, req, venv)
	if err == nil {
		return reqs, nil
	}
	var se *engine.StageError
	if errors.As(err, &se) {
		return nil, err
	}
	var te *python.ToolError
	if errors.As(err, &te) && ctx.Err() != nil {
		fmt.Fprintf(req.Log, "convoy: %s\n", stopped(ctx, te.Argv))
		return nil, stopped(ctx, te.Argv)
	}
	fmt.Fprintf(req.Log, "convoy: %v\n", err)
	se = &engine.StageError{Reason: engine.Failed, ExitCode: -1, Err: err}
	if te != nil {
		se.ExitCode, se.Command = te.ExitCode(), te.Argv
	}
	return nil, se
}

func (e *Engine) runtimeRequirements(ctx context.Context, req engine.Request, venv string) ([]string, error) {
	svc := req.Service
	if e.images == nil {
		return nil, fmt.Errorf("runtime requirements of %q: this run builds no images, so there is no base image to resolve them for", svc.Name)
	}
	base, err := e.images.Base(ctx, svc)
	if err != nil {
		return nil, err
	}
	target, err := base.Target()
	if err != nil {
		return nil, err
	}
	pins, err := python.Freeze(venv)
	if err != nil {
		return nil, err
	}
	// Before anything starts a process (finding uv, the interpreter): unchanged dependencies
	// cost a few file reads.
	cache, err := e.requirementsCache(svc, venv, target, pins)
	if err != nil {
		return nil, err
	}
	if reqs, ok := cache.load(); ok {
		fmt.Fprintf(req.Log, "convoy: runtime requirements of %s unchanged since they were resolved (%s): no resolver run\n", svc.Name, cache.file)
		return reqs, nil
	}
	uv, err := e.tools.UV(ctx)
	if err != nil {
		return nil, err
	}
	env, err := e.environ(req, venv)
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "convoy-reqs-")
	if err != nil {
		return nil, fmt.Errorf("runtime requirements of %q: %w", svc.Name, err)
	}
	defer os.RemoveAll(dir)
	c := python.Compile{Target: target, Python: filepath.Join(venv, "bin", "python")}
	if c.Constraints, err = writeConstraints(pins, dir); err != nil {
		return nil, err
	}
	if c.Spec, err = e.runtimeSpec(ctx, req, venv, env, dir); err != nil {
		return nil, err
	}
	reqs, err := resolve(ctx, req, uv, c, env)
	if err != nil {
		return nil, err
	}
	return reqs, cache.store(reqs)
}

// resolve resolves c.Spec with uv, unless it lists no requirement: then nothing runs.
func resolve(ctx context.Context, req engine.Request, uv *python.UV, c python.Compile, env []string) ([]string, error) {
	spec, err := os.ReadFile(c.Spec)
	if err != nil {
		return nil, fmt.Errorf("reading the runtime requirements of %q: %w", req.Service.Name, err)
	}
	if len(python.Pins(string(spec))) == 0 {
		fmt.Fprintf(req.Log, "convoy: %s lists no runtime requirement: nothing to resolve\n", req.Service.Name)
		return nil, nil
	}
	fmt.Fprintf(req.Log, "convoy: resolving the runtime requirements of %s for %s with %s\n", req.Service.Name, c.Target, uv.Installer())
	return uv.Resolve(ctx, c, python.Exec{Dir: req.Service.Dir, Env: env, Log: req.Log})
}

// writeConstraints writes pins (what the virtualenv holds: python.Freeze) to dir/constraints.txt.
func writeConstraints(pins []string, dir string) (string, error) {
	file := filepath.Join(dir, "constraints.txt")
	if err := os.WriteFile(file, []byte(strings.Join(pins, "\n")+"\n"), 0o644); err != nil {
		return "", fmt.Errorf("writing constraints: %w", err)
	}
	return file, nil
}

// runtimeSpec returns the requirements file to resolve, as the service's tool says
// (python.Tool.Runtime): its file, or, in dir, the requirement lines the tool reads from its
// scratch directory or else prints.
func (e *Engine) runtimeSpec(ctx context.Context, req engine.Request, venv string, env []string, dir string) (string, error) {
	svc := req.Service
	tool, p := svc.Tool(), svc.Project()
	rt := tool.Runtime(p)
	if rt.File != "" {
		return filepath.Join(p.Root, filepath.FromSlash(rt.File)), nil
	}
	lines, err := e.runtimeLines(ctx, req, rt, venv, env)
	if err != nil {
		return "", err
	}
	file := filepath.Join(dir, python.RuntimeFile)
	if err := os.WriteFile(file, []byte(lines), 0o644); err != nil {
		return "", fmt.Errorf("writing the runtime requirements %s prints: %w", tool.Name(), err)
	}
	return file, nil
}

// runtimeLines are the requirement lines rt lists for svc's virtualenv venv: read from the
// scratch directory when the tool can, else printed by rt.Argv, run as the deps stage's
// commands are (its VenvVars and ScratchVars, rt.Env and its program's settings added to env).
func (e *Engine) runtimeLines(ctx context.Context, req engine.Request, rt python.Runtime, venv string, env []string) (string, error) {
	tool := req.Service.Tool()
	scratch := scratchDir(venv, tool)
	if rt.FromScratch != nil {
		lines, ok, err := rt.FromScratch(scratch)
		if err != nil {
			return "", err
		}
		if ok {
			fmt.Fprintf(req.Log, "convoy: read the runtime requirements of %s from %s\n", req.Service.Name, scratch)
			return strings.Join(lines, "\n") + "\n", nil
		}
	}
	deps := stages.ForService(req.Service)[0]
	env = append(env, toolVars(deps.VenvVars, deps.ScratchVars, venv, scratch)...)
	for k, v := range rt.Env {
		env = append(env, k+"="+v)
	}
	env, err := e.tools.ProgramEnv(ctx, rt.Argv, env)
	if err != nil {
		return "", err
	}
	argv, err := e.tools.Resolve(ctx, rt.Argv)
	if err != nil {
		return "", err
	}
	var out strings.Builder
	if err := e.runTo(ctx, req, argv, env, &out); err != nil {
		return "", err
	}
	return out.String(), nil
}
