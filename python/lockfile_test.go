package python

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

func TestParseFreeze(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    []string // normalised lines
		wantErr bool
	}{
		{
			name: "sorted, canonical, tooling excluded",
			in: "Django==4.2.11\nasgiref==3.8.1\nzope.interface==6.0\npip==24.0\nsetuptools==69.0.0\nwheel==0.42.0\n" +
				"pipenv==2023.12.1\npkg_resources==0.0.0\nPyYAML==6.0.1\nSQLAlchemy_Utils==0.41\n",
			want: []string{"asgiref==3.8.1", "django==4.2.11", "pyyaml==6.0.1", "sqlalchemy-utils==0.41", "zope-interface==6.0"},
		},
		{
			name: "comments and blanks skipped, direct references kept",
			in:   "## !! Could not determine repository location\n\nconvoykit @ file:///work/libs/convoykit\nrequests===2.31.0\n",
			want: []string{"convoykit @ file:///work/libs/convoykit", "requests===2.31.0"},
		},
		{name: "empty environment", in: "pip==24.0\n", want: nil},
		{name: "editable line", in: "-e git+https://example.com/x.git@abc#egg=x\n", wantErr: true},
		{name: "garbage", in: "this is not a requirement\n", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pkgs, err := parseFreeze(tt.in)
			if tt.wantErr {
				if err == nil {
					t.Fatalf("parseFreeze succeeded: %+v", pkgs)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, p := range pkgs {
				got = append(got, p.line)
			}
			if strings.Join(got, "\n") != strings.Join(tt.want, "\n") {
				t.Errorf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(tt.want, "\n"))
			}
		})
	}
}

// TestFreezeRealVirtualenv runs the real pip of a real virtualenv. The
// "installed" packages are bare .dist-info directories, so nothing is
// downloaded.
func TestFreezeRealVirtualenv(t *testing.T) {
	if testing.Short() {
		t.Skip("creates a virtualenv")
	}
	python, err := exec.LookPath("python3")
	if err != nil {
		t.Skip("python3 not installed")
	}
	// A virtualenv without pip (ensurepip takes ~10s), given a copy of the
	// host's pip package: importable, but without metadata of its own.
	venvDir := filepath.Join(t.TempDir(), "venv")
	if out, err := exec.Command(python, "-m", "venv", "--without-pip", venvDir).CombinedOutput(); err != nil {
		t.Skipf("python3 -m venv: %v\n%s", err, out)
	}
	hostPip, err := exec.Command(python, "-c", "import os, pip; print(os.path.dirname(pip.__file__))").Output()
	if err != nil {
		t.Skip("the host python has no pip")
	}
	py := filepath.Join(venvDir, "bin", "python")
	out, err := exec.Command(py, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])").Output()
	if err != nil {
		t.Fatal(err)
	}
	site := strings.TrimSpace(string(out))
	if out, err := exec.Command("cp", "-r", strings.TrimSpace(string(hostPip)), filepath.Join(site, "pip")).CombinedOutput(); err != nil {
		t.Fatalf("copying pip: %v\n%s", err, out)
	}
	for _, d := range []struct{ name, version, requires string }{
		{"Django", "4.2.11", "Requires-Dist: asgiref<4,>=3.6.0\n"},
		{"zope.interface", "6.0", ""},
		{"asgiref", "3.8.1", ""},
		// pipenv, installed in the environment to run it, and its requirements.
		{"pipenv", "2023.12.1", "Requires-Dist: certifi\nRequires-Dist: virtualenv>=20.24.2\nRequires-Dist: pytest; extra == \"tests\"\n"},
		{"virtualenv", "20.25.0", "Requires-Dist: platformdirs<5,>=3.9.1\n"},
		{"platformdirs", "4.2.0", ""},
		{"certifi", "2024.2.2", ""},
	} {
		info := filepath.Join(site, strings.ReplaceAll(d.name, "-", "_")+"-"+d.version+".dist-info")
		writeTestFile(t, filepath.Join(info, "METADATA"), "Metadata-Version: 2.1\nName: "+d.name+"\nVersion: "+d.version+"\n"+d.requires)
		writeTestFile(t, filepath.Join(info, "INSTALLER"), "pip\n")
		writeTestFile(t, filepath.Join(info, "RECORD"), "")
	}
	root := t.TempDir()
	// The host's PYTHONPATH must not leak into the frozen environment.
	t.Setenv("PYTHONPATH", t.TempDir())
	content, err := MustTool(Pip).Freeze(context.Background(), Project{Root: root, Dir: "services/events", Name: "events"}, Env{Venv: venvDir})
	if err != nil {
		t.Fatalf("Freeze: %v", err)
	}
	ver, _ := exec.Command(py, "-c", "import platform; print(platform.python_version())").Output()
	lines := strings.Split(strings.TrimSpace(string(content)), "\n")
	if lines[2] != "# python "+strings.TrimSpace(string(ver)) {
		t.Errorf("header line = %q", lines[2])
	}
	// pip's lockfile describes the whole environment (only pipenv itself is
	// left out by name).
	if got := strings.Join(lines[3:], "|"); got != "asgiref==3.8.1|certifi==2024.2.2|django==4.2.11|platformdirs==4.2.0|virtualenv==20.25.0|zope-interface==6.0" {
		t.Errorf("packages = %s\n%s", got, content)
	}
	_, info, err := frozenVenv(context.Background(), venvDir, []string{"pipenv"})
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(info.Tooling, ","); got != "certifi,pipenv,platformdirs,virtualenv" {
		t.Errorf("tooling closure = %s", got)
	}
	if entries, _ := os.ReadDir(root); len(entries) > 0 {
		t.Error("Freeze wrote into the repository")
	}
}

// writeTestFile writes content to path, creating its directory.
func writeTestFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}
