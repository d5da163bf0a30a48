package python

import (
	"context"
	"os"
	"path/filepath"
	"reflect"
	"testing"
)

// TestInstall: what each tool installs, by the files the service has and the options.
func TestInstall(t *testing.T) {
	const pipfile = "[packages]\ndjango = \"*\"\n\n[dev-packages]\nflake8 = \"*\"\n"
	hashes, err := PipfileHashes([]byte(pipfile))
	if err != nil {
		t.Fatal(err)
	}
	lock := func(hash, extra string) string {
		return `{"_meta": {"hash": {"sha256": "` + hash + `"}, "sources": [{"url": "https://pypi.org/simple"}]},
			"default": {"django": {"version": "==5.2.1", "hashes": ["sha256:aa", "sha256:bb"]}` + extra + `},
			"develop": {"flake8": {"version": "==7.0.0", "markers": "python_version >= '3.9'", "hashes": ["sha256:cc"]}}}`
	}
	current, stale := lock(hashes[0], ""), lock("0123", "")
	withGit := lock(hashes[0], `, "x": {"git": "https://example.com/x.git", "ref": "abc"}`)
	tests := []struct {
		name, tool string
		files      map[string]string
		o          InstallOptions
		want       Installation
	}{
		{"pip, uv by default", Pip, map[string]string{"requirements.txt": ""}, InstallOptions{},
			Installation{Installer: InstallerUV, Commands: [][]string{{UVProgram, "pip", "install", "--no-config", "-r", "requirements.txt"}}}},
		{"pip, dev requirements", Pip, map[string]string{"requirements.txt": "", "requirements-dev.txt": ""}, InstallOptions{Installer: InstallerPip},
			Installation{Installer: InstallerPip, Commands: [][]string{{"python", "-m", "pip", "install", "-r", "requirements-dev.txt"}}}},
		{"pip, frozen without a lock", Pip, map[string]string{"requirements.txt": ""}, InstallOptions{Frozen: true},
			Installation{Installer: InstallerUV, Commands: [][]string{{UVProgram, "pip", "install", "--no-config", "-r", "requirements.txt"}}}},
		{"pip, frozen", Pip, map[string]string{"requirements.txt": "", "requirements-dev.txt": "", "requirements.lock": ""}, InstallOptions{Frozen: true},
			Installation{Installer: InstallerUV, Commands: [][]string{{UVProgram, "pip", "install", "--no-config", "-r", "requirements.lock"}}}},
		{"pipenv without a lock", "pipenv", map[string]string{"Pipfile": pipfile}, InstallOptions{Installer: InstallerUV},
			pipenvInstallation("install")},
		{"pipenv, stale lock", "pipenv", map[string]string{"Pipfile": pipfile, "Pipfile.lock": stale}, InstallOptions{},
			pipenvInstallation("install")},
		{"pipenv, current lock", "pipenv", map[string]string{"Pipfile": pipfile, "Pipfile.lock": current}, InstallOptions{},
			pipenvLocked()},
		{"pipenv, frozen stale lock", "pipenv", map[string]string{"Pipfile": pipfile, "Pipfile.lock": stale}, InstallOptions{Frozen: true},
			pipenvLocked()},
		{"pipenv, lock with a git package", "pipenv", map[string]string{"Pipfile": pipfile, "Pipfile.lock": withGit}, InstallOptions{},
			pipenvInstallation("install")},
		{"pipenv, frozen lock with a git package", "pipenv", map[string]string{"Pipfile": pipfile, "Pipfile.lock": withGit}, InstallOptions{Frozen: true},
			pipenvInstallation("sync")},
		{"pipenv, frozen without a lock", "pipenv", map[string]string{"Pipfile": pipfile}, InstallOptions{Frozen: true},
			pipenvInstallation("install")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root := t.TempDir()
			for f, content := range tt.files {
				writeTestFile(t, filepath.Join(root, "services", "a", f), content)
			}
			got, err := MustTool(tt.tool).Install(Project{Root: root, Dir: "services/a", Name: "a"}, tt.o)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got  %+v\nwant %+v", got, tt.want)
			}
		})
	}
}

