package release

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
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

func TestFreezePip(t *testing.T) {
	isolateGit(t)
	dir := newRepo(t, map[string]string{"services/events/requirements.txt": "Django\n"})
	venv := newFakeVenv(t, "3.11.7", "Django==4.2.10\nasgiref==3.8.1\nsqlparse==0.4.4\npip==24.0\n")
	svc := Service{Name: "events", Dir: "services/events", Deps: DepsPip, Python: venv.Python}
	ctx := context.Background()

	lf, err := Freeze(ctx, openRepo(t, dir), svc)
	if err != nil {
		t.Fatalf("Freeze: %v", err)
	}
	want := `# requirements.lock of service "events": the exact packages installed in the
# environment that passed its gates. Written by ` + "`convoy release`" + `; do not edit.
# python 3.11.7
asgiref==3.8.1
django==4.2.10
sqlparse==0.4.4
`
	if string(lf.Content) != want {
		t.Errorf("content:\n%s\nwant:\n%s", lf.Content, want)
	}
	if lf.Path != "services/events/requirements.lock" || !lf.Changed || lf.Previous != nil {
		t.Errorf("Path %q Changed %v Previous %q", lf.Path, lf.Changed, lf.Previous)
	}
	sum := sha256.Sum256([]byte(want))
	if lf.SHA256 != hex.EncodeToString(sum[:]) {
		t.Errorf("SHA256 = %s", lf.SHA256)
	}
	if len(lf.Changes) != 3 || lf.Changes[0].String() != "+ asgiref 3.8.1" {
		t.Errorf("Changes = %v", lf.Changes)
	}
	if !strings.HasPrefix(lf.Diff, "--- /dev/null\n+++ b/services/events/requirements.lock\n@@ -0,0 +1,6 @@\n") {
		t.Errorf("Diff =\n%s", lf.Diff)
	}
	if st := gitOut(t, dir, "status", "--porcelain"); st != "" {
		t.Errorf("Freeze wrote to the worktree: %q", st)
	}

	// Commit it: the same environment is now unchanged.
	writeFile(t, filepath.Join(dir, lf.Path), string(lf.Content))
	gitOut(t, dir, "add", lf.Path)
	gitOut(t, dir, "commit", "-qm", "lock")
	lf, err = Freeze(ctx, openRepo(t, dir), svc)
	if err != nil {
		t.Fatal(err)
	}
	if lf.Changed || lf.Diff != "" || len(lf.Changes) != 0 {
		t.Errorf("unchanged environment reported as changed: %+v", lf.Changes)
	}

	// An upgrade, a removal and an addition.
	venv.setFreeze(t, "Django==4.2.11\nasgiref==3.8.1\ntyping_extensions==4.9.0\n")
	lf, err = Freeze(ctx, openRepo(t, dir), svc)
	if err != nil {
		t.Fatal(err)
	}
	var changes []string
	for _, c := range lf.Changes {
		changes = append(changes, c.String())
	}
	if got := strings.Join(changes, "|"); got != "django 4.2.10 -> 4.2.11|- sqlparse 0.4.4|+ typing-extensions 4.9.0" {
		t.Errorf("Changes = %s", got)
	}
	wantDiff := `--- a/services/events/requirements.lock
+++ b/services/events/requirements.lock
@@ -3,4 +3,4 @@
 # python 3.11.7
 asgiref==3.8.1
-django==4.2.10
-sqlparse==0.4.4
+django==4.2.11
+typing-extensions==4.9.0
`
	if lf.Diff != wantDiff {
		t.Errorf("Diff =\n%s\nwant\n%s", lf.Diff, wantDiff)
	}
}

const pipenvLockFixture = `{
    "_meta": {
        "hash": {"sha256": "0123"},
        "pipfile-spec": 6,
        "requires": {"python_version": "3.11"},
        "sources": [{"name": "pypi", "url": "https://pypi.org/simple", "verify_ssl": true}]
    },
    "default": {
        "django": {"hashes": ["sha256:aa"], "index": "pypi", "version": "==4.2.11"},
        "asgiref": {"hashes": ["sha256:bb"], "version": "==3.8.1"},
        "tzdata": {"hashes": ["sha256:cc"], "markers": "sys_platform == 'win32'", "version": "==2024.1"},
        "convoykit": {"editable": true, "path": "../../libs/convoykit"}
    },
    "develop": {
        "flake8": {"hashes": ["sha256:dd"], "version": "==7.0.0"}
    }
}
`

