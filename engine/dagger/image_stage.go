package dagger

import (
	"context"
	"fmt"
	"os"
	"path"
	"strings"

	"github.com/convoy-ci/convoy/engine"
	"github.com/convoy-ci/convoy/engine/local"
	"github.com/convoy-ci/convoy/pipeline/config"
	"github.com/convoy-ci/convoy/stages"
)

// RequirementsFormat says what the file a RequirementsRecipe leaves behind holds.
type RequirementsFormat string

// Formats of a RequirementsRecipe's output.
const (
	// PipReport is pip's JSON installation report (pip install --dry-run --report), read with
	// local.ParsePipReport.
	PipReport RequirementsFormat = "pip-report"
	// RequirementLines are requirement lines as `pipenv requirements` prints them, read with
	// local.PinnedRequirements.
	RequirementLines RequirementsFormat = "requirement-lines"
)

// RequirementsRecipe resolves, in a service's gated container, the packages its image needs at
// run time at exactly the versions its gates ran with — without its test and lint tools — by
// the local engine's commands (local.RuntimeRequirements):
//   - pip: `pip freeze --exclude-editable` into a constraints file, then pip's own resolver on
//     requirements.txt against it, installing nothing (`pip install --dry-run --report`);
//   - pipenv: `pipenv requirements`, on the Pipfile.lock the deps stage wrote.
type RequirementsRecipe struct {
	// Recipe is the container: the deps stage's, with the image stage's environment (and the
	// pip cache), and the execs above. The source is not mounted: the resolution reads only the
	// dependency spec files the deps stage copied in, so Dagger caches it until they change.
	Recipe Recipe `json:"recipe"`
	// Output is the file the execs leave behind in the container.
	Output string `json:"output"`
	// Format says how Output is read.
	Format RequirementsFormat `json:"format"`
}

// Parse reads the content of the recipe's Output file into sorted name==version lines.
func (r RequirementsRecipe) Parse(data []byte) ([]string, error) {
	switch r.Format {
	case PipReport:
		return local.ParsePipReport(data)
	case RequirementLines:
		return local.PinnedRequirements(string(data)), nil
	}
	return nil, fmt.Errorf("reading the runtime requirements of %q: unknown format %q", r.Recipe.Service, r.Format)
}

// Requirements translates the runtime requirement resolution of svc's image stage st (see
// RequirementsRecipe). It continues svc's environment, Prepared.
func (t Translator) Requirements(cfg *config.Config, svc *config.Service, st stages.Stage) (RequirementsRecipe, error) {
	prep, err := t.Prepared(cfg, svc)
	if err != nil {
		return RequirementsRecipe{}, err
	}
	env, hostMounts := t.env(cfg, svc, st)
	r := Recipe{
		Service: svc.Name, Stage: st.Name, Base: prep.Base, From: &prep,
		Dirs:    []string{ResolveDir},
		Mounts:  hostMounts,
		Workdir: SourceRoot,
		Timeout: st.Timeout,
		Offline: st.Offline,
	}
	if st.HostNetEnv {
		// pip's resolver downloads what it needs to read metadata: the deps stage's cache has it.
		env["PIP_CACHE_DIR"] = PipCacheDir
		r.Caches = []Cache{{Key: PipCacheVolume, Path: PipCacheDir}}
	}
	out := RequirementsRecipe{}
	switch svc.Deps {
	case config.DepsPipenv:
		env["PIPENV_PIPFILE"] = path.Join(PipenvDir, config.SpecFile(svc.Deps))
		env["PIPENV_VERBOSITY"] = "-1"
		out.Output, out.Format = path.Join(ResolveDir, "requirements.txt"), RequirementLines
		r.Execs = []Exec{{Argv: local.PipenvRequirementsArgv(), Stdout: out.Output}}
	case config.DepsPip:
		constraints := path.Join(ResolveDir, "constraints.txt")
		out.Output, out.Format = path.Join(ResolveDir, "report.json"), PipReport
		r.Execs = []Exec{
			{Argv: local.PipFreezeArgv(), Stdout: constraints},
			{Argv: local.PipReportArgv(out.Output, constraints)},
		}
	default:
		return RequirementsRecipe{}, fmt.Errorf("service %q: unknown dependency tool %q", svc.Name, svc.Deps)
	}
	r.Env = envList(env)
	r.Unset, r.Unmount = leftovers(&prep, &r)
	out.Recipe = r
	return out, nil
}

