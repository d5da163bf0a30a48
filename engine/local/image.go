package local

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/convoy-ci/convoy/engine"
	"github.com/convoy-ci/convoy/pipeline/config"
)

// image builds svc's image from the runtime requirements its gated virtualenv resolved.
func (e *Engine) image(ctx context.Context, req engine.Request, venv string) (engine.Result, error) {
	fail := func(err error) (engine.Result, error) {
		fmt.Fprintf(req.Log, "convoy: %v\n", err)
		return engine.Result{}, &engine.StageError{Reason: engine.Failed, ExitCode: -1, Err: err}
	}
	if e.images == nil {
		return fail(fmt.Errorf("image stage of %q: this run builds no images", req.Service.Name))
	}
	hash, err := e.images.InputHash(ctx, req.Service)
	if err != nil {
		return fail(err)
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
		return fail(err)
	}
	return engine.Result{Image: ref.Name, Digest: ref.Digest}, nil
}

// RuntimeRequirements lists, as name==version lines, the packages svc needs at run time, at
// exactly the versions its gated virtualenv holds — without its test and lint tools:
//   - pipenv: `pipenv requirements` (the [packages] section of the lock pipenv wrote);
//   - pip: pip's own resolver on requirements.txt, constrained to `pip freeze` of the
//     virtualenv (`pip install --dry-run --ignore-installed --report`).
func (e *Engine) RuntimeRequirements(ctx context.Context, req engine.Request, venv string) ([]string, error) {
	env, err := e.environ(req, venv)
	if err != nil {
		return nil, &engine.StageError{Reason: engine.Failed, ExitCode: -1, Err: err}
	}
	dir, err := os.MkdirTemp("", "convoy-reqs-")
	if err != nil {
		return nil, &engine.StageError{Reason: engine.Failed, ExitCode: -1, Err: err}
	}
	defer os.RemoveAll(dir)
	var out strings.Builder
	if req.Service.Deps == config.DepsPipenv {
		env = append(env, "PIPENV_PIPFILE="+filepath.Join(venv, pipenvDir, "Pipfile"), "PIPENV_VERBOSITY=-1")
		if err := e.runTo(ctx, req, PipenvRequirementsArgv(), env, &out); err != nil {
			return nil, err
		}
		return PinnedRequirements(out.String()), nil
	}
	if err := e.runTo(ctx, req, PipFreezeArgv(), env, &out); err != nil {
		return nil, err
	}
	constraints := filepath.Join(dir, "constraints.txt")
	if err := os.WriteFile(constraints, []byte(out.String()), 0o644); err != nil {
		return nil, &engine.StageError{Reason: engine.Failed, ExitCode: -1, Err: err}
	}
	report := filepath.Join(dir, "report.json")
	if err := e.run(ctx, req, PipReportArgv(report, constraints), env); err != nil {
		return nil, err
	}
	data, err := os.ReadFile(report)
	if err != nil {
		return nil, &engine.StageError{Reason: engine.Failed, ExitCode: -1, Err: err}
	}
	reqs, err := ParsePipReport(data)
	if err != nil {
		return nil, &engine.StageError{Reason: engine.Failed, ExitCode: -1, Err: err}
	}
	return reqs, nil
}

// PipenvRequirementsArgv lists a pipenv service's [packages] at the versions of the
// Pipfile.lock next to $PIPENV_PIPFILE, one requirement line each, on standard output.
func PipenvRequirementsArgv() []string {
	return []string{"python", "-m", "pipenv", "requirements"}
}

// PipFreezeArgv prints, on standard output, every package of the active virtualenv but the
// editable ones as name==version: the constraints PipReportArgv resolves against.
func PipFreezeArgv() []string {
	return []string{"python", "-m", "pip", "freeze", "--exclude-editable"}
}

// PipReportArgv resolves requirements.txt (in the working directory) with pip's own resolver,
// constrained to the file constraints, installing nothing, and writes pip's installation report
// to the file report (read it with ParsePipReport).
func PipReportArgv(report, constraints string) []string {
	return []string{"python", "-m", "pip", "install", "--quiet", "--dry-run", "--ignore-installed",
		"--report", report, "-r", config.SpecFile(config.DepsPip), "-c", constraints}
}

// ParsePipReport returns the name==version lines, sorted, of the packages pip's installation
// report (pip install --report) would install.
func ParsePipReport(data []byte) ([]string, error) {
	var rep struct {
		Install []struct {
			Metadata struct{ Name, Version string } `json:"metadata"`
		} `json:"install"`
	}
	if err := json.Unmarshal(data, &rep); err != nil {
		return nil, fmt.Errorf("reading pip's report: %w", err)
	}
	var reqs []string
	for _, p := range rep.Install {
		reqs = append(reqs, p.Metadata.Name+"=="+p.Metadata.Version)
	}
	sort.Strings(reqs)
	return reqs, nil
}

// PinnedRequirements keeps the name==version part of requirement lines (as `pipenv
// requirements` prints them), sorted, dropping comments, index options, environment markers and
// lines that pin no version.
func PinnedRequirements(text string) []string {
	var out []string
	for _, line := range strings.Split(text, "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") || strings.HasPrefix(line, "-") {
			continue
		}
		if i := strings.Index(line, ";"); i >= 0 {
			line = strings.TrimSpace(line[:i])
		}
		if strings.Contains(line, "==") {
			out = append(out, line)
		}
	}
	sort.Strings(out)
	return out
}
