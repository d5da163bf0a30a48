package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/convoy-ci/convoy/pipeline"
)

// imageRepo is a git repository of one service that integration can start from its image with
// nothing but the base image's Python: manage.py accepts migrate and populate, the standard
// library serves /healthz, and the suite runs the Python program suite. extra is added to the
// service's entry in services.yaml (indented lines).
func imageRepo(t *testing.T, suite, extra string) string {
	t.Helper()
	q, _ := json.Marshal(suite)
	root := writeRepo(t, map[string]string{
		"services.yaml": `version: 1
defaults:
  timeout: 2m
  base: "oci-layout:` + baseDir() + `:python"
services:
  - name: web
    path: svc/web
    unit: [python, -c, "pass"]
    lint: [python, -c, "pass"]
    serve: [python, -m, http.server, --bind, "${HOST}", "${PORT}"]
    port: 8000
    health: /healthz
` + extra + `integration:
  requirements: tests/requirements.txt
  command: [python, -c, ` + string(q) + `]
`,
		"svc/web/requirements.txt": "",
		"svc/web/manage.py":        "import sys\nprint('manage.py', *sys.argv[1:])\n",
		"svc/web/healthz":          "ok\n",
		"tests/requirements.txt":   "",
	})
	gitRepo(t, root)
	return root
}

// TestIntegrationInterruptedLeavesNoContainer: SIGINT and SIGTERM while the suite runs against a
// service started from its image stop everything: convoy exits 130 (143), no process runs in the
// service's root filesystem any more, and nothing is left of the runtime's state, bundles or
// root filesystems.
func TestIntegrationInterruptedLeavesNoContainer(t *testing.T) {
	if testing.Short() {
		t.Skip("builds an image and starts it in runc and PostgreSQL; skipped with -short")
	}
	needBase(t)
	for _, tc := range []struct {
		sig  syscall.Signal
		code int
	}{{syscall.SIGINT, 130}, {syscall.SIGTERM, 143}} {
		t.Run(tc.sig.String(), func(t *testing.T) {
			root := imageRepo(t, "import time; time.sleep(300)", "")
			cmd := exec.Command(convoyBin, "integration", "-C", root, "--cache-dir", sharedCache, "--output", "json", "--runtime", "runc")
			cmd.Env = append(os.Environ(), "CONVOY_RUNTIME=")
			stdout, err := cmd.StdoutPipe()
			if err != nil {
				t.Fatal(err)
			}
			var stderr bytes.Buffer
			cmd.Stderr = &stderr
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			var out bytes.Buffer
			if !waitForEvent(io.TeeReader(stdout, &out), func(e pipeline.Event) bool {
				return e.Type == pipeline.EventStageStart && e.Stage == "suite"
			}) {
				_ = cmd.Wait()
				t.Fatalf("the suite never started\n%s\n%s", out.String(), stderr.String())
			}
			inRoot := processesIn(t, root)
			if len(inRoot) == 0 {
				t.Fatalf("no process runs in the service's root filesystem under %s", root)
			}
			if err := cmd.Process.Signal(tc.sig); err != nil {
				t.Fatal(err)
			}
			_, _ = io.Copy(&out, stdout)
			err = cmd.Wait()
			if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != tc.code {
				t.Fatalf("convoy exit = %v, want %d\n%s\n%s", err, tc.code, out.String(), stderr.String())
			}
			for _, pid := range inRoot {
				if !gone(pid) {
					t.Errorf("process %d of the service's container still runs", pid)
				}
			}
			if left := processesIn(t, root); len(left) > 0 {
				t.Errorf("processes %v still run in the repository's directories", left)
			}
			assertNoFiles(t, filepath.Join(root, ".convoy", "run"))
		})
	}
}

// TestIntegrationWithoutRuntime: with no container runtime to start the images in, integration
// refuses before any work, names what to install or set, and exits 2; --integration-from venv
// runs from the host virtualenvs instead and says that the images were not proven.
func TestIntegrationWithoutRuntime(t *testing.T) {
	root := imageRepo(t, "pass", "")
	env := []string{"DOCKER_HOST=unix://" + filepath.Join(t.TempDir(), "no-docker.sock")}
	res := convoy(t, root, env, "integration", "--runtime", "docker")
	if res.code != 2 || !strings.Contains(res.stderr, "--integration-from venv") || !strings.Contains(res.stderr, "DOCKER_HOST") {
		t.Fatalf("exit %d, want 2 naming DOCKER_HOST and --integration-from venv\n%s", res.code, res.stderr)
	}
	if _, err := os.Stat(filepath.Join(root, ".convoy", "logs")); !os.IsNotExist(err) {
		t.Errorf("a refused run left logs behind (%v)", err)
	}
	if testing.Short() {
		return
	}
	res = convoy(t, root, env, "integration", "--runtime", "docker", "--integration-from", "venv")
	if res.code != 0 || !strings.Contains(res.stdout, "the images were not proven") {
		t.Fatalf("exit %d, want 0 saying the images were not proven\n%s\n%s", res.code, res.stdout, res.stderr)
	}
}