// pipenvLocked is the installation of TestInstall's lock by uv, hashes required.
func pipenvLocked() Installation {
	return Installation{
		Installer:   InstallerUV,
		Commands:    [][]string{{UVProgram, "pip", "install", "--no-config", "--require-hashes", "-r", "Pipfile.lock.txt"}},
		Scratch:     []string{"services/a/Pipfile", "services/a/Pipfile.lock"},
		ScratchVars: map[string]string{"PIPENV_PIPFILE": "Pipfile"},
		Files: map[string]string{"Pipfile.lock.txt": "-i https://pypi.org/simple\n" +
			"django==5.2.1 --hash=sha256:aa --hash=sha256:bb\n" +
			"flake8==7.0.0; python_version >= '3.9' --hash=sha256:cc\n"},
		InScratch: true,
	}
}

// TestToolFiles: every tool's paths are repository-relative, in the service's directory.
func TestToolFiles(t *testing.T) {
	p := Project{Dir: "services/a"}
	for name, want := range map[string][]string{
		Pip:      {"services/a/requirements.txt", "services/a/requirements.lock", "services/a/requirements.txt", "services/a/requirements-dev.txt", "services/a/requirements.lock"},
		"pipenv": {"services/a/Pipfile", "services/a/Pipfile.lock", "services/a/Pipfile", "services/a/Pipfile.lock"},
	} {
		tool := MustTool(name)
		got := append([]string{tool.Spec(p), tool.Lock(p)}, tool.Inputs(p)...)
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%s: spec, lock, inputs = %q, want %q", name, got, want)
		}
	}
	if rt := MustTool(Pip).Runtime(p); rt.File != "services/a/requirements.txt" {
		t.Errorf("pip's runtime spec = %+v", rt)
	}
}

// TestToolPins: each tool reads its own lockfile; pipenv's must be one.
func TestToolPins(t *testing.T) {
	pins, err := MustTool(Pip).Pins([]byte("# python 3.11.7\nDjango==4.2.11\nkit @ file:///libs/kit\n"))
	if err != nil || !reflect.DeepEqual(pins, map[string]string{"django": "4.2.11", "kit": "@ file:///libs/kit"}) {
		t.Errorf("pip pins = %v, %v", pins, err)
	}
	lock := `{"_meta": {}, "default": {"Django": {"version": "==4.2.11"}, "kit": {"editable": true, "path": "../../libs/kit"}},
		"develop": {"flake8": {"version": "==7.0.0"}, "x": {"git": "https://example.com/x.git", "ref": "abc"}}}`
	pins, err = MustTool("pipenv").Pins([]byte(lock))
	want := map[string]string{"django": "4.2.11", "kit": "@ ../../libs/kit", "flake8": "7.0.0", "x": "@ git+https://example.com/x.git@abc"}
	if err != nil || !reflect.DeepEqual(pins, want) {
		t.Errorf("pipenv pins = %v, %v", pins, err)
	}
	if _, err := MustTool("pipenv").Pins([]byte(`{"default": {}}`)); err == nil {
		t.Error("a Pipfile.lock without _meta was read")
	}
}

// TestResolve: placeholders become the provisioned program; other commands stay as they are.
func TestResolve(t *testing.T) {
	uv := filepath.Join(t.TempDir(), "uv")
	writeTestFile(t, uv, "#!/bin/sh\necho uv 0.0.1\n")
	if err := os.Chmod(uv, 0o755); err != nil {
		t.Fatal(err)
	}
	tools := NewTools(t.TempDir(), WithUV(uv))
	got, err := tools.Resolve(context.Background(), []string{UVProgram, "pip", "install"})
	if err != nil || !reflect.DeepEqual(got, []string{uv, "pip", "install"}) {
		t.Errorf("Resolve(uv) = %q, %v", got, err)
	}
	got, err = tools.Resolve(context.Background(), []string{"python", "-m", "pip"})
	if err != nil || !reflect.DeepEqual(got, []string{"python", "-m", "pip"}) {
		t.Errorf("Resolve(python) = %q, %v", got, err)
	}
}

// pipenvInstallation is the installation of TestInstall's service by pipenv itself.
func pipenvInstallation(verb string) Installation {
	return Installation{
		Installer: InstallerPip,
		Commands:  [][]string{{"python", "-m", "pip", "install", "--quiet", "pipenv==" + PipenvVersion}, {"python", "-m", "pipenv", verb, "--dev"}},
		Env: map[string]string{"PIPENV_VERBOSITY": "-1", "PIPENV_NOSPIN": "1", "PIPENV_YES": "1",
			"PIPENV_IGNORE_VIRTUALENVS": "0"},
		Scratch:     []string{"services/a/Pipfile", "services/a/Pipfile.lock"},
		ScratchVars: map[string]string{"PIPENV_PIPFILE": "Pipfile"},
	}
}
