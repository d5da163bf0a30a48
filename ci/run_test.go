package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"testing"

	"github.com/convoy-ci/convoy/pipeline"
)

// TestJobsBound proves from the real start and end times of real processes that no more than
// --jobs stages overlap, and that the bound is reached (stages do run in parallel).
func TestJobsBound(t *testing.T) {
	for _, jobs := range []int{1, 2, 3} {
		t.Run(fmt.Sprint("jobs=", jobs), func(t *testing.T) {
			root, times := sharedRepo(t)
			record := py(fmt.Sprintf(`import os, time
d = %q
s = time.time_ns(); time.sleep(0.3); e = time.time_ns()
open(os.path.join(d, os.environ["CONVOY_SERVICE"] + "-" + os.environ["CONVOY_STAGE"]), "w").write(f"{s} {e}")`, times))
			svcs := map[string]map[string]string{}
			for i := 0; i < 5; i++ {
				svcs[fmt.Sprintf("s%d", i)] = map[string]string{"unit": record, "lint": record, "populate": record}
			}
			writeFiles(t, root, pyServices("", svcs))
			res := convoy(t, root, nil, "gate", "--jobs", fmt.Sprint(jobs), "--output", "json")
			if res.code != 0 {
				t.Fatalf("exit %d\n%s\n%s", res.code, res.stdout, res.stderr)
			}
			type edge struct {
				at    int64
				delta int
			}
			var edges []edge
			files, _ := os.ReadDir(times)
			if len(files) != 15 {
				t.Fatalf("%d stages recorded their times, want 15", len(files))
			}
			for _, f := range files {
				data, _ := os.ReadFile(filepath.Join(times, f.Name()))
				var s, e int64
				fmt.Sscan(string(data), &s, &e)
				edges = append(edges, edge{s, +1}, edge{e, -1})
			}
			sort.Slice(edges, func(i, j int) bool {
				if edges[i].at != edges[j].at {
					return edges[i].at < edges[j].at
				}
				return edges[i].delta < edges[j].delta // an end before a start at the same instant
			})
			running, most := 0, 0
			for _, e := range edges {
				running += e.delta
				most = max(most, running)
			}
			if most > jobs {
				t.Errorf("%d stages overlapped with --jobs %d", most, jobs)
			}
			if most < jobs {
				t.Errorf("at most %d stages overlapped with --jobs %d: stages did not run in parallel", most, jobs)
			}
		})
	}
}

// TestGating: a failing unit stage skips that service's populate; other services pass; the
// report names service, stage, exit code, log tail and log path.
func TestGating(t *testing.T) {
	root := writeRepo(t, pyServices("", map[string]map[string]string{
		"good": {},
		"bad":  {"unit": py("import sys\nfor i in range(30): print('line', i)\nsys.exit(3)")},
		"also": {"lint": py("print('fine')")},
	}))
	res := convoy(t, root, nil, "gate", "--output", "json")
	if res.code != 1 {
		t.Fatalf("exit code %d, want 1\n%s", res.code, res.stderr)
	}
	bad := res.service(t, "bad")
	if bad.Status != pipeline.StatusFailed || stageStatus(bad, "unit") != pipeline.StatusFailed ||
		stageStatus(bad, "populate") != pipeline.StatusSkipped || stageStatus(bad, "lint") != pipeline.StatusPassed {
		t.Errorf("bad = %+v", bad)
	}
	for _, name := range []string{"good", "also"} {
		if s := res.service(t, name); s.Status != pipeline.StatusPassed || stageStatus(s, "populate") != pipeline.StatusPassed {
			t.Errorf("%s = %+v, want passed", name, s)
		}
	}
	var fail *pipeline.Event
	for i, e := range res.events {
		if e.Type == pipeline.EventStageFinish && e.Service == "bad" && e.Stage == "unit" {
			fail = &res.events[i]
		}
	}
	if fail == nil || fail.ExitCode == nil || *fail.ExitCode != 3 || len(fail.Tail) != pipeline.TailLines ||
		!strings.Contains(strings.Join(fail.Tail, "\n"), "line 29") || fail.Log != filepath.Join(latestLogs(t, root), "bad", "unit.log") {
		t.Fatalf("failure event = %+v", fail)
	}
	// So does the JUnit report CI systems read.
	junitPath := filepath.Join(t.TempDir(), "junit.xml")
	convoy(t, root, nil, "gate", "--output", "json", "--junit", junitPath)
	if data, err := os.ReadFile(junitPath); err != nil || !strings.Contains(string(data), `<testsuite name="bad"`) ||
		!strings.Contains(string(data), `message="exit code 3`) {
		t.Errorf("JUnit report (%v):\n%s", err, data)
	}
	// The text report says the same to people.
	text := convoy(t, root, []string{"CI=true"}, "gate", "--only", "bad")
	for _, want := range []string{"--- bad: stage unit failed, exit code 3", "| line 29", "full log: " + filepath.Join(latestLogs(t, root), "bad", "unit.log"), "populate    skipped"} {
		if !strings.Contains(text.stdout, want) {
			t.Errorf("text output lacks %q:\n%s", want, text.stdout)
		}
	}
}

