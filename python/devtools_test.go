package python

import (
	"path/filepath"
	"reflect"
	"testing"
)

// TestInstallWith: the repository's tools come after the tool's own commands, installed the way
// the virtualenv was made (uv without pip, else pip), the requirements file named from where
// the commands run — the service's directory, or the scratch directory it is copied into.
func TestInstallWith(t *testing.T) {
	const pipfile = "[packages]\ndjango = \"*\"\n"
	hashes, err := PipfileHashes([]byte(pipfile))
	if err != nil {
		t.Fatal(err)
	}
	root := t.TempDir()
	writeTestFile(t, filepath.Join(root, "services", "a", "requirements.txt"), "")
	writeTestFile(t, filepath.Join(root, "services", "p", "Pipfile"), pipfile)
	writeTestFile(t, filepath.Join(root, "services", "p", "Pipfile.lock"), `{"_meta": {"hash": {"sha256": "`+hashes[0]+
		`"}, "sources": [{"url": "https://pypi.org/simple"}]}, "default": {}, "develop": {}}`)
	tools := DevTools{Requirements: "requirements-dev.txt", Packages: []string{"pytest"}}
	a := Project{Root: root, Dir: "services/a", Name: "a"}
	for _, tt := range []struct {
		name      string
		tool      string
		p         Project
		o         InstallOptions
		last      []string
		inputs    []string
		scratched bool
	}{
		{"uv", Pip, a, InstallOptions{Tools: tools},
			[]string{UVProgram, "pip", "install", "--no-config", "-r", "../../requirements-dev.txt", "pytest"}, []string{"requirements-dev.txt"}, false},
		{"pip", Pip, a, InstallOptions{Installer: InstallerPip, Tools: DevTools{Packages: []string{"flake8==7.1.1"}}},
			[]string{"python", "-m", "pip", "install", "flake8==7.1.1"}, nil, false},
		{"pipenv's lock in scratch", "pipenv", Project{Root: root, Dir: "services/p", Name: "p"}, InstallOptions{Tools: tools},
			[]string{UVProgram, "pip", "install", "--no-config", "-r", "requirements-dev.txt", "pytest"}, nil, true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			plain, err := MustTool(tt.tool).Install(tt.p, tt.o)
			if err != nil {
				t.Fatal(err)
			}
			got, err := InstallWith(MustTool(tt.tool), tt.p, tt.o)
			if err != nil {
				t.Fatal(err)
			}
			if n := len(plain.Commands); len(got.Commands) != n+1 || !reflect.DeepEqual(got.Commands[:n], plain.Commands) {
				t.Fatalf("commands %q, want %q and one more", got.Commands, plain.Commands)
			}
			if last := got.Commands[len(got.Commands)-1]; !reflect.DeepEqual(last, tt.last) {
				t.Errorf("tools command %q, want %q", last, tt.last)
			}
			if !reflect.DeepEqual(got.Inputs, tt.inputs) {
				t.Errorf("inputs %q, want %q", got.Inputs, tt.inputs)
			}
			if s := got.Scratch; tt.scratched != (len(s) > 0 && s[len(s)-1] == "requirements-dev.txt") {
				t.Errorf("scratch %q: tools file copied in = %v, want %v", s, !tt.scratched, tt.scratched)
			}
		})
	}
	if got, err := InstallWith(MustTool(Pip), a, InstallOptions{}); err != nil || len(got.Commands) != 1 {
		t.Errorf("no tools: %q, %v; want the tool's own command only", got.Commands, err)
	}
}