func TestFreezePipenv(t *testing.T) {
	isolateGit(t)
	installed := "Django==4.2.11\nasgiref==3.8.1\nflake8==7.0.0\npipenv==2023.12.1\nsetuptools==69.0.0\n"
	tests := []struct {
		name    string
		freeze  string
		lock    string
		tooling []string
		wantErr string
	}{
		{name: "lock describes the environment", freeze: installed, lock: pipenvLockFixture},
		{name: "version differs", freeze: strings.Replace(installed, "4.2.11", "4.2.12", 1), lock: pipenvLockFixture,
			wantErr: "django is installed at 4.2.12 but locked at 4.2.11"},
		{name: "installed but not locked", freeze: installed + "requests==2.31.0\n", lock: pipenvLockFixture,
			wantErr: "requests==2.31.0 is installed but not in the lock"},
		{name: "locked but not installed", freeze: strings.Replace(installed, "flake8==7.0.0\n", "", 1), lock: pipenvLockFixture,
			wantErr: "flake8 7.0.0 is locked but not installed"},
		{name: "not a lock", freeze: installed, lock: "[packages]\n", wantErr: "parsing Pipfile.lock"},
		{name: "pipenv's own requirements are tooling", freeze: installed + "virtualenv==20.25.0\ncertifi==2024.2.2\n", lock: pipenvLockFixture,
			tooling: []string{"pipenv", "virtualenv", "certifi", "setuptools"}},
		{name: "a locked package is checked even if pipenv needs it too", freeze: strings.Replace(installed, "asgiref==3.8.1", "asgiref==3.7.0", 1), lock: pipenvLockFixture,
			tooling: []string{"pipenv", "asgiref"}, wantErr: "asgiref is installed at 3.7.0 but locked at 3.8.1"},
		{name: "without pipenv installed nothing is tooling", freeze: installed + "virtualenv==20.25.0\n", lock: pipenvLockFixture,
			wantErr: "virtualenv==20.25.0 is installed but not in the lock"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := newRepo(t, map[string]string{"services/auth/Pipfile": "[packages]\ndjango = \"*\"\n"})
			venv := newFakeVenv(t, "3.11.7", tt.freeze)
			venv.setInfo(t, "3.11.7", tt.tooling...)
			lockPath := filepath.Join(t.TempDir(), "Pipfile.lock")
			writeFile(t, lockPath, tt.lock)
			svc := Service{Name: "auth", Dir: "services/auth", Deps: DepsPipenv, Python: venv.Python, PipenvLock: lockPath}
			lf, err := Freeze(context.Background(), openRepo(t, dir), svc)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("Freeze error = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("Freeze: %v", err)
			}
			if string(lf.Content) != tt.lock {
				t.Error("pipenv lockfile content is not the lock pipenv wrote, byte for byte")
			}
			if lf.Path != "services/auth/Pipfile.lock" || !lf.Changed {
				t.Errorf("Path %q Changed %v", lf.Path, lf.Changed)
			}
			if lf.Packages["django"] != "4.2.11" || lf.Packages["flake8"] != "7.0.0" {
				t.Errorf("Packages = %v", lf.Packages)
			}
		})
	}
}

func TestFreezePipenvUsesCommittedLock(t *testing.T) {
	isolateGit(t)
	dir := newRepo(t, map[string]string{"services/auth/Pipfile.lock": pipenvLockFixture})
	venv := newFakeVenv(t, "3.11.7", "Django==4.2.11\nasgiref==3.8.1\nflake8==7.0.0\n")
	svc := Service{Name: "auth", Dir: "services/auth", Deps: DepsPipenv, Python: venv.Python}
	lf, err := Freeze(context.Background(), openRepo(t, dir), svc)
	if err != nil || lf.Changed {
		t.Fatalf("Freeze = changed %v, %v; want unchanged", lf.Changed, err)
	}
	venv.setFreeze(t, "Django==5.0\nasgiref==3.8.1\nflake8==7.0.0\n")
	if _, err := Freeze(context.Background(), openRepo(t, dir), svc); err == nil {
		t.Error("a committed lock that does not match the environment was accepted")
	}
}