// TestFailFast: the first failure cancels a long stage of another service at once.
func TestFailFast(t *testing.T) {
	root, shared := sharedRepo(t)
	fifo := filepath.Join(shared, "pids")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	writeFiles(t, root, pyServices("", map[string]map[string]string{
		"slow": {"unit": py(fmt.Sprintf("import os, time\nopen(%q, 'w').write(f'{os.getpid()}\\n')\ntime.sleep(120)", fifo))},
		"bad":  {"unit": py(fmt.Sprintf("open(%q).read()\nraise SystemExit(1)", fifo+".go"))},
	}))
	if err := syscall.Mkfifo(fifo+".go", 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(convoyBin, "gate", "-C", root, "--cache-dir", sharedCache, "--fail-fast", "--output", "json")
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	pid := readPIDs(t, fifo, 1)[0] // the slow stage is running
	go1, err := os.OpenFile(fifo+".go", os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	go1.Close() // now let bad fail
	err = cmd.Wait()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 1 {
		t.Fatalf("convoy exit = %v, want 1\n%s", err, out.String())
	}
	res := runResult{stdout: out.String()}
	res.decode(t)
	if s := res.service(t, "slow"); stageStatus(s, "unit") != pipeline.StatusCancelled || stageStatus(s, "populate") != pipeline.StatusSkipped {
		t.Errorf("slow = %+v, want unit cancelled", s)
	}
	if !gone(pid) {
		t.Errorf("slow's unit process %d still runs", pid)
	}
}

// TestInterrupt: SIGINT (and SIGTERM) during a long stage kills its whole process group, waits,
// reports the stage interrupted and exits 130 (143).
func TestInterrupt(t *testing.T) {
	for _, tc := range []struct {
		sig  syscall.Signal
		code int
	}{{syscall.SIGINT, 130}, {syscall.SIGTERM, 143}} {
		t.Run(tc.sig.String(), func(t *testing.T) {
			root, shared := sharedRepo(t)
			fifo := filepath.Join(shared, "pids")
			if err := syscall.Mkfifo(fifo, 0o600); err != nil {
				t.Fatal(err)
			}
			// The stage starts a child that ignores SIGTERM: only SIGKILL of the group ends it.
			prog := fmt.Sprintf(`import os, subprocess, sys, time
child = subprocess.Popen([sys.executable, "-c", "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); time.sleep(300)"])
with open(%q, "w") as f: f.write(f"{os.getpid()}\n{child.pid}\n")
time.sleep(300)`, fifo)
			writeFiles(t, root, pyServices("", map[string]map[string]string{"long": {"unit": py(prog)}, "other": {}}))
			cmd := exec.Command(convoyBin, "gate", "-C", root, "--cache-dir", sharedCache, "--output", "json")
			var out bytes.Buffer
			cmd.Stdout, cmd.Stderr = &out, &out
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			pids := readPIDs(t, fifo, 2)
			if err := cmd.Process.Signal(tc.sig); err != nil {
				t.Fatal(err)
			}
			err := cmd.Wait()
			if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != tc.code {
				t.Fatalf("convoy exit = %v, want %d\n%s", err, tc.code, out.String())
			}
			for _, pid := range pids {
				if !gone(pid) {
					t.Errorf("process %d of the interrupted stage still runs", pid)
				}
			}
			res := runResult{stdout: out.String()}
			res.decode(t)
			if s := res.service(t, "long"); stageStatus(s, "unit") != pipeline.StatusInterrupted || s.Status != pipeline.StatusInterrupted {
				t.Errorf("long = %+v, want unit interrupted", s)
			}
			if res.sum.Status != pipeline.StatusInterrupted {
				t.Errorf("summary status %s, want interrupted", res.sum.Status)
			}
		})
	}
}

// TestTimeout: a stage past its timeout is killed with its children and reported as timeout.
func TestTimeout(t *testing.T) {
	root, shared := sharedRepo(t)
	fifo := filepath.Join(shared, "pids")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	prog := fmt.Sprintf(`import os, subprocess, sys, time
child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(300)"])
with open(%q, "w") as f: f.write(f"{os.getpid()}\n{child.pid}\n")
time.sleep(300)`, fifo)
	writeFiles(t, root, pyServices("", map[string]map[string]string{
		"hang": {"unit": py(prog), "timeout": "3s"},
	}))
	done := make(chan runResult)
	go func() { done <- convoy(t, root, nil, "gate", "--output", "json") }()
	pids := readPIDs(t, fifo, 2)
	res := <-done
	if res.code != 1 {
		t.Fatalf("exit %d, want 1\n%s", res.code, res.stdout)
	}
	s := res.service(t, "hang")
	if stageStatus(s, "unit") != pipeline.StatusTimeout || stageStatus(s, "populate") != pipeline.StatusSkipped || s.Status != pipeline.StatusFailed {
		t.Errorf("hang = %+v", s)
	}
	for _, pid := range pids {
		if !gone(pid) {
			t.Errorf("process %d of the timed-out stage still runs", pid)
		}
	}
}

// TestEnvIsolation: a stage sees the declared environment and nothing else from the host.
func TestEnvIsolation(t *testing.T) {
	root, shared := sharedRepo(t)
	out := filepath.Join(shared, "env.json")
	writeFiles(t, root, pyServices("  env: {SHARED: from-defaults}\n", map[string]map[string]string{
		"a": {"unit": py(fmt.Sprintf("import json, os\njson.dump(dict(os.environ), open(%q, 'w'))", out)),
			"env": "{OWN: mine}"},
	}))
	res := convoy(t, root, []string{"CONVOY_TEST_HOST_SECRET=leaked"}, "gate", "--output", "json")
	if res.code != 0 {
		t.Fatalf("exit %d\n%s", res.code, res.stdout)
	}
	data, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	var env map[string]string
	if err := json.Unmarshal(data, &env); err != nil {
		t.Fatal(err)
	}
	if _, leaked := env["CONVOY_TEST_HOST_SECRET"]; leaked {
		t.Error("an undeclared host variable reached the stage")
	}
	if env["SHARED"] != "from-defaults" || env["OWN"] != "mine" {
		t.Errorf("declared env missing: SHARED=%q OWN=%q", env["SHARED"], env["OWN"])
	}
	if !strings.HasPrefix(env["PATH"], env["VIRTUAL_ENV"]+"/bin:") || !strings.HasPrefix(env["PYTHONPATH"], filepath.Join(root, "svc", "a")) {
		t.Errorf("PATH=%q VIRTUAL_ENV=%q PYTHONPATH=%q", env["PATH"], env["VIRTUAL_ENV"], env["PYTHONPATH"])
	}
	allowed := map[string]bool{"PATH": true, "HOME": true, "VIRTUAL_ENV": true, "PYTHONPATH": true, "PYTHONPYCACHEPREFIX": true,
		"PYTHONUNBUFFERED": true, "LANG": true, "CONVOY_SERVICE": true, "CONVOY_STAGE": true, "DATABASE_URL": true,
		"PYTEST_ADDOPTS": true, "SHARED": true, "OWN": true, "LC_CTYPE": true}
	for k := range env {
		if !allowed[k] {
			t.Errorf("unexpected variable %s in the stage's environment", k)
		}
	}
}

// TestNetworkIsolation: unit and populate run with loopback only — a server on the host's
// loopback is unreachable from them, while their own loopback works. Lint keeps the network.
func TestNetworkIsolation(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	port := ln.Addr().(*net.TCPAddr).Port
	probe := py(fmt.Sprintf(`import os, socket
own = socket.socket(); own.bind(("127.0.0.1", 0)); own.listen(); own.close()
try:
    socket.create_connection(("127.0.0.1", %d), timeout=2).close(); print("REACHED HOST")
except OSError as e:
    print("host unreachable:", e)`, port))
	root := writeRepo(t, pyServices("", map[string]map[string]string{
		"a": {"unit": probe, "populate": probe, "lint": probe},
	}))
	res := convoy(t, root, nil, "gate", "--output", "json")
	if res.code != 0 {
		t.Fatalf("exit %d\n%s", res.code, res.stdout)
	}
	for _, e := range res.events {
		if e.Type == pipeline.EventNotice && strings.Contains(e.Message, "network isolation is not available") {
			t.Skipf("this machine gives no network namespaces: %s", e.Message)
		}
	}
	for stage, wantReach := range map[string]bool{"unit": false, "populate": false, "lint": true} {
		log, err := os.ReadFile(filepath.Join(root, ".convoy", "logs", "a", stage+".log"))
		if err != nil {
			t.Fatal(err)
		}
		if reached := strings.Contains(string(log), "\nREACHED HOST\n"); reached != wantReach {
			t.Errorf("%s reached the host's loopback = %v, want %v:\n%s", stage, reached, wantReach, log)
		}
	}
}

// TestUsageAndConfigErrors: bad flags and bad manifests exit 2 before anything runs.
func TestUsageAndConfigErrors(t *testing.T) {
	root := writeRepo(t, map[string]string{
		"services.yaml":                             "version: 1\nservices:\n  - name: a\n    path: svc/a\n    depends_on: [ghost]\n",
		"svc/a/requirements.txt":                    "",
		"good/services.yaml":                        "version: 1\nservices:\n  - name: a\n    path: svc/a\n",
		"good/svc/a/requirements.txt":               "",
		"broken-integration/services.yaml":          "version: 1\nservices:\n  - name: a\n    path: svc/a\nintegration:\n  requirements: svc/a/requirements.txt\n",
		"broken-integration/svc/a/requirements.txt": "",
	})
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"bad manifest", []string{"run", "-C", root}, `services.yaml:5:18: depends_on names unknown service "ghost"`},
		{"unknown command", []string{"fly"}, `unknown command "fly"`},
		{"bad flag", []string{"run", "--jobs", "0", "-C", root}, "--jobs 0: expected at least 1"},
		{"unknown only", []string{"gate", "--only", "nope", "-C", filepath.Join(root, "good")}, `--only names unknown service(s) nope`},
		{"bad output", []string{"plan", "--output", "xml"}, `--output "xml": expected text or json`},
		{"run without integration", []string{"run", "-C", filepath.Join(root, "good")}, "services.yaml:1:1: no integration: block"},
		{"integration without integration", []string{"integration", "-C", filepath.Join(root, "good")}, "services.yaml:1:1: no integration: block"},
		{"release without integration", []string{"release", "--tag", "v1.0.0", "--registry", "127.0.0.1:1/x", "-C", filepath.Join(root, "good")},
			"services.yaml:1:1: no integration: block"},
		{"plan with a broken integration", []string{"plan", "-C", filepath.Join(root, "broken-integration")}, "services.yaml:5:1: integration has no command"},
		{"run with a broken integration", []string{"run", "-C", filepath.Join(root, "broken-integration")}, "services.yaml:5:1: integration has no command"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cmd := exec.Command(convoyBin, tc.args...)
			var errb bytes.Buffer
			cmd.Stderr = &errb
			err := cmd.Run()
			if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 2 {
				t.Fatalf("exit = %v, want 2; stderr:\n%s", err, errb.String())
			}
			if !strings.Contains(errb.String(), tc.want) {
				t.Errorf("stderr lacks %q:\n%s", tc.want, errb.String())
			}
		})
	}
	for _, dir := range []string{root, filepath.Join(root, "good"), filepath.Join(root, "broken-integration")} {
		if _, err := os.Stat(filepath.Join(dir, ".convoy")); err == nil {
			t.Errorf("a rejected run left a .convoy directory behind in %s", dir)
		}
	}
}

