package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/convoy-ci/convoy/internal/gittest"
	"github.com/convoy-ci/convoy/pipeline"
	"github.com/convoy-ci/convoy/stages"
)

// ciRepo is a git repository with one service, x, whose lint fails on a real flake8 violation
// (F401 at app/views.py:1:1) and whose unit stage fails on a real failing pytest test (the
// assertion at tests/test_views.py:5).
func ciRepo(t *testing.T) string {
	gittest.Isolate(t, "CI", "ci@example.com")
	return gittest.NewRepo(t, map[string]string{
		"services.yaml": `version: 1
defaults:
  timeout: 5m
  populate: [python, -c, pass]
services:
  - {name: x, path: services/x}
`,
		"services/x/requirements.txt":     "",
		"services/x/requirements-dev.txt": "-r requirements.txt\npytest\nflake8==7.1.1\n",
		"services/x/app/__init__.py":      "",
		"services/x/app/views.py":         "import os\n\n\ndef total():\n    return 3\n",
		"services/x/tests/__init__.py":    "",
		"services/x/tests/test_views.py":  "from app.views import total\n\n\ndef test_total():\n    assert total() == 4\n",
	})
}

// TestCIOutput: a real run with GITHUB_ACTIONS=true annotates flake8's violation and the failing
// test at their files (relative to the repository root), lines and columns, folds each failed
// stage's log into a group, and appends the Markdown table to $GITHUB_STEP_SUMMARY; with
// GITLAB_CI=true, each failed stage's log is in a collapsed section; --ci none turns it off;
// with --output json the annotations go to stderr and the events carry the problems.
func TestCIOutput(t *testing.T) {
	if testing.Short() {
		t.Skip("installs flake8 and pytest from PyPI; skipped with -short")
	}
	root := ciRepo(t)
	summary := filepath.Join(t.TempDir(), "step-summary.md")
	github := []string{"GITHUB_ACTIONS=true", "GITLAB_CI=", "GITHUB_STEP_SUMMARY=" + summary}
	res := convoy(t, root, github, "gate", "--progress", "plain")
	if res.code != exitFailed {
		t.Fatalf("exit %d, want %d\n%s\n%s", res.code, exitFailed, res.stdout, res.stderr)
	}
	for _, want := range []string{
		"::error file=services/x/app/views.py,line=1,col=1,title=x lint%3A flake8 F401::F401 'os' imported but unused\n",
		"::error file=services/x/tests/test_views.py,line=5,title=x unit%3A test tests.test_views%3A%3Atest_total failed::assert 3 == 4",
		"::group::x lint failed (exit code 1)\n",
		"::group::x unit failed (exit code 1)\n",
		"app/views.py:1:1: F401 'os' imported but unused\n", // flake8's own output, in the group
	} {
		if !strings.Contains(res.stdout, want) {
			t.Errorf("stdout lacks %q:\n%s", want, res.stdout)
		}
	}
	if n := strings.Count(res.stdout, "::endgroup::"); n != 2 {
		t.Errorf("%d groups closed, want 2 (lint, unit)", n)
	}
	md, err := os.ReadFile(summary)
	if err != nil {
		t.Fatal(err)
	}
	for _, re := range []string{
		`(?m)^### convoy: failed in `,
		`(?m)^\| Service \| Status \| deps \| unit \| lint \| populate \| Tests \| Image \|$`,
		`(?m)^\| x \| failed \| (passed|cached)[^|]* \| failed [^|]+ \| failed [^|]+ \| skipped \| unit 0 passed, 1 failed \| - \|$`,
		`<details><summary>x unit failed \(exit code 1\)</summary>`,
	} {
		if !regexp.MustCompile(re).Match(md) {
			t.Errorf("step summary does not match %s:\n%s", re, md)
		}
	}

	gitlab := convoy(t, root, []string{"GITHUB_ACTIONS=", "GITLAB_CI=true"}, "gate", "--progress", "plain")
	for _, re := range []string{
		`\x1b\[0Ksection_start:\d+:convoy_x_lint\[collapsed=true\]\r\x1b\[0Kx lint failed \(exit code 1\)\n`,
		`(?s)app/views.py:1:1: F401 .*\x1b\[0Ksection_end:\d+:convoy_x_lint\r\x1b\[0K\n`,
		`\x1b\[0Ksection_start:\d+:convoy_x_unit\[collapsed=true\]`,
		`services/x/tests/test_views.py:5: assert 3 == 4`,
	} {
		if !regexp.MustCompile(re).MatchString(gitlab.stdout) {
			t.Errorf("GitLab output does not match %q:\n%q", re, gitlab.stdout)
		}
	}
	if strings.Contains(gitlab.stdout, "::group::") {
		t.Errorf("GitHub commands under GitLab:\n%s", gitlab.stdout)
	}

	none := convoy(t, root, github, "gate", "--progress", "plain", "--ci", "none")
	if strings.Contains(none.stdout, "::group::") || strings.Contains(none.stdout, "::error") || strings.Contains(none.stdout, "section_start") {
		t.Errorf("--ci none still wrote CI commands:\n%s", none.stdout)
	}

	js := convoy(t, root, github, "gate", "--output", "json")
	if js.sum == nil || !strings.Contains(js.stderr, "::error file=services/x/app/views.py,line=1,col=1,") {
		t.Errorf("with --output json: summary %v, stderr:\n%s", js.sum != nil, js.stderr)
	}
	var lint []stages.Finding
	for _, e := range js.events {
		if e.Type == pipeline.EventStageFinish && e.Stage == "lint" {
			lint = e.Problems
		}
	}
	if len(lint) != 1 || lint[0].File != "services/x/app/views.py" || lint[0].Line != 1 || lint[0].Code != "F401" {
		t.Errorf("lint stage's problems in the events = %+v", lint)
	}
}

