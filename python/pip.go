package python

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path"
	"path/filepath"
)

// Pip is the name of the pip tool in services.yaml's deps key, its default: requirements files
// installed into a virtualenv by the manifest's installer (uv or pip).
const Pip = "pip"

// pip's files, in the service directory.
const (
	// pipSpec holds the service's runtime requirements: what its image gets.
	pipSpec = "requirements.txt"
	// pipDevSpec holds the test and lint tools on top of them (it usually starts with
	// -r requirements.txt); the deps stage installs it instead of pipSpec when it exists.
	pipDevSpec = "requirements-dev.txt"
	// pipLock is what a release freezes the gated virtualenv into: every installed
	// distribution, pinned.
	pipLock = "requirements.lock"
)

// DevOnly are the files of the tools that only the gates read, as patterns in .dockerignore
// syntax: images leave them out (pip's dev requirements).
var DevOnly = []string{"**/" + pipDevSpec}

// pip is the Tool for requirements files.
type pip struct{}

func init() { register(pip{}) }

func (pip) Name() string { return Pip }

func (pip) Spec(p Project) string {
	if p.SpecFile != "" {
		return path.Join(p.Dir, p.SpecFile)
	}
	return path.Join(p.Dir, pipSpec)
}

func (t pip) Inputs(p Project) []string {
	if p.SpecFile != "" {
		return []string{t.Spec(p)}
	}
	return []string{t.Spec(p), path.Join(p.Dir, pipDevSpec), t.Lock(p)}
}

func (pip) Lock(p Project) string { return path.Join(p.Dir, pipLock) }

// Install installs requirements-dev.txt when the service has one, else requirements.txt —
// requirements.lock when o.Frozen and it is committed; p.SpecFile when set — with o.Installer (uv unless it says
// pip; RequirementsInstallArgv).
func (t pip) Install(p Project, o InstallOptions) (Installation, error) {
	installer := InstallerUV
	if o.Installer == InstallerPip {
		installer = InstallerPip
	}
	file := pipSpec
	switch {
	case p.SpecFile != "":
		file = p.SpecFile
	case o.Frozen && exists(p, t.Lock(p)):
		file = pipLock
	case exists(p, path.Join(p.Dir, pipDevSpec)):
		file = pipDevSpec
	}
	return Installation{Installer: installer, Commands: [][]string{RequirementsInstallArgv(installer, file)}}, nil
}

// Runtime is requirements.txt as it is.
func (t pip) Runtime(p Project) Runtime { return Runtime{File: t.Spec(p)} }

// Freeze renders what e's virtualenv holds (FreezeRequirements: canonical names, sorted,
// installer tooling left out) under a header naming the service and the Python version.
func (pip) Freeze(ctx context.Context, p Project, e Env) ([]byte, error) {
	pkgs, info, err := frozenVenv(ctx, e.Venv, nil)
	if err != nil {
		return nil, err
	}
	var b bytes.Buffer
	fmt.Fprintf(&b, "# %s of service %q: the exact packages installed in the\n", pipLock, p.Name)
	b.WriteString("# environment that passed its gates. Written by `convoy release`; do not edit.\n")
	fmt.Fprintf(&b, "# python %s\n", info.Version)
	for _, pkg := range pkgs {
		b.WriteString(pkg.line)
		b.WriteByte('\n')
	}
	return b.Bytes(), nil
}

// Pins reads a requirements.lock (or any pip freeze output).
func (pip) Pins(lock []byte) (map[string]string, error) {
	pkgs, err := parseFreeze(string(lock))
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", pipLock, err)
	}
	m := make(map[string]string, len(pkgs))
	for _, pkg := range pkgs {
		m[pkg.name] = pkg.pin()
	}
	return m, nil
}

// exists says whether the repository-relative file rel of p's repository exists.
func exists(p Project, rel string) bool {
	_, err := os.Stat(filepath.Join(p.Root, filepath.FromSlash(rel)))
	return err == nil
}