// TestPlanWithoutIntegration: a manifest without integration: plans (gate and build need
// none), and the plan says run and integration refuse it, with the refusal's position.
func TestPlanWithoutIntegration(t *testing.T) {
	root := writeRepo(t, pyServices("", map[string]map[string]string{"a": {}}))
	res := convoy(t, root, nil, "plan")
	if res.code != 0 || !strings.Contains(res.stdout, "integration: none; convoy run and convoy integration refuse this manifest:\n  services.yaml:1:1: no integration: block") {
		t.Fatalf("plan: exit %d, stdout:\n%s\nstderr:\n%s", res.code, res.stdout, res.stderr)
	}
	res = convoy(t, root, nil, "plan", "--output", "json")
	var plan pipeline.Plan
	if err := json.Unmarshal([]byte(res.stdout), &plan); err != nil {
		t.Fatalf("plan JSON: %v\n%s", err, res.stdout)
	}
	if plan.Integration != nil || !strings.HasPrefix(plan.NoIntegration, "services.yaml:1:1: no integration: block") {
		t.Errorf("plan JSON integration = %+v, no_integration = %q", plan.Integration, plan.NoIntegration)
	}
}

// TestPlan: convoy plan shows services, stages, edges and jobs; --output json is machine-readable.
func TestPlan(t *testing.T) {
	root := writeRepo(t, pyServices("", map[string]map[string]string{"a": {}, "b": {}}))
	res := convoy(t, root, nil, "plan", "--output", "json", "--jobs", "3", "--only", "b")
	if res.code != 0 {
		t.Fatalf("exit %d: %s", res.code, res.stderr)
	}
	var plan pipeline.Plan
	if err := json.Unmarshal([]byte(res.stdout), &plan); err != nil {
		t.Fatalf("plan JSON: %v\n%s", err, res.stdout)
	}
	if plan.Jobs != 3 || len(plan.Services) != 1 || plan.Services[0].Name != "b" {
		t.Fatalf("plan = %+v", plan)
	}
	var got []string
	for _, e := range plan.Edges {
		got = append(got, e.From+">"+e.To)
	}
	want := "b/deps>b/unit b/deps>b/lint b/unit>b/populate b/lint>b/populate b/deps>b/layer b/populate>b/image"
	if strings.Join(got, " ") != want {
		t.Errorf("edges = %s, want %s", strings.Join(got, " "), want)
	}
	text := convoy(t, root, nil, "plan")
	sc := bufio.NewScanner(strings.NewReader(text.stdout))
	lines := 0
	for sc.Scan() {
		lines++
	}
	if !strings.Contains(text.stdout, "populate") || lines < 10 {
		t.Errorf("text plan:\n%s", text.stdout)
	}
}