// TestPostgresImageFlag: --postgres-image is checked before any work — the local engine takes
// none, and a layout that is not there is refused — and exits 2 without logs.
func TestPostgresImageFlag(t *testing.T) {
	root := imageRepo(t, "pass", "")
	env := []string{"_EXPERIMENTAL_DAGGER_RUNNER_HOST=unix://" + filepath.Join(t.TempDir(), "no-engine.sock")}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--postgres-image", "postgres:16"}, "--postgres-image applies to --engine dagger"},
		{[]string{"--engine", "dagger", "--postgres-image", "oci-layout:" + filepath.Join(t.TempDir(), "none")}, "--postgres-image: image \"oci-layout:"},
		{[]string{"--engine", "dagger", "--postgres-image", "Postgres!"}, "--postgres-image: parsing base image"},
		// A good one passes the checks: what stops the run is the missing engine.
		{[]string{"--engine", "dagger", "--postgres-image", "postgres:16"}, "no Dagger engine reachable"},
	} {
		res := convoy(t, root, env, append([]string{"integration"}, tc.args...)...)
		if res.code != 2 || !strings.Contains(res.stderr, tc.want) {
			t.Errorf("%q: exit %d, want 2 saying %q\n%s", tc.args, res.code, tc.want, res.stderr)
		}
		if _, err := os.Stat(filepath.Join(root, ".convoy", "logs")); !os.IsNotExist(err) {
			t.Errorf("%q: a refused run left logs behind (%v)", tc.args, err)
		}
	}
}

// waitForEvent reads NDJSON events from r until one satisfies ok; false when r ends first.
func waitForEvent(r io.Reader, ok func(pipeline.Event) bool) bool {
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		var e pipeline.Event
		if json.Unmarshal(sc.Bytes(), &e) == nil && ok(e) {
			return true
		}
	}
	return false
}

// processesIn returns the live processes whose root directory or working directory is under dir:
// a container's processes, whose root is its unpacked root filesystem.
func processesIn(t *testing.T, dir string) []int {
	t.Helper()
	entries, err := os.ReadDir("/proc")
	if err != nil {
		t.Fatal(err)
	}
	var pids []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || gone(pid) {
			continue
		}
		for _, link := range []string{"root", "cwd"} {
			target, err := os.Readlink(filepath.Join("/proc", e.Name(), link))
			if err == nil && strings.HasPrefix(target, dir+"/") {
				pids = append(pids, pid)
				break
			}
		}
	}
	return pids
}

// assertNoFiles fails for every file (not directory) under dir: container state, bundles and
// root filesystems are removed when integration ends.
func assertNoFiles(t *testing.T, dir string) {
	t.Helper()
	_ = filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			t.Errorf("left behind: %s", path)
			return filepath.SkipDir
		}
		return nil
	})
}

// TestIntegrationStepsFromManifest: a service that is not Django (no manage.py at all) migrates
// with its own command, has no populator and runs a pre-start command, all inside its image, in
// that order, before serve.
func TestIntegrationStepsFromManifest(t *testing.T) {
	if testing.Short() {
		t.Skip("builds an image and starts it in runc and PostgreSQL; skipped with -short")
	}
	needBase(t)
	root := imageRepo(t, "pass", `    migrate: [python, -c, "print('alembic-like upgrade head')"]
    populate: []
    prestart: [python, -c, "print('prestart warmed up')"]
`)
	if err := os.Remove(filepath.Join(root, "svc", "web", "manage.py")); err != nil {
		t.Fatal(err)
	}
	gitCommitAll(t, root)
	res := convoy(t, root, []string{"CONVOY_RUNTIME="}, "run", "--output", "json", "--runtime", "runc")
	if res.code != 0 {
		t.Fatalf("exit %d\n%s\n%s", res.code, res.stdout, res.stderr)
	}
	if s := res.service(t, "web"); stageStatus(s, "integration") != pipeline.StatusPassed || stageStatus(s, "populate") != pipeline.StatusPassed {
		t.Errorf("web = %+v, want populate (running nothing) and integration passed", s)
	}
	log, err := os.ReadFile(filepath.Join(root, ".convoy", "logs", "integration", "web.log"))
	if err != nil {
		t.Fatal(err)
	}
	text := string(log)
	order := []string{"alembic-like upgrade head", "prestart warmed up", "=== convoy: serve:"}
	last := -1
	for _, want := range order {
		i := strings.Index(text, want)
		if i < last {
			t.Errorf("%q missing or out of order in the service's log:\n%s", want, text)
		}
		last = i
	}
	if strings.Contains(text, "populate") {
		t.Errorf("a service with populate: [] ran a populator:\n%s", text)
	}
}

// gitCommitAll commits every change of the repository at dir.
func gitCommitAll(t *testing.T, dir string) {
	t.Helper()
	for _, args := range [][]string{{"add", "-A"}, {"commit", "-q", "-m", "change"}} {
		cmd := exec.Command("git", args...)
		cmd.Dir, cmd.Env = dir, gitEnv()
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("git %v: %v %s", args, err, out)
		}
	}
}
