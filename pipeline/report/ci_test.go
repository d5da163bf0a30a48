package report

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/convoy-ci/convoy/pipeline"
	"github.com/convoy-ci/convoy/stages"
)

// ciEvents is a run in which web's lint fails with two violations and its unit stage with no
// readable test report; its log holds a line that looks like a workflow command. api passes
// its lint with one finding (warn mode); an integration test fails.
func ciEvents(t *testing.T) []pipeline.Event {
	t0 := time.Unix(1_800_000_000, 0)
	log := filepath.Join(t.TempDir(), "unit.log")
	if err := os.WriteFile(log, []byte("collected 3 items\n::error::not from convoy\nE   assert 1 == 2\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	one := 1
	sum := pipeline.Summary{Status: pipeline.StatusFailed, Duration: 12.5, Services: []pipeline.ServiceSummary{
		{Name: "web", Status: pipeline.StatusFailed, Stages: []pipeline.StageSummary{
			{Name: "lint", Status: pipeline.StatusFailed, Duration: 1.5}, {Name: "unit", Status: pipeline.StatusFailed, Duration: 3}}},
		{Name: "api", Status: pipeline.StatusPassed, Image: "oci:api|x@sha256:abc", Stages: []pipeline.StageSummary{
			{Name: "lint", Status: pipeline.StatusPassed, Duration: 0.25, Findings: 1}, {Name: "unit", Status: pipeline.StatusPassed, Duration: 2,
				Tests: &stages.TestCounts{Available: true, Source: stages.CountsJUnit, Passed: 4}}}},
	}, CriticalPath: &pipeline.CriticalPath{Duration: 4.5, Stages: []pipeline.PathStage{
		{Service: "web", Stage: "deps", Duration: 1.5}, {Service: "web", Stage: "unit", Duration: 3}}}}
	return []pipeline.Event{
		{Type: pipeline.EventStageFinish, Time: t0.Add(2 * time.Second), Service: "web", Stage: "lint", Status: pipeline.StatusFailed,
			ExitCode: &one, Duration: 1.5, Log: log, Problems: []stages.Finding{
				{File: "services/web/app/a,b.py", Line: 3, Col: 1, Code: "F401", Text: "'os' imported but unused", Title: "flake8 F401"},
				{File: "services/web/app/m.py", Line: 10, Col: 80, Code: "E501", Text: "line too long (100% > 79)\nsecond", Title: "flake8 E501"}}},
		{Type: pipeline.EventStageFinish, Time: t0.Add(5 * time.Second), Service: "web", Stage: "unit", Status: pipeline.StatusFailed,
			ExitCode: &one, Duration: 3, Log: log, Message: "exit status 1"},
		{Type: pipeline.EventStageFinish, Time: t0.Add(6 * time.Second), Service: "api", Stage: "lint", Status: pipeline.StatusPassed,
			Duration: 0.25, Problems: []stages.Finding{{File: "services/api/x.py", Line: 1, Col: 1, Code: "W391", Text: "blank line at end of file", Title: "flake8 W391"}}},
		{Type: pipeline.EventTest, Service: pipeline.IntegrationService, Stage: "tests/test_flow.py::test_login", Status: pipeline.StatusFailed, Message: "assert 401 == 200"},
		{Type: pipeline.EventSummary, Time: t0.Add(12 * time.Second), Summary: &sum},
	}
}

// TestGitHub: failed stages' logs in groups with workflow commands stopped inside; an error
// annotation per problem, file, line and column as properties, ':' ',' '%' and newlines escaped;
// a failed stage without problems annotated itself; warn-mode findings as warnings; the
// Markdown summary appended to the step summary file, which keeps what it held.
func TestGitHub(t *testing.T) {
	summary := filepath.Join(t.TempDir(), "step-summary.md")
	if err := os.WriteFile(summary, []byte("earlier step\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	g := NewGitHub(&out, summary)
	evs := ciEvents(t)
	for _, e := range evs {
		g.Emit(e)
	}
	if g.Err() != nil {
		t.Fatal(g.Err())
	}
	got := out.String()
	for _, want := range []string{
		"::group::web lint failed (exit code 1)\n::stop-commands::convoy-",
		"\ncollected 3 items\n::error::not from convoy\nE   assert 1 == 2\n::convoy-",
		"::\n::endgroup::\n",
		"::error file=services/web/app/a%2Cb.py,line=3,col=1,title=web lint%3A flake8 F401::F401 'os' imported but unused\n",
		"::error file=services/web/app/m.py,line=10,col=80,title=web lint%3A flake8 E501::E501 line too long (100%25 > 79)%0Asecond\n",
		"::group::web unit failed (exit code 1)\n",
		"::error title=web unit failed (exit code 1)::exit status 1%0Alog: " + evs[1].Log + "\n",
		"::warning file=services/api/x.py,line=1,col=1,title=api lint%3A flake8 W391::W391 blank line at end of file\n",
		"::error title=integration test tests/test_flow.py%3A%3Atest_login failed::assert 401 == 200\n",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("output lacks %q:\n%s", want, got)
		}
	}
	if strings.Count(got, "::group::") != 2 || strings.Count(got, "::endgroup::") != 2 {
		t.Errorf("want a group per failed stage:\n%s", got)
	}
	md, err := os.ReadFile(summary)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"earlier step\n### convoy: failed in 12.5s\n",
		"| Service | Status | lint | unit | Tests | Image |\n| --- | --- | --- | --- | --- | --- |\n",
		"| web | failed | failed 1.5s | failed 3.0s | - | - |\n",
		"| api | passed | passed 250ms | passed 2.0s | unit 4 passed | `oci:api\\|x@sha256:abc` |\n",
		"**Critical path:** web deps 1.5s → web unit 3.0s = 4.5s",
		"<details><summary>web lint failed (exit code 1)</summary>",
	} {
		if !strings.Contains(string(md), want) {
			t.Errorf("step summary lacks %q:\n%s", want, md)
		}
	}
}

// TestEscapes: workflow-command data and properties escape as the runner unescapes them.
func TestEscapes(t *testing.T) {
	for _, tc := range []struct{ in, data, prop string }{
		{"plain", "plain", "plain"},
		{"100%", "100%25", "100%25"},
		{"a\r\nb", "a%0D%0Ab", "a%0D%0Ab"},
		{"x:y,z", "x:y,z", "x%3Ay%2Cz"},
		{"%0A", "%250A", "%250A"},
	} {
		if got := escapeData(tc.in); got != tc.data {
			t.Errorf("escapeData(%q) = %q, want %q", tc.in, got, tc.data)
		}
		if got := escapeProperty(tc.in); got != tc.prop {
			t.Errorf("escapeProperty(%q) = %q, want %q", tc.in, got, tc.prop)
		}
	}
}

// TestGitLab: a failed stage's log in a collapsed section from its start to its finish, its
// problems after it; a passing stage gets none.
func TestGitLab(t *testing.T) {
	var out bytes.Buffer
	g := NewGitLab(&out)
	for _, e := range ciEvents(t) {
		g.Emit(e)
	}
	got := out.String()
	for _, want := range []string{
		"\x1b[0Ksection_start:1800000000:convoy_web_lint[collapsed=true]\r\x1b[0Kweb lint failed (exit code 1)\ncollected 3 items\n",
		"E   assert 1 == 2\n\x1b[0Ksection_end:1800000002:convoy_web_lint\r\x1b[0K\n",
		"services/web/app/m.py:10:80: E501 line too long (100% > 79) second\n",
		"\x1b[0Ksection_start:1800000002:convoy_web_unit[collapsed=true]\r\x1b[0Kweb unit failed (exit code 1)\n",
		"\x1b[0Ksection_end:1800000005:convoy_web_unit\r\x1b[0K\n",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("output lacks %q:\n%q", want, got)
		}
	}
	if strings.Contains(got, "api") {
		t.Errorf("a passing stage got a section:\n%s", got)
	}
}

// TestDetectCI: the environment decides the default.
func TestDetectCI(t *testing.T) {
	for _, tc := range []struct {
		env  map[string]string
		want string
	}{
		{map[string]string{"GITHUB_ACTIONS": "true", "CI": "true"}, CIGitHub},
		{map[string]string{"GITLAB_CI": "true", "CI": "true"}, CIGitLab},
		{map[string]string{"CI": "true"}, CINone},
		{map[string]string{"GITHUB_ACTIONS": "false"}, CINone},
	} {
		if got := DetectCI(func(k string) string { return tc.env[k] }); got != tc.want {
			t.Errorf("DetectCI(%v) = %s, want %s", tc.env, got, tc.want)
		}
	}
}

// TestGitHubShadow: a shadow service's failure is annotated as a warning: it never fails the run.
func TestGitHubShadow(t *testing.T) {
	var out bytes.Buffer
	g := NewGitHub(&out, "")
	one := 1
	g.Emit(pipeline.Event{Type: pipeline.EventStageFinish, Service: "next", Stage: "unit", Status: pipeline.StatusFailed,
		ExitCode: &one, Shadow: true, Message: "exit status 1"})
	if want := "::warning title=next unit failed (exit code 1)::exit status 1\n"; !strings.Contains(out.String(), want) {
		t.Errorf("output lacks %q:\n%s", want, out.String())
	}
	if strings.Contains(out.String(), "::error") {
		t.Errorf("a shadow service's failure is an error:\n%s", out.String())
	}
}