// TestDaggerUnreachable: with no Dagger engine reachable, --engine dagger fails at once with exit
// code 2 and a message naming every way to provide one; nothing runs.
func TestDaggerUnreachable(t *testing.T) {
	root := writeRepo(t, pyServices("", map[string]map[string]string{"a": {}}))
	cmd := exec.Command(convoyBin, "gate", "--engine", "dagger", "-C", root)
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "DAGGER_") && !strings.HasPrefix(kv, "_EXPERIMENTAL_DAGGER") && !strings.HasPrefix(kv, "DOCKER_HOST=") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	cmd.Env = append(cmd.Env, "DOCKER_HOST=unix://"+filepath.Join(t.TempDir(), "no-docker.sock"))
	var errb bytes.Buffer
	cmd.Stderr = &errb
	err := cmd.Run()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 2 {
		t.Fatalf("exit = %v, want 2\n%s", err, errb.String())
	}
	for _, want := range []string{"no Dagger engine reachable", "_EXPERIMENTAL_DAGGER_RUNNER_HOST", "DAGGER_SESSION_PORT", "DOCKER_HOST"} {
		if !strings.Contains(errb.String(), want) {
			t.Errorf("stderr lacks %q:\n%s", want, errb.String())
		}
	}
	if _, err := os.Stat(filepath.Join(root, ".convoy", "logs")); err == nil {
		t.Error("stages ran although the engine was unreachable")
	}
}

