package dagger

import (
	"context"
	"errors"
	"fmt"
	"path"
	"strings"

	"github.com/convoy-ci/convoy/engine"
	"github.com/convoy-ci/convoy/pipeline/config"
	"github.com/convoy-ci/convoy/python"
	"github.com/convoy-ci/convoy/stages"
)

// requirementsRecipe resolves, in a service's gated container, the packages its image needs at
// run time — without its test and lint tools — for the image's interpreter and platform (its
// base's full Python version, architecture and glibc), with package python's commands, as the
// local engine's RuntimeRequirements does on the host:
//   - the host's uv is copied into toolsDir (translator.UV): the base needs no pip;
//   - what the gated virtualenv holds is frozen into a constraints file (python.FreezeArgv);
//   - the runtime spec the service's tool gives (python.Tool.Runtime: its file, or the lines
//     its command prints, markers kept) is resolved for the target, held to those versions
//     (python.CompileArgv).
type requirementsRecipe struct {
	// Recipe is the container: the deps stage's, with the image stage's environment, the pip
	// and uv caches, and the execs above. The source is not mounted: the resolution reads only
	// the dependency spec files the deps stage copied in, so Dagger caches it until they change.
	Recipe recipe `json:"recipe"`
	// Output is the file the pins are left in: uv pip compile's output, read with Parse.
	Output string `json:"output"`
	// Target is what they are resolved for.
	Target python.Target `json:"target"`
}

// parse reads the content of the recipe's Output file into sorted requirement lines.
func (r requirementsRecipe) parse(data []byte) []string { return python.Pins(string(data)) }

// requirements translates the runtime requirement resolution of svc's image stage st for
// target (see requirementsRecipe). It continues svc's environment, prepared.
func (t translator) requirements(cfg *config.Config, svc *config.Service, st stages.Stage, target python.Target) (requirementsRecipe, error) {
	prep, err := t.prepared(cfg, svc)
	if err != nil {
		return requirementsRecipe{}, err
	}
	env, hostMounts := t.env(cfg, svc, st)
	r := recipe{
		Service: svc.Name, Stage: st.Name, Base: prep.Base, From: &prep,
		Dirs:    []string{resolveDir},
		Mounts:  hostMounts,
		Workdir: prep.Workdir, // the runtime command runs where the install did (projectDir)
		Timeout: st.Timeout,
		Offline: st.Offline,
	}
	deps, err := t.depsStage(svc)
	if err != nil {
		return requirementsRecipe{}, err
	}
	rt := svc.Tool().Runtime(svc.Project())
	// The tool reads what its install left in the scratch directory (pipenv the Pipfile and the
	// lock it wrote), with the virtualenv where the deps stage put it.
	scratchFiles(svc, deps, env)
	for _, k := range deps.VenvVars {
		env[k] = venvDir
	}
	for k, v := range rt.Env {
		env[k] = v
	}
	uv := t.withUV(&r, env)
	execs, out, err := requirementsExecs(svc, rt, target, uv)
	if err != nil {
		return requirementsRecipe{}, err
	}
	r.Execs = execs
	r.Env = envList(env)
	r.Unset, r.Unmount = leftovers(&prep, &r)
	return requirementsRecipe{Recipe: r, Output: out, Target: target}, nil
}

// requirementsExecs are the commands of a requirementsRecipe and the file they leave the pins
// in; the runtime spec is rt's file, or what rt's command prints. The scratch directory is the
// one in the deps stage's container, so that the tool's command runs (no FromScratch).
func requirementsExecs(svc *config.Service, rt python.Runtime, target python.Target, uv string) ([]execStep, string, error) {
	venvPython := path.Join(venvDir, "bin", "python")
	c := python.Compile{Constraints: path.Join(resolveDir, "constraints.txt"), Target: target, Python: venvPython}
	execs := []execStep{
		{Argv: python.FreezeArgv(uv, venvPython), Stdout: c.Constraints},
	}
	switch p := svc.Project(); {
	case rt.File != "":
		c.Spec = containerPath(p, rt.File)
		if r, ok := serviceRel(p, rt.File); ok {
			c.Spec = r // the working directory is the service's
		}
	case len(rt.Argv) > 0:
		c.Spec = path.Join(resolveDir, python.RuntimeFile)
		argv := python.ResolvePoetry(python.ResolveUV(rt.Argv, uv), python.PoetryBin(poetryDir))
		execs = append(execs, execStep{Argv: argv, Stdout: c.Spec})
	default:
		return nil, "", fmt.Errorf("service %q: dependency tool %s lists no runtime requirements", svc.Name, svc.Tool().Name())
	}
	out := path.Join(resolveDir, "pins.txt")
	return append(execs, execStep{Argv: python.CompileArgv(uv, c), Stdout: out}), out, nil
}

