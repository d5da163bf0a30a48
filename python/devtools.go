package python

import (
	"path"
	"path/filepath"
)

// DevTools are test and lint tools a repository installs into every service's gate
// virtualenv, on top of what the service's own spec installs (services.yaml's tools key): a
// requirements file kept once at the repository root, and packages.
type DevTools struct {
	// Requirements is a requirements file, relative to the repository root ("" for none).
	Requirements string
	// Packages are requirement specifiers ("pytest", "flake8==7.1.1").
	Packages []string
}

// empty says whether d installs nothing.
func (d DevTools) empty() bool { return d.Requirements == "" && len(d.Packages) == 0 }

// InstallWith is t.Install(p, o) followed, when o.Tools installs something, by one more
// command installing o.Tools into the same virtualenv — with uv when the installation made the
// virtualenv with uv (it has no pip), else with the virtualenv's pip — so that every tool, and
// every engine, gets the repository's test and lint tools the same way. The requirements file
// is one of the installation's Inputs (the virtualenv's key) and is named relative to where the
// commands run: the service's directory, or the scratch directory, into which it is then
// copied.
func InstallWith(t Tool, p Project, o InstallOptions) (Installation, error) {
	inst, err := t.Install(p, o)
	if err != nil || o.Tools.empty() {
		return inst, err
	}
	argv := []string{"python", "-m", "pip", "install"}
	if inst.Installer == InstallerUV {
		argv = []string{UVProgram, "pip", "install", "--no-config"}
	}
	if f := o.Tools.Requirements; f != "" {
		name := RelativeTo(p.Dir, f)
		if inst.InScratch {
			inst.Scratch = append(inst.Scratch, f)
			name = path.Base(f)
		} else {
			inst.Inputs = append(inst.Inputs, f)
		}
		argv = append(argv, "-r", name)
	}
	inst.Commands = append(inst.Commands, append(argv, o.Tools.Packages...))
	return inst, nil
}

// RelativeTo is the slash-separated, repository-relative path rel named from the directory dir
// (repository-relative too).
func RelativeTo(dir, rel string) string {
	r, err := filepath.Rel(filepath.FromSlash(dir), filepath.FromSlash(rel))
	if err != nil {
		return rel
	}
	return filepath.ToSlash(r)
}