// TestVirtualenvReused: a second run on an unchanged spec installs nothing; a changed spec gets
// a new virtualenv.
func TestVirtualenvReused(t *testing.T) {
	files := pyServices("", map[string]map[string]string{"a": {}})
	root := t.TempDir()
	// A spec no other test, and no earlier run sharing the cache, has.
	files["svc/a/requirements.txt"] = "# " + root + "\n"
	writeFiles(t, root, files)
	deps := func() pipeline.Event {
		t.Helper()
		res := convoy(t, root, nil, "gate", "--output", "json")
		if res.code != 0 {
			t.Fatalf("exit %d\n%s", res.code, res.stdout)
		}
		for _, e := range res.events {
			if e.Type == pipeline.EventStageFinish && e.Stage == "deps" {
				return e
			}
		}
		t.Fatal("no deps stage")
		return pipeline.Event{}
	}
	if first := deps(); first.Message == "virtualenv reused" {
		t.Fatalf("the first run reused a virtualenv: %+v", first)
	}
	if second := deps(); second.Message != "virtualenv reused" {
		t.Errorf("the second run did not reuse the virtualenv: %+v", second)
	}
	if err := os.WriteFile(filepath.Join(root, "svc", "a", "requirements.txt"), []byte("# changed "+root+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if third := deps(); third.Message == "virtualenv reused" {
		t.Errorf("a changed spec reused the old virtualenv: %+v", third)
	}
}

// TestStageHistory: a corrupt .convoy/history.json is a notice, not a failure; the run then
// writes a valid history of its passed stages, which the next plan expects.
func TestStageHistory(t *testing.T) {
	root := writeRepo(t, pyServices("", map[string]map[string]string{"h": {}}))
	hist := filepath.Join(root, ".convoy", pipeline.HistoryFile)
	if err := os.MkdirAll(filepath.Dir(hist), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(hist, []byte("{not json"), 0o644); err != nil {
		t.Fatal(err)
	}
	res := convoy(t, root, nil, "gate", "--output", "json")
	if res.code != 0 {
		t.Fatalf("exit %d with a corrupt history\n%s\n%s", res.code, res.stdout, res.stderr)
	}
	noticed := false
	for _, e := range res.events {
		noticed = noticed || (e.Type == pipeline.EventNotice && strings.Contains(e.Message, "corrupt (ignored)"))
	}
	if !noticed {
		t.Errorf("no notice about the corrupt history in\n%s", res.stdout)
	}
	h, err := pipeline.LoadHistory(hist)
	if err != nil {
		t.Fatalf("history after the run: %v", err)
	}
	if got := h.Expected("h", "unit", -1); got < 0 {
		t.Errorf("h/unit was not recorded")
	}
	out := convoy(t, root, nil, "plan", "--output", "json")
	var plan pipeline.Plan
	if err := json.Unmarshal([]byte(out.stdout), &plan); err != nil {
		t.Fatalf("plan JSON: %v\n%s", err, out.stdout)
	}
	for _, st := range plan.Services[0].Stages {
		// A recorded `python -c pass` takes far less than the unit default of 20 s.
		if st.Name == "unit" && (st.Expected <= 0 || st.Expected >= 20) {
			t.Errorf("plan expects h/unit to take %v s, want the recorded duration", st.Expected)
		}
	}
}
