package release

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/convoy-ci/convoy/python"
)

func TestFreezePip(t *testing.T) {
	isolateGit(t)
	dir := newRepo(t, map[string]string{"services/events/requirements.txt": "Django\n"})
	venv := newFakeVenv(t, "3.11.7", "Django==4.2.10\nasgiref==3.8.1\nsqlparse==0.4.4\npip==24.0\n")
	svc := Service{Name: "events", Dir: "services/events", Tool: python.Pip, Env: venv.env("")}
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
			wantErr: "requests==2.31.0 is installed but not locked"},
		{name: "locked but not installed", freeze: strings.Replace(installed, "flake8==7.0.0\n", "", 1), lock: pipenvLockFixture,
			wantErr: "flake8 7.0.0 is locked but not installed"},
		{name: "not a lock", freeze: installed, lock: "[packages]\n", wantErr: "parsing Pipfile.lock"},
		{name: "pipenv's own requirements are tooling", freeze: installed + "virtualenv==20.25.0\ncertifi==2024.2.2\n", lock: pipenvLockFixture,
			tooling: []string{"pipenv", "virtualenv", "certifi", "setuptools"}},
		{name: "a locked package is checked even if pipenv needs it too", freeze: strings.Replace(installed, "asgiref==3.8.1", "asgiref==3.7.0", 1), lock: pipenvLockFixture,
			tooling: []string{"pipenv", "asgiref"}, wantErr: "asgiref is installed at 3.7.0 but locked at 3.8.1"},
		{name: "without pipenv installed nothing is tooling", freeze: installed + "virtualenv==20.25.0\n", lock: pipenvLockFixture,
			wantErr: "virtualenv==20.25.0 is installed but not locked"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := newRepo(t, map[string]string{"services/auth/Pipfile": "[packages]\ndjango = \"*\"\n"})
			venv := newFakeVenv(t, "3.11.7", tt.freeze)
			venv.setInfo(t, "3.11.7", tt.tooling...)
			scratch := t.TempDir() // where pipenv wrote its lock
			writeFile(t, filepath.Join(scratch, "Pipfile.lock"), tt.lock)
			svc := Service{Name: "auth", Dir: "services/auth", Tool: "pipenv", Env: venv.env(scratch)}
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
	svc := Service{Name: "auth", Dir: "services/auth", Tool: "pipenv", Env: venv.env("")}
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
		{Name: "auth", Dir: "services/auth", Tool: "pipenv", Env: auth.env("")},
		{Name: "events", Dir: "services/events", Tool: python.Pip, Env: events.env("")},
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

// TestFreezeAllSharedLockfile: services whose tool puts their lockfile in one place (a
// workspace's; here two services of one directory) get one Lockfile when their environments
// freeze alike, and FreezeAll refuses when they do not.
func TestFreezeAllSharedLockfile(t *testing.T) {
	isolateGit(t)
	dir := newRepo(t, map[string]string{"services/auth/Pipfile": "[packages]\ndjango = \"*\"\n"})
	installed := "Django==4.2.11\nasgiref==3.8.1\nflake8==7.0.0\n"
	scratch := func(lock string) string {
		d := t.TempDir()
		writeFile(t, filepath.Join(d, "Pipfile.lock"), lock)
		return d
	}
	a, b := newFakeVenv(t, "3.11.7", installed), newFakeVenv(t, "3.11.7", installed)
	services := []Service{
		{Name: "auth", Dir: "services/auth", Tool: "pipenv", Env: a.env(scratch(pipenvLockFixture))},
		{Name: "auth-worker", Dir: "services/auth", Tool: "pipenv", Env: b.env(scratch(pipenvLockFixture))},
	}
	lfs, err := FreezeAll(context.Background(), openRepo(t, dir), services)
	if err != nil {
		t.Fatal(err)
	}
	if len(lfs) != 1 || lfs[0].Path != "services/auth/Pipfile.lock" || strings.Join(lfs[0].Services, ",") != "auth,auth-worker" {
		t.Fatalf("lockfiles = %+v, want one shared by auth and auth-worker", lfs)
	}

	// The same pins, written otherwise: another lockfile, which the repository cannot hold both of.
	b.setFreeze(t, installed)
	services[1].Env = b.env(scratch(strings.Replace(pipenvLockFixture, `"pipfile-spec": 6`, `"pipfile-spec": 6 `, 1)))
	_, err = FreezeAll(context.Background(), openRepo(t, dir), services)
	if err == nil || !strings.Contains(err.Error(), `freezing service "auth-worker": it shares services/auth/Pipfile.lock with auth`) {
		t.Fatalf("FreezeAll error = %v, want the disagreement named", err)
	}
}