// TestTraceAndCriticalPath: a real run with --trace writes a Chrome trace-event file in which
// every stage that ran is one complete event on a named track, no two on a track overlap, and
// each stage starts after the stages it needs ended; the JSON and text summaries name the
// critical path, from a deps stage to a populate stage.
func TestTraceAndCriticalPath(t *testing.T) {
	root := writeRepo(t, pyServices("", map[string]map[string]string{
		"a": {"unit": py("import time; time.sleep(0.3)")},
		"b": {"lint": py("pass")},
		"c": {},
	}))
	trace := filepath.Join(t.TempDir(), "trace.json")
	res := convoy(t, root, nil, "gate", "-j", "2", "--output", "json", "--trace", trace)
	if res.code != exitPassed || res.sum == nil {
		t.Fatalf("exit %d\n%s\n%s", res.code, res.stdout, res.stderr)
	}
	b, err := os.ReadFile(trace)
	if err != nil {
		t.Fatal(err)
	}
	var tr struct {
		TraceEvents []struct {
			Name, Cat, Ph string
			Ts            int64
			Dur           int64
			Tid           int
			Args          map[string]any
		} `json:"traceEvents"`
	}
	if err := json.Unmarshal(b, &tr); err != nil {
		t.Fatalf("%v\n%s", err, b)
	}
	type span struct{ start, end int64 }
	spans, tracks := map[string]span{}, map[int]string{}
	byTrack := map[int][]span{}
	for _, e := range tr.TraceEvents {
		switch {
		case e.Ph == "M" && e.Name == "thread_name":
			tracks[e.Tid], _ = e.Args["name"].(string)
		case e.Ph == "X" && e.Cat == "stage":
			id := e.Args["service"].(string) + "/" + e.Args["stage"].(string)
			if _, dup := spans[id]; dup {
				t.Errorf("%s has two events", id)
			}
			spans[id] = span{e.Ts, e.Ts + e.Dur}
			byTrack[e.Tid] = append(byTrack[e.Tid], span{e.Ts, e.Ts + e.Dur})
		}
	}
	for _, svc := range res.sum.Services {
		for _, st := range svc.Stages {
			if _, ok := spans[svc.Name+"/"+st.Name]; !ok {
				t.Errorf("no trace event for %s %s", svc.Name, st.Name)
			}
		}
		at := func(st string) span { return spans[svc.Name+"/"+st] }
		for _, e := range [][2]string{{"deps", "unit"}, {"deps", "lint"}, {"unit", "populate"}, {"lint", "populate"}} {
			if at(e[0]).end > at(e[1]).start {
				t.Errorf("%s: %s ends at %dµs, after %s starts at %dµs", svc.Name, e[0], at(e[0]).end, e[1], at(e[1]).start)
			}
		}
	}
	if len(spans) != 12 {
		t.Errorf("%d stage events, want 12", len(spans))
	}
	for tid, ss := range byTrack {
		if tracks[tid] == "" {
			t.Errorf("track %d has no name", tid)
		}
		for i := 1; i < len(ss); i++ {
			if ss[i].start < ss[i-1].end {
				t.Errorf("track %q: overlapping stages %v", tracks[tid], ss)
			}
		}
	}
	if len(byTrack) > 2 {
		t.Errorf("%d job-slot tracks for -j 2", len(byTrack))
	}
	cp := res.sum.CriticalPath
	if cp == nil || len(cp.Stages) < 3 || cp.Stages[0].Stage != "deps" || cp.Stages[len(cp.Stages)-1].Stage != "populate" {
		t.Fatalf("critical path %+v", cp)
	}
	text := convoy(t, root, nil, "gate", "--progress", "plain")
	if !regexp.MustCompile(`(?m)^critical path: \w+ deps \S+ → \w+ (unit|lint) \S+ → \w+ populate \S+ = \S+$`).MatchString(text.stdout) {
		t.Errorf("text summary lacks the critical path:\n%s", text.stdout)
	}
}
