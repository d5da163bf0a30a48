package report

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/convoy-ci/convoy/pipeline"
)

// events is a small run: auth passes, events fails its unit stage with exit code 3.
func events() []pipeline.Event {
	t0 := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	three := 3
	sum := pipeline.Summary{Status: pipeline.StatusFailed, Duration: 2.5, Services: []pipeline.ServiceSummary{
		{Name: "auth", Status: pipeline.StatusPassed, Image: "oci:auth@sha256:abc", Stages: []pipeline.StageSummary{
			{Name: "unit", Status: pipeline.StatusPassed, Duration: 1.25}}},
		{Name: "events", Status: pipeline.StatusFailed, Stages: []pipeline.StageSummary{
			{Name: "unit", Status: pipeline.StatusFailed, Duration: 0.5}}},
	}, CriticalPath: &pipeline.CriticalPath{Duration: 2, Stages: []pipeline.PathStage{
		{Service: "auth", Stage: "unit", Start: t0, Duration: 2}}}}
	return []pipeline.Event{
		{Type: pipeline.EventRunStart, Time: t0, Run: &pipeline.RunInfo{Command: "run", Engine: "local", Jobs: 2,
			Services: []string{"auth", "events"}, Stages: []string{"unit"}}},
		{Type: pipeline.EventStageStart, Time: t0, Service: "auth", Stage: "unit", Status: pipeline.StatusRunning},
		{Type: pipeline.EventStageStart, Time: t0, Service: "events", Stage: "unit", Status: pipeline.StatusRunning},
		{Type: pipeline.EventStageFinish, Time: t0.Add(time.Second), Service: "events", Stage: "unit", Status: pipeline.StatusFailed,
			ExitCode: &three, Duration: 0.5, Log: "/x/events/unit.log", Tail: []string{"AssertionError: boom"}},
		{Type: pipeline.EventStageFinish, Time: t0.Add(2 * time.Second), Service: "auth", Stage: "unit", Status: pipeline.StatusPassed, Duration: 1.25},
		{Type: pipeline.EventSummary, Time: t0.Add(2500 * time.Millisecond), Summary: &sum},
	}
}

func TestJSONSummaryIsLastLine(t *testing.T) {
	var out bytes.Buffer
	r := NewJSON(&out)
	for _, e := range events() {
		r.Emit(e)
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) != 6 {
		t.Fatalf("%d lines, want 6:\n%s", len(lines), out.String())
	}
	var last struct {
		Type     string `json:"type"`
		Services []struct{ Name, Status, Image string }
	}
	if err := json.Unmarshal([]byte(lines[5]), &last); err != nil || last.Type != "summary" || len(last.Services) != 2 ||
		last.Services[1].Status != "failed" || last.Services[0].Image != "oci:auth@sha256:abc" {
		t.Errorf("last line = %s (%v)", lines[5], err)
	}
	var fail pipeline.Event
	if err := json.Unmarshal([]byte(lines[3]), &fail); err != nil || *fail.ExitCode != 3 || fail.Tail[0] != "AssertionError: boom" {
		t.Errorf("failure event = %s", lines[3])
	}
}

func TestPlainAndSummary(t *testing.T) {
	var out bytes.Buffer
	r := NewPlain(&out)
	for _, e := range events() {
		r.Emit(e)
	}
	got := out.String()
	for _, want := range []string{
		"events           unit        failed in 500ms (exit code 3)",
		"auth     passed  passed 1.2s",
		"oci:auth@sha256:abc",
		"--- events: stage unit failed, exit code 3",
		"| AssertionError: boom",
		"full log: /x/events/unit.log",
		"critical path: auth unit 2.0s = 2.0s",
		"failed in 2.5s",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("plain output lacks %q:\n%s", want, got)
		}
	}
}

func TestTTYRedrawsOneLinePerService(t *testing.T) {
	var out bytes.Buffer
	r := NewTTY(&out, time.Hour)
	evs := events()
	for _, e := range evs[:3] {
		r.Emit(e)
	}
	// After both starts: two live lines, each showing its running stage.
	frame := out.String()[strings.LastIndex(out.String(), "\x1b[2A"):]
	if !strings.Contains(frame, "auth") || !strings.Contains(frame, "events") || strings.Count(frame, "\x1b[2K") != 2 || !strings.Contains(frame, "unit ") {
		t.Errorf("live frame = %q", frame)
	}
	for _, e := range evs[3:] {
		r.Emit(e)
	}
	got := out.String()
	if !strings.Contains(got, "failed at unit") || !strings.Contains(got, "--- events: stage unit failed") {
		t.Errorf("tty output lacks the settled line or the report:\n%s", got)
	}
}

// TestJUnit: the report has a suite per service and a test case per stage; the failure carries
// the exit code and the log's last lines; the XML is what encoding/xml reads back.
func TestJUnit(t *testing.T) {
	path := filepath.Join(t.TempDir(), "junit.xml")
	r := NewJUnit(path)
	for _, e := range events() {
		r.Emit(e)
	}
	if r.Err() != nil {
		t.Fatal(r.Err())
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var got struct {
		Tests    int `xml:"tests,attr"`
		Failures int `xml:"failures,attr"`
		Suites   []struct {
			Name  string `xml:"name,attr"`
			Cases []struct {
				Name    string `xml:"name,attr"`
				Failure *struct {
					Message string `xml:"message,attr"`
					Data    string `xml:",chardata"`
				} `xml:"failure"`
			} `xml:"testcase"`
		} `xml:"testsuite"`
	}
	if err := xml.Unmarshal(data, &got); err != nil {
		t.Fatalf("%v\n%s", err, data)
	}
	if got.Tests != 2 || got.Failures != 1 || len(got.Suites) != 2 {
		t.Fatalf("report = %+v\n%s", got, data)
	}
	for _, s := range got.Suites {
		if s.Name == "events" {
			f := s.Cases[0].Failure
			if f == nil || !strings.HasPrefix(f.Message, "exit code 3") || !strings.Contains(f.Data, "AssertionError: boom") {
				t.Errorf("events failure = %+v", f)
			}
		}
	}
}