// runtimeRequirements runs the requirement resolution of req's image stage (translator.
// Requirements) on the engine, for the target of the service's base image (the WithImages
// builder's), and returns the pinned requirement lines. Its commands' "$ argv" lines and
// errors go to req.Log; a command that fails is a *engine.StageError, as on the local engine.
func (e *Engine) runtimeRequirements(ctx context.Context, req engine.Request) ([]string, error) {
	target, err := e.target(ctx, req)
	if err != nil {
		return nil, e.failure(ctx, req.Log, nil, err)
	}
	tr, err := e.hostTranslator(ctx)
	if err != nil {
		return nil, e.failure(ctx, req.Log, nil, err)
	}
	rr, err := tr.requirements(req.Config, req.Service, req.Stage, target)
	if err != nil {
		return nil, e.failure(ctx, req.Log, nil, err)
	}
	fmt.Fprintf(req.Log, "convoy: resolving the runtime requirements of %s for %s with uv %s\n", req.Service.Name, target, python.UVVersion)
	ctr, err := e.runRecipe(ctx, &rr.Recipe, req.Log)
	if err != nil {
		return nil, err
	}
	data, err := ctr.File(rr.Output).Contents(ctx)
	if err != nil {
		return nil, e.failure(ctx, req.Log, nil, fmt.Errorf("reading %s in the container of %s/%s: %w", rr.Output, req.Service.Name, req.Stage.Name, err))
	}
	return rr.parse([]byte(data)), nil
}

// target is what req's service's image dependencies are resolved for: its base image's.
func (e *Engine) target(ctx context.Context, req engine.Request) (python.Target, error) {
	if e.o.images == nil {
		return python.Target{}, errors.New("no base image to resolve the runtime requirements for (the dagger engine was created without WithImages)")
	}
	base, err := e.o.images.Base(ctx, req.Service)
	if err != nil {
		return python.Target{}, err
	}
	return base.Target()
}

// image carries out an image stage: the runtime requirements are resolved in the gated
// container (runtimeRequirements), then assemble builds the image on the host exactly as the
// local engine does.
func (e *Engine) image(ctx context.Context, req engine.Request) (engine.Result, error) {
	if e.o.images == nil {
		return engine.Result{}, e.failure(ctx, req.Log, nil, fmt.Errorf("image stage of %q: this run builds no images (the dagger engine was created without WithImages)", req.Service.Name))
	}
	reqs, err := e.runtimeRequirements(ctx, req)
	if err != nil {
		return engine.Result{}, err
	}
	return e.assemble(ctx, req, reqs)
}

// layer carries out a layer stage: the runtime requirements are resolved in the gated
// container (runtimeRequirements), then the dependency layer is built on the host with the
// WithImages builder, as the local engine does, for the image stage to find built.
func (e *Engine) layer(ctx context.Context, req engine.Request) (engine.Result, error) {
	if e.o.images == nil {
		return engine.Result{}, e.failure(ctx, req.Log, nil, fmt.Errorf("layer stage of %q: this run builds no images (the dagger engine was created without WithImages)", req.Service.Name))
	}
	reqs, err := e.runtimeRequirements(ctx, req)
	if err != nil {
		return engine.Result{}, err
	}
	fmt.Fprintf(req.Log, "convoy: runtime requirements of %s (%d): %s\n", req.Service.Name, len(reqs), strings.Join(reqs, " "))
	size, err := e.o.images.Layer(ctx, req.Service, reqs, req.Log)
	if err != nil {
		return engine.Result{}, e.failure(ctx, req.Log, buildLayerArgv, err)
	}
	fmt.Fprintf(req.Log, "convoy: dependency layer of %s: %.1f MB\n", req.Service.Name, float64(size)/1e6)
	return engine.Result{}, nil
}

// assemble builds, stores and pushes the image of req's service from the pinned runtime
// requirements reqs with the WithImages builder — the local engine's own call (package image
// assembles the layers and the configuration; the dependency layer is installed by the host's
// uv for the base's Python and platform) — so the same inputs give the same digest on both
// engines.
func (e *Engine) assemble(ctx context.Context, req engine.Request, reqs []string) (engine.Result, error) {
	b, svc := e.o.images, req.Service
	hash, err := b.InputHash(ctx, svc)
	if err != nil {
		return engine.Result{}, e.failure(ctx, req.Log, nil, err)
	}
	fmt.Fprintf(req.Log, "convoy: runtime requirements of %s (%d): %s\n", svc.Name, len(reqs), strings.Join(reqs, " "))
	ref, err := b.Build(ctx, svc, hash, reqs, req.Log)
	if err != nil {
		return engine.Result{}, e.failure(ctx, req.Log, buildImageArgv, err)
	}
	return engine.Result{Image: ref.Name, Digest: ref.Digest}, nil
}

// buildImageArgv is the "command" an image stage reports when assembling the image fails.
var buildImageArgv = []string{"build image"}

// buildLayerArgv is the "command" a layer stage reports when building the layer fails.
var buildLayerArgv = []string{"build dependency layer"}