// RuntimeRequirements runs the requirement resolution of req's image stage (Translator.
// Requirements) on the engine and returns the pinned requirement lines. Its commands' "$ argv"
// lines and errors go to req.Log; a command that fails is a *engine.StageError, as on the
// local engine.
func (e *Engine) RuntimeRequirements(ctx context.Context, req engine.Request) ([]string, error) {
	rr, err := e.tr.Requirements(req.Config, req.Service, req.Stage)
	if err != nil {
		return nil, e.failure(ctx, req.Log, nil, err)
	}
	ctr, err := e.RunRecipe(ctx, &rr.Recipe, req.Log)
	if err != nil {
		return nil, err
	}
	data, err := ctr.File(rr.Output).Contents(ctx)
	if err != nil {
		return nil, e.failure(ctx, req.Log, nil, fmt.Errorf("reading %s in the container of %s/%s: %w", rr.Output, req.Service.Name, req.Stage.Name, err))
	}
	reqs, err := rr.Parse([]byte(data))
	if err != nil {
		return nil, e.failure(ctx, req.Log, nil, err)
	}
	return reqs, nil
}

// imageRecipe translates the image of req's service, built from inputHash with the runtime
// requirements reqs: the WithImages builder's image.Spec (base, labels, command, input hash),
// as the local engine's image.Build gets it.
func (e *Engine) imageRecipe(ctx context.Context, req engine.Request, inputHash string, reqs []string) (ImageRecipe, error) {
	spec, err := e.o.images.Spec(ctx, req.Service, inputHash, reqs, req.Log)
	if err != nil {
		return ImageRecipe{}, err
	}
	return e.tr.Image(spec, req.Config.Root)
}

// buildImageArgv is the "command" an image stage reports when assembling the image fails.
var buildImageArgv = []string{"build image"}

// image carries out an image stage as the local engine does, with the assembly on the engine:
// the builder's input hash; the runtime requirements resolved in the gated container; the
// builder's image.Spec translated (Translator.Image), built (BuildImage) and exported
// (ExportImage); then the builder stores it, and pushes it when it has a push target.
func (e *Engine) image(ctx context.Context, req engine.Request) (engine.Result, error) {
	svc, log := req.Service, req.Log
	b := e.o.images
	if b == nil {
		return engine.Result{}, e.failure(ctx, log, nil, fmt.Errorf("image stage of %q: this run builds no images (the dagger engine was created without WithImages)", svc.Name))
	}
	hash, err := b.InputHash(ctx, svc)
	if err != nil {
		return engine.Result{}, e.failure(ctx, log, nil, err)
	}
	reqs, err := e.RuntimeRequirements(ctx, req)
	if err != nil {
		return engine.Result{}, err
	}
	fmt.Fprintf(log, "convoy: runtime requirements of %s (%d): %s\n", svc.Name, len(reqs), strings.Join(reqs, " "))
	r, err := e.imageRecipe(ctx, req, hash, reqs)
	if err != nil {
		return engine.Result{}, e.failure(ctx, log, nil, err)
	}
	ctr, err := e.BuildImage(ctx, &r, log)
	if err != nil {
		return engine.Result{}, e.failure(ctx, log, buildImageArgv, err)
	}
	img, dir, err := e.exportImage(ctx, ctr)
	if dir != "" {
		// The store has its own copy once Put returns.
		defer os.RemoveAll(dir)
	}
	if err != nil {
		return engine.Result{}, e.failure(ctx, log, buildImageArgv, fmt.Errorf("image of %q: %w", svc.Name, err))
	}
	ref, err := b.Put(ctx, svc, img, log)
	if err != nil {
		return engine.Result{}, e.failure(ctx, log, buildImageArgv, err)
	}
	return engine.Result{Image: ref.Name, Digest: ref.Digest}, nil
}
