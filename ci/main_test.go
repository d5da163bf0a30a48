package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"syscall"
	"testing"

	"github.com/convoy-ci/convoy/engine/local"
	"github.com/convoy-ci/convoy/pipeline"
)

// convoyBin is the convoy binary built once for the end-to-end tests.
var convoyBin string

// sharedCache keeps virtualenvs between tests: they are keyed by spec, so identical specs are
// installed once.
var sharedCache string

func TestMain(m *testing.M) {
	local.RunNetnsHelper()
	dir, err := os.MkdirTemp("", "convoy-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	convoyBin = filepath.Join(dir, "convoy")
	sharedCache = os.Getenv("CONVOY_TEST_CACHE")
	if sharedCache == "" {
		sharedCache = filepath.Join(dir, "cache")
	}
	build := exec.Command("go", "build", "-o", convoyBin, ".")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "building convoy:", err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// writeRepo creates a repository from files (path → content) and returns its root.
func writeRepo(t *testing.T, files map[string]string) string {
	t.Helper()
	root := t.TempDir()
	writeFiles(t, root, files)
	return root
}

// writeFiles writes files (path → content) under root.
func writeFiles(t *testing.T, root string, files map[string]string) {
	t.Helper()
	for p, content := range files {
		full := filepath.Join(root, filepath.FromSlash(p))
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// pyServices builds a manifest of services whose stages are Python one-liners; each service has
// an empty requirements.txt so they all share one virtualenv.
func pyServices(extraDefaults string, services map[string]map[string]string) map[string]string {
	files := map[string]string{}
	var b strings.Builder
	fmt.Fprintf(&b, "version: 1\ndefaults:\n  timeout: 2m\n%sservices:\n", extraDefaults)
	names := make([]string, 0, len(services))
	for n := range services {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, name := range names {
		fmt.Fprintf(&b, "  - name: %s\n    path: svc/%s\n", name, name)
		stages := services[name]
		for _, st := range []string{"unit", "lint", "populate", "timeout", "env"} {
			if v, ok := stages[st]; ok {
				fmt.Fprintf(&b, "    %s: %s\n", st, v)
			}
		}
		for _, st := range []string{"unit", "lint", "populate"} {
			if _, ok := stages[st]; !ok {
				fmt.Fprintf(&b, "    %s: [python, -c, \"pass\"]\n", st)
			}
		}
		files["svc/"+name+"/requirements.txt"] = ""
	}
	files["services.yaml"] = b.String()
	return files
}

// py quotes a Python program as a YAML argv running it.
func py(prog string) string {
	q, _ := json.Marshal(prog)
	return fmt.Sprintf("[python, -c, %s]", q)
}

type runResult struct {
	code   int
	stdout string
	stderr string
	events []pipeline.Event
	sum    *pipeline.Summary
}

// convoy runs the binary on root and returns its exit code and output; with --output json the
// events and the summary are decoded.
func convoy(t *testing.T, root string, env []string, args ...string) runResult {
	t.Helper()
	return convoyIn(t, root, sharedCache, env, args...)
}

// convoyIn is convoy with cache as the cache directory.
func convoyIn(t *testing.T, root, cache string, env []string, args ...string) runResult {
	t.Helper()
	cmd := exec.Command(convoyBin, append(args, "-C", root, "--cache-dir", cache)...)
	cmd.Env = append(os.Environ(), env...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	res := runResult{stdout: out.String(), stderr: errb.String()}
	if ee, ok := err.(*exec.ExitError); ok {
		res.code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("running convoy: %v", err)
	}
	res.decode(t)
	return res
}

func (r *runResult) decode(t *testing.T) {
	lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
	if len(lines) == 0 || !strings.HasPrefix(lines[0], `{"type"`) {
		return
	}
	for i, l := range lines {
		if i == len(lines)-1 {
			var s pipeline.Summary
			if err := json.Unmarshal([]byte(l), &s); err != nil || s.Type != "summary" {
				t.Fatalf("last line is not the summary: %q (%v)", l, err)
			}
			r.sum = &s
			continue
		}
		var e pipeline.Event
		if err := json.Unmarshal([]byte(l), &e); err != nil {
			t.Fatalf("line %d is not an event: %q", i+1, l)
		}
		r.events = append(r.events, e)
	}
}

func (r runResult) service(t *testing.T, name string) pipeline.ServiceSummary {
	t.Helper()
	if r.sum == nil {
		t.Fatalf("no summary; stdout:\n%s\nstderr:\n%s", r.stdout, r.stderr)
	}
	for _, s := range r.sum.Services {
		if s.Name == name {
			return s
		}
	}
	t.Fatalf("service %q not in summary", name)
	return pipeline.ServiceSummary{}
}

func stageStatus(s pipeline.ServiceSummary, stage string) pipeline.Status {
	for _, st := range s.Stages {
		if st.Name == stage {
			return st.Status
		}
	}
	return ""
}

// gone reports whether pid no longer runs (absent, or a zombie awaiting its reaper).
func gone(pid int) bool {
	if err := syscall.Kill(pid, 0); err == syscall.ESRCH {
		return true
	}
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return true
	}
	fields := strings.Fields(string(stat[bytes.LastIndexByte(stat, ')')+1:]))
	return len(fields) > 0 && fields[0] == "Z"
}

// readPIDs reads "pid" lines from a FIFO until n have arrived.
func readPIDs(t *testing.T, fifo string, n int) []int {
	t.Helper()
	f, err := os.Open(fifo) // blocks until a stage opens it for writing
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var pids []int
	sc := bufio.NewScanner(f)
	for len(pids) < n && sc.Scan() {
		var pid int
		if _, err := fmt.Sscan(sc.Text(), &pid); err == nil {
			pids = append(pids, pid)
		}
	}
	if len(pids) < n {
		t.Fatalf("read %d pids from %s, want %d", len(pids), fifo, n)
	}
	return pids
}

func init() {
	if runtime.GOOS != "linux" {
		panic("convoy's end-to-end tests need Linux")
	}
}

// latestLogs is the log directory of the last run in root: where <state>/logs links to.
func latestLogs(t *testing.T, root string) string {
	t.Helper()
	link := filepath.Join(root, pipeline.StateDirName, pipeline.LatestLogs)
	target, err := os.Readlink(link)
	if err != nil {
		t.Fatalf("reading the latest-run link: %v", err)
	}
	return filepath.Join(filepath.Dir(link), target)
}

// sharedRepo returns a new repository root and a directory inside it that the test and the
// repository's stages both see: unit and populate have a /tmp of their own, but keep their
// repository.
func sharedRepo(t *testing.T) (root, shared string) {
	t.Helper()
	root = t.TempDir()
	shared = filepath.Join(root, "shared")
	if err := os.Mkdir(shared, 0o755); err != nil {
		t.Fatal(err)
	}
	return root, shared
}
