// Package stages is convoy's stage catalogue: what each stage of a service runs, as data.
//
// A Stage is a name, the commands to run (argv lists, never shell strings), extra environment,
// a timeout and the stages of the same service it needs. The scheduler and the engines know
// nothing about Python; everything Python-specific about a stage lives in this package, one
// file per stage. Adding a stage means adding one file and listing its Definition in Gates.
package stages

import (
	"time"

	"github.com/convoy-ci/convoy/pipeline/config"
)

// Stage names.
const (
	Deps     = "deps"
	Unit     = "unit"
	Lint     = "lint"
	Populate = "populate"
	Layer    = "layer"
	Image    = "image"
)

// Kind says how an engine carries a stage out.
type Kind int

const (
	// KindProcess stages run their Commands in the service's environment.
	KindProcess Kind = iota
	// KindDeps stages prepare the service's environment (a virtualenv, a container layer);
	// an engine may reuse an earlier result when the dependency spec is unchanged.
	KindDeps
	// KindImage stages assemble the service's image; they run no command.
	KindImage
	// KindLayer stages build the dependency layer of the service's image (from the runtime
	// requirements its environment resolves); they run no command of the stage's own.
	KindLayer
)

// Stage is one step of one service's pipeline.
type Stage struct {
	// Name is the stage's name, unique within a service.
	Name string
	// Kind says how an engine carries the stage out.
	Kind Kind
	// Commands run in order in the service directory; the first failure fails the stage.
	Commands [][]string
	// Env is added to the service's environment for this stage only.
	Env map[string]string
	// Timeout bounds the whole stage.
	Timeout time.Duration
	// Needs lists stages of the same service that must pass first.
	Needs []string
	// Offline asks the engine to run the stage with no network but loopback.
	Offline bool
	// FreshDB asks the engine for a DATABASE_URL pointing to a new, empty database of the
	// service's own.
	FreshDB bool
	// Expected is how long the stage is expected to take when no earlier run of it was
	// recorded; the scheduler starts long chains of stages first. It bounds nothing.
	Expected time.Duration
	// HostNetEnv lets the host's proxy, CA-bundle and package-index variables through, for
	// stages that download packages.
	HostNetEnv bool
	// Installer (KindDeps stages) is what creates the virtualenv before Commands fill it:
	// python.InstallerUV or python.InstallerPip (python.VenvArgv).
	Installer string
	// VenvVars, Scratch and ScratchVars (KindDeps stages) are the dependency tool's
	// (python.Installation): variables set to the virtualenv's path, repository-relative files
	// copied into a scratch directory kept with the virtualenv, and variables set to those
	// copies by base name.
	VenvVars    []string
	Scratch     []string
	ScratchVars map[string]string
	// ScratchFiles and InScratch (KindDeps stages) are python.Installation's Files and
	// InScratch.
	ScratchFiles map[string]string
	InScratch    bool
	// CompileAll (KindDeps stages) is set when the service's image is built after its gates
	// in the same run: the engine may compile every installed module into its bytecode store
	// before the gates run (python.Tools.PlaceBytecode with compile), since the image's dependency layer
	// compiles them anyway, and the gates' interpreters then load them compiled.
	CompileAll bool
	// Inputs (KindDeps stages) are python.Installation's Inputs: more files the virtualenv is
	// keyed by, named in Commands relative to the service's directory.
	Inputs []string
	// Libs (KindDeps stages) is python.Installation's Libs: the commands read the service's
	// libs where the repository has them.
	Libs bool
	// Findings, when set, lets the stage pass with problems it reports (lint_mode: warn): the
	// runner parses its output and counts them.
	Findings *Findings
	// Counts, when set, says how the stage's test counts are read (unit).
	Counts *Counts
	// Err, when set, is why the stage could not be made for the service: engines fail it
	// without running anything.
	Err error
}

// Definition turns a service's configuration into its Stage.
type Definition struct {
	// Name is the stage's name.
	Name string
	// For builds the stage for one service.
	For func(svc *config.Service) Stage
}

// Gates are the stages that decide whether a service gets an image, in plan order.
var Gates = []Definition{deps, unit, lint, populate}

// ForService returns the gate stages of svc in plan order.
func ForService(svc *config.Service) []Stage {
	out := make([]Stage, 0, len(Gates))
	for _, d := range Gates {
		out = append(out, d.For(svc))
	}
	return out
}

// Expected durations of the stages when no run of them was recorded: installing
// dependencies is the long one (the environment's, then the image's layer), tests and
// populators take a while, linting and assembling an image from its built layer are quick.
const (
	expectDeps     = 60 * time.Second
	expectUnit     = 20 * time.Second
	expectPopulate = 20 * time.Second
	expectLint     = 5 * time.Second
	expectLayer    = 10 * time.Second
	expectImage    = time.Second
)

// command returns the service's override when it has one (none for an empty one), else the
// preset.
func command(override []string, preset ...string) [][]string {
	switch {
	case override != nil && len(override) == 0:
		return nil // the manifest says: nothing to run
	case len(override) > 0:
		return [][]string{override}
	}
	return [][]string{preset}
}
