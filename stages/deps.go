package stages

import (
	"fmt"

	"github.com/convoy-ci/convoy/pipeline/config"
	"github.com/convoy-ci/convoy/python"
)

// deps installs the service's dependencies, development tools included, into its environment
// as its dependency tool says (python.Tool.Install), then the repository's tools (the tools:
// key, python.InstallWith): the virtualenv's installer, the commands
// that fill it, their environment and the scratch files the tool works on.
var deps = Definition{Name: Deps, For: func(svc *config.Service) Stage {
	return depsStage(svc, python.InstallOptions{Installer: svc.Installer})
}}

// depsStage is the deps stage of svc installed with o.
func depsStage(svc *config.Service, o python.InstallOptions) Stage {
	st := Stage{Name: Deps, Kind: KindDeps, Timeout: svc.Timeout, HostNetEnv: true, Expected: expectDeps}
	o.Tools = svc.DevTools()
	inst, err := python.InstallWith(svc.Tool(), svc.Project(), o)
	if err != nil {
		st.Err = fmt.Errorf("deps stage of %q: %w", svc.Name, err)
		return st
	}
	st.Installer, st.Commands, st.Env = inst.Installer, inst.Commands, inst.Env
	st.VenvVars, st.Scratch, st.ScratchVars = inst.VenvVars, inst.Scratch, inst.ScratchVars
	st.ScratchFiles, st.InScratch, st.Inputs = inst.Files, inst.InScratch, inst.Inputs
	st.Libs = inst.Libs
	return st
}

// Frozen replaces the deps stage of sts with one that installs exactly svc's committed lockfile
// (python.InstallOptions.Frozen) when it has one. Releases build this way, from what QA froze.
func Frozen(svc *config.Service, sts []Stage) []Stage {
	out := append([]Stage(nil), sts...)
	for i, st := range out {
		if st.Name == Deps {
			frozen := depsStage(svc, python.InstallOptions{Installer: svc.Installer, Frozen: true})
			frozen.CompileAll = st.CompileAll
			out[i] = frozen
		}
	}
	return out
}