func TestCheck(t *testing.T) {
	isolateGit(t)
	dir := newRepo(t, map[string]string{
		"services/events/requirements.lock": "# python 3.11.7\ndjango==4.2.10\n",
		"services/auth/Pipfile.lock":        pipenvLockFixture,
	})
	head := gitOut(t, dir, "rev-parse", "HEAD")
	events := newFakeVenv(t, "3.11.7", "Django==4.2.11\n")
	auth := newFakeVenv(t, "3.11.7", "Django==4.2.11\nasgiref==3.8.1\nflake8==7.0.0\n")
	services := []Service{
		{Name: "auth", Dir: "services/auth", Deps: DepsPipenv, Python: auth.Python},
		{Name: "events", Dir: "services/events", Deps: DepsPip, Python: events.Python},
	}
	res, err := Check(context.Background(), dir, services)
	if err != nil {
		t.Fatal(err)
	}
	if res.OK() {
		t.Fatal("Check OK although events drifted")
	}
	out := res.String()
	for _, want := range []string{
		"events: services/events/requirements.lock does not match the environment that passed the gates",
		"django 4.2.10 -> 4.2.11",
		"-django==4.2.10",
		"+django==4.2.11",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("Check output lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "auth:") {
		t.Errorf("auth reported although its lock matches:\n%s", out)
	}
	if st := gitOut(t, dir, "status", "--porcelain"); st != "" {
		t.Errorf("Check wrote to the worktree: %q", st)
	}
	if h := gitOut(t, dir, "rev-parse", "HEAD"); h != head {
		t.Errorf("Check moved HEAD")
	}

	// After writing what Freeze computes, Check passes.
	writeFile(t, filepath.Join(dir, res.Lockfiles[1].Path), string(res.Lockfiles[1].Content))
	gitOut(t, dir, "commit", "-qam", "freeze")
	res, err = Check(context.Background(), dir, services)
	if err != nil || !res.OK() {
		t.Errorf("Check after freezing: OK=%v err=%v\n%s", res.OK(), err, res.String())
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
	isolateGit(t)
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
		writeFile(t, filepath.Join(info, "METADATA"), "Metadata-Version: 2.1\nName: "+d.name+"\nVersion: "+d.version+"\n"+d.requires)
		writeFile(t, filepath.Join(info, "INSTALLER"), "pip\n")
		writeFile(t, filepath.Join(info, "RECORD"), "")
	}
	dir := newRepo(t, map[string]string{"services/events/requirements.txt": "Django\n"})
	// The host's PYTHONPATH must not leak into the frozen environment.
	t.Setenv("PYTHONPATH", t.TempDir())
	lf, err := Freeze(context.Background(), openRepo(t, dir), Service{Name: "events", Dir: "services/events", Deps: DepsPip, Python: py})
	if err != nil {
		t.Fatalf("Freeze: %v", err)
	}
	ver, _ := exec.Command(py, "-c", "import platform; print(platform.python_version())").Output()
	lines := strings.Split(strings.TrimSpace(string(lf.Content)), "\n")
	if lines[2] != "# python "+strings.TrimSpace(string(ver)) {
		t.Errorf("header line = %q", lines[2])
	}
	// pip's lockfile describes the whole environment (only pipenv itself is
	// left out by name).
	if got := strings.Join(lines[3:], "|"); got != "asgiref==3.8.1|certifi==2024.2.2|django==4.2.11|platformdirs==4.2.0|virtualenv==20.25.0|zope-interface==6.0" {
		t.Errorf("packages = %s\n%s", got, lf.Content)
	}
	_, info, err := pipFreeze(context.Background(), py)
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(info.Tooling, ","); got != "certifi,pipenv,platformdirs,virtualenv" {
		t.Errorf("tooling closure = %s", got)
	}
	if _, err := os.Stat(filepath.Join(dir, "services/events/requirements.lock")); err == nil {
		t.Error("Freeze wrote the lockfile")
	}
}

func TestUnifiedDiff(t *testing.T) {
	tests := []struct {
		name     string
		old, new string
		want     string
	}{
		{"equal", "a\nb\n", "a\nb\n", ""},
		{"new file", "", "a\n", "--- a/f\n+++ b/f\n@@ -0,0 +1 @@\n+a\n"},
		{"two hunks", "1\n2\n3\n4\n5\n6\n7\n8\n9\n10\n", "1\nX\n3\n4\n5\n6\n7\n8\nY\n10\n",
			"--- a/f\n+++ b/f\n@@ -1,4 +1,4 @@\n 1\n-2\n+X\n 3\n 4\n@@ -7,4 +7,4 @@\n 7\n 8\n-9\n+Y\n 10\n"},
		{"merged hunk", "1\n2\n3\n4\n5\n", "X\n2\n3\nY\n5\n",
			"--- a/f\n+++ b/f\n@@ -1,5 +1,5 @@\n-1\n+X\n 2\n 3\n-4\n+Y\n 5\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var old []byte
			if tt.old != "" {
				old = []byte(tt.old)
			}
			got := unifiedDiff("f", old, []byte(tt.new))
			if tt.name == "new file" {
				tt.want = strings.Replace(tt.want, "--- a/f", "--- /dev/null", 1)
			}
			if got != tt.want {
				t.Errorf("got\n%s\nwant\n%s", got, tt.want)
			}
			// Cross-check with diff(1) when it is there.
			if tt.want == "" || tt.old == "" {
				return
			}
			if _, err := exec.LookPath("diff"); err != nil {
				return
			}
			d := t.TempDir()
			writeFile(t, filepath.Join(d, "a"), tt.old)
			writeFile(t, filepath.Join(d, "b"), tt.new)
			cmd := exec.Command("diff", "-U2", "a", "b")
			cmd.Dir = d
			out, _ := cmd.Output()
			_, sysHunks, _ := strings.Cut(string(out), "@@")
			_, ourHunks, _ := strings.Cut(got, "@@")
			if sysHunks != ourHunks {
				t.Errorf("diff -U2 says\n@@%s\nwe say\n@@%s", sysHunks, ourHunks)
			}
		})
	}
}
