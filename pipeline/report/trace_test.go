package report

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/convoy-ci/convoy/pipeline"
)

// parsedTrace is a trace file as a reader of the trace-event format sees it.
type parsedTrace struct {
	TraceEvents []struct {
		Name string         `json:"name"`
		Cat  string         `json:"cat"`
		Ph   string         `json:"ph"`
		Ts   int64          `json:"ts"`
		Dur  *int64         `json:"dur"`
		Pid  int            `json:"pid"`
		Tid  int            `json:"tid"`
		Args map[string]any `json:"args"`
	} `json:"traceEvents"`
}

func readTrace(t *testing.T, path string) parsedTrace {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var tr parsedTrace
	if err := json.Unmarshal(b, &tr); err != nil {
		t.Fatalf("%v\n%s", err, b)
	}
	return tr
}

// TestTrace: every stage that ran is one complete event on a job-slot track, a slot taken only
// by stages that do not overlap; tracks are named; the critical path has a track of its own.
func TestTrace(t *testing.T) {
	t0 := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	at := func(ms int) time.Time { return t0.Add(time.Duration(ms) * time.Millisecond) }
	ev := func(typ, svc, st string, ms int) pipeline.Event {
		return pipeline.Event{Type: typ, Time: at(ms), Service: svc, Stage: st, Status: pipeline.StatusPassed}
	}
	path := filepath.Join(t.TempDir(), "trace.json")
	tr := NewTrace(path)
	for _, e := range []pipeline.Event{
		{Type: pipeline.EventRunStart, Time: t0, Run: &pipeline.RunInfo{Command: "gate"}},
		ev(pipeline.EventStageStart, "a", "deps", 0), ev(pipeline.EventStageStart, "b", "deps", 0),
		ev(pipeline.EventStageFinish, "a", "deps", 1000), ev(pipeline.EventStageStart, "a", "unit", 1000),
		ev(pipeline.EventStageFinish, "b", "deps", 1500), ev(pipeline.EventStageStart, "b", "unit", 1500),
		ev(pipeline.EventStageFinish, "a", "unit", 3000), ev(pipeline.EventStageFinish, "b", "unit", 2000),
		{Type: pipeline.EventStageFinish, Service: "c", Stage: "deps", Status: pipeline.StatusCached}, // never started
		{Type: pipeline.EventSummary, Time: at(3100), Summary: &pipeline.Summary{CriticalPath: &pipeline.CriticalPath{Duration: 3,
			Stages: []pipeline.PathStage{{Service: "a", Stage: "deps", Start: t0, Duration: 1}, {Service: "a", Stage: "unit", Start: at(1000), Duration: 2}}}}},
	} {
		tr.Emit(e)
	}
	if err := tr.Close(); err != nil || tr.Err() != nil {
		t.Fatal(err, tr.Err())
	}
	type slot struct {
		tid     int
		ts, dur int64
	}
	got := map[string]slot{}
	threads := map[int]string{}
	for _, e := range readTrace(t, path).TraceEvents {
		switch e.Ph {
		case "M":
			if e.Name == "thread_name" {
				threads[e.Tid] = e.Args["name"].(string)
			}
		case "X":
			got[e.Cat+" "+e.Name] = slot{tid: e.Tid, ts: e.Ts, dur: *e.Dur}
		}
	}
	want := map[string]slot{
		"stage a deps": {2, 0, 1_000_000}, "stage b deps": {3, 0, 1_500_000},
		"stage a unit": {2, 1_000_000, 2_000_000}, "stage b unit": {3, 1_500_000, 500_000},
		"critical path a deps": {1, 0, 1_000_000}, "critical path a unit": {1, 1_000_000, 2_000_000},
	}
	if len(got) != len(want) {
		t.Errorf("complete events %v, want %v", got, want)
	}
	for k, w := range want {
		if got[k] != w {
			t.Errorf("%s = %+v, want %+v", k, got[k], w)
		}
	}
	if threads[1] != "critical path" || threads[2] != "job slot 1" || threads[3] != "job slot 2" || len(threads) != 3 {
		t.Errorf("tracks %v", threads)
	}
}

// TestTraceWithoutSummary: a run that ends without a summary still gets its trace at Close, the
// stage still running ending then.
func TestTraceWithoutSummary(t *testing.T) {
	path := filepath.Join(t.TempDir(), "trace.json")
	tr := NewTrace(path)
	t0 := time.Now()
	tr.Emit(pipeline.Event{Type: pipeline.EventRunStart, Time: t0, Run: &pipeline.RunInfo{Command: "run"}})
	tr.Emit(pipeline.Event{Type: pipeline.EventStageStart, Time: t0, Service: "a", Stage: "deps"})
	if err := tr.Close(); err != nil {
		t.Fatal(err)
	}
	var n int
	for _, e := range readTrace(t, path).TraceEvents {
		if e.Ph == "X" {
			n++
			if e.Name != "a deps" || e.Args["status"] != "running" || *e.Dur < 0 {
				t.Errorf("event %+v", e)
			}
		}
	}
	if n != 1 {
		t.Errorf("%d complete events, want 1", n)
	}
}
