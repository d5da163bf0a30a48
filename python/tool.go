package python

import (
	"context"
	"fmt"
	"sort"
	"strings"
)

// Tool is one dependency tool a service may use (services.yaml's deps key): everything convoy
// knows about it — which files hold a service's dependencies and its lock, how to install them
// into a virtualenv, how to list what the service's image needs, how to freeze a gated
// environment into the lockfile a release commits. Tools return data (paths, argv, variables);
// engines run it where they run things (the host, a container), so that every engine and
// release run the same commands. Adding a tool is one file here and its entry in tools.
//
// Paths a Tool returns are slash-separated and relative to the repository root, like
// Project.Dir: engines place them where they run (the host's checkout, a container's mount).
type Tool interface {
	// Name is the tool's name in services.yaml: "pip", "pipenv", "uv", "poetry".
	Name() string
	// Spec is the file a service of this tool must have: its dependency specification
	// ("services/auth/Pipfile").
	Spec(p Project) string
	// Inputs are the files a service's installed environment is determined by, the spec first
	// (pip's dev requirements, the lockfile, a workspace's root files). Readers skip those that
	// do not exist, except the spec.
	Inputs(p Project) []string
	// Lock is the lockfile a release freezes the service's versions into, in the tool's own
	// format: the file a user of the tool would commit. Services of one workspace share it.
	Lock(p Project) string
	// Install says how to install the service's dependencies, development tools included,
	// into a new virtualenv.
	Install(p Project, o InstallOptions) (Installation, error)
	// Runtime says how to list the requirements the service's image needs (no test or lint
	// tools), to be resolved for the image's Target.
	Runtime(p Project) Runtime
	// Freeze returns the lockfile (Lock's content) that describes the environment e, installed
	// by Install; it fails when the tool's lock does not describe what e holds. It writes
	// nothing in the repository.
	Freeze(ctx context.Context, p Project, e Env) ([]byte, error)
	// Pins reads a lockfile of this tool (Freeze's output, or a committed one) into canonical
	// package name → pin ("4.2.11", "@ URL" for direct references), for release diffs.
	Pins(lock []byte) (map[string]string, error)
}

// Project locates one service for a Tool.
type Project struct {
	// Root is the repository root on the host, for tools that read files to decide (a uv
	// workspace's root).
	Root string
	// Dir is the service directory relative to Root, slash-separated ("services/auth").
	Dir string
	// Name is the service's name, for messages.
	Name string
	// SpecFile, when set, is the base name of the requirements file a pip project installs,
	// instead of requirements.txt and requirements-dev.txt (the integration suite's file, which
	// may be called anything). Other tools ignore it.
	SpecFile string
}

// InstallOptions are the manifest's choices for an install.
type InstallOptions struct {
	// Installer is the manifest's installer (InstallerUV or InstallerPip), for tools that
	// install requirements files (pip).
	Installer string
	// Frozen installs exactly the committed lockfile (Tool.Lock) — a release builds this
	// way, from what QA froze — when there is one.
	Frozen bool
	// Tools are installed on top of the service's own dependencies (InstallWith does it, for
	// every tool).
	Tools DevTools
}

// Installation is how a tool fills a new virtualenv with a service's dependencies.
type Installation struct {
	// Installer creates the empty virtualenv first (VenvArgv): InstallerUV or InstallerPip.
	Installer string
	// Commands run in order in the service directory, with the virtualenv activated
	// (VIRTUAL_ENV, its bin first on PATH). Their argv[0] may name a program convoy
	// provisions (UVProgram, PoetryProgram): engines replace it with theirs (Resolve).
	Commands [][]string
	// Env is added to the commands' environment.
	Env map[string]string
	// VenvVars are variables engines set to the virtualenv's path, besides VIRTUAL_ENV (uv's
	// UV_PROJECT_ENVIRONMENT).
	VenvVars []string
	// Scratch are files (repository-relative) copied into a directory of the tool's own kept
	// with the virtualenv, for tools that write next to their spec (pipenv writes a
	// Pipfile.lock next to its Pipfile): the repository is never written. Missing ones are
	// skipped, except the first.
	Scratch []string
	// ScratchVars are variables engines set to the scratch copy of a file, by base name
	// (PIPENV_PIPFILE: "Pipfile"). Runtime's Argv and Freeze get the same.
	ScratchVars map[string]string
	// Files are written into the scratch directory, by base name, after Scratch is copied
	// (requirement lines convoy derived from a lockfile, say).
	Files map[string]string
	// InScratch runs Commands in the scratch directory instead of the service's, so that they
	// name Files by their base names.
	InScratch bool
	// Inputs are files (repository-relative) besides the tool's Inputs that Commands read and
	// the virtualenv is keyed by, named in Commands relative to the service's directory (the
	// repository's DevTools requirements): engines make them available there.
	Inputs []string
	// Libs says the commands read the service's libs (services.yaml's libs) where the
	// repository has them, relative to the service directory — poetry installs its path
	// dependencies from there — so that engines that run them on a copy of the service's
	// files (a container) put the libs there too.
	Libs bool
}

// RuntimeFile is the base name of the file engines write the requirement lines a Runtime lists
// into (Runtime.Argv's output, the image's pins), in a directory of their own.
const RuntimeFile = "requirements.txt"

// Runtime is how a tool lists the requirements a service's image needs, as requirement lines
// (markers kept) for Compile: a file, or a command that prints them.
type Runtime struct {
	// File is a requirements file (repository-relative) to resolve as it is.
	File string
	// Argv, when File is empty, prints the requirement lines on standard output. It runs
	// where Install's commands do (service directory, virtualenv activated, VenvVars and
	// ScratchVars set) with Env — not Install's Env, which is the install's alone; argv[0] may
	// name a provisioned program.
	Argv []string
	// Env is added to Argv's environment.
	Env map[string]string
	// FromScratch, when set, reads the requirement lines from the scratch directory without
	// starting a process; ok false means "run Argv instead".
	FromScratch func(scratch string) (lines []string, ok bool, err error)
}

// Env is an environment Install filled, as the host sees it.
type Env struct {
	// Venv is the virtualenv's directory.
	Venv string
	// Scratch is the tool's scratch directory kept with it ("" when Install has no Scratch).
	Scratch string
	// Tools provisions the programs the tool runs.
	Tools *Tools
	// DevTools are what InstallOptions.Tools installed on top of the service's dependencies:
	// Freeze does not count them (nor what they require) as packages the lock must hold.
	DevTools DevTools
}

// Programs convoy provisions itself and that commands name by these placeholders (argv[0]):
// engines replace them with the path of the program they run (Resolve).
const (
	// PoetryProgram is poetry, PoetryVersion, provisioned in a virtualenv of its own.
	PoetryProgram = "poetry"
)

// tools are the dependency tools by name. Each file that implements one adds it here.
var tools = map[string]Tool{}

// register adds t to the tools convoy knows; called from init by each tool's file.
func register(t Tool) { tools[t.Name()] = t }

// ToolNamed returns the tool services.yaml calls name.
func ToolNamed(name string) (Tool, bool) {
	t, ok := tools[name]
	return t, ok
}

// MustTool returns the tool named name, for a name the manifest loader already checked.
func MustTool(name string) Tool {
	t, ok := tools[name]
	if !ok {
		panic(fmt.Sprintf("python: unknown dependency tool %q (want one of %s)", name, strings.Join(ToolNames(), ", ")))
	}
	return t
}

// ToolNames are the names of the tools, sorted: the values of services.yaml's deps key.
func ToolNames() []string {
	out := make([]string, 0, len(tools))
	for n := range tools {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}
