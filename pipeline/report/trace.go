package report

import (
	"encoding/json"
	"fmt"
	"sort"
	"time"

	"github.com/google/renameio/v2"

	"github.com/convoy-ci/convoy/pipeline"
)

// Trace collects a run's stages into a file in the Chrome trace-event format, which Perfetto
// (ui.perfetto.dev) and chrome://tracing open: one complete event per stage that ran, on one
// track per job slot (a stage takes the lowest slot free when it starts), and the critical path
// on a track of its own. The file is written atomically when the summary arrives — a failed or
// interrupted run has one too — or by Close when it never did.
type Trace struct {
	path     string
	command  string
	t0       time.Time
	spans    pipeline.Spans
	critical *pipeline.CriticalPath
	written  bool
	err      error
}

// NewTrace returns a renderer that writes its trace to path.
func NewTrace(path string) *Trace { return &Trace{path: path} }

// Err reports a failure to write the trace.
func (t *Trace) Err() error { return t.err }

// Emit records the run's start, every stage's start and finish, and writes the trace at the
// summary.
func (t *Trace) Emit(e pipeline.Event) {
	switch e.Type {
	case pipeline.EventRunStart:
		t.t0 = e.Time
		if e.Run != nil {
			t.command = e.Run.Command
		}
	case pipeline.EventSummary:
		if e.Summary != nil {
			t.critical = e.Summary.CriticalPath
		}
		t.write(e.Time)
	}
	t.spans.Emit(e)
}

// Close writes the trace if the run started and its summary never came (a run that could not
// finish), with the stages still running ending now, and returns what went wrong writing it.
func (t *Trace) Close() error {
	if t.written || t.t0.IsZero() {
		return nil
	}
	t.write(time.Now())
	return t.err
}

// Trace-event phases and the process every track belongs to.
const (
	phaseComplete = "X"
	phaseMetadata = "M"
	tracePID      = 1
	criticalTID   = 1 // job slot n is track n+1
)

// traceEvent is one event of the Chrome trace-event format; times are in microseconds.
type traceEvent struct {
	Name string         `json:"name"`
	Cat  string         `json:"cat,omitempty"`
	Ph   string         `json:"ph"`
	Ts   int64          `json:"ts"`
	Dur  *int64         `json:"dur,omitempty"`
	Pid  int            `json:"pid"`
	Tid  int            `json:"tid"`
	Args map[string]any `json:"args,omitempty"`
}

// traceFile is the JSON object format of a trace.
type traceFile struct {
	TraceEvents     []traceEvent `json:"traceEvents"`
	DisplayTimeUnit string       `json:"displayTimeUnit"`
}

func (t *Trace) write(end time.Time) {
	t.written = true
	spans := append(append([]pipeline.Span(nil), t.spans.List()...), t.spans.Open(end)...)
	b, err := json.Marshal(traceFile{TraceEvents: t.events(spans), DisplayTimeUnit: "ms"})
	if err == nil {
		err = renameio.WriteFile(t.path, b, 0o644)
	}
	if err != nil {
		t.err = fmt.Errorf("writing the trace %s: %w", t.path, err)
	}
}

// events lays spans out on job-slot tracks, in the order they started, with the critical path
// on its own track and every track named.
func (t *Trace) events(spans []pipeline.Span) []traceEvent {
	sort.SliceStable(spans, func(i, j int) bool { return spans[i].Start.Before(spans[j].Start) })
	name := "convoy"
	if t.command != "" {
		name += " " + t.command
	}
	out := []traceEvent{meta("process_name", criticalTID, name), meta("thread_name", criticalTID, "critical path")}
	var busy []time.Time // per slot: when its last stage ends
	for _, s := range spans {
		slot := 0
		for slot < len(busy) && busy[slot].After(s.Start) {
			slot++
		}
		if slot == len(busy) {
			busy = append(busy, time.Time{})
			out = append(out, meta("thread_name", slot+criticalTID+1, fmt.Sprintf("job slot %d", slot+1)))
		}
		busy[slot] = s.End
		out = append(out, t.complete(s, slot+criticalTID+1, "stage", map[string]any{"status": string(s.Status)}))
	}
	if cp := t.critical; cp != nil {
		for _, st := range cp.Stages {
			d := time.Duration(st.Duration * float64(time.Second))
			out = append(out, t.complete(pipeline.Span{Service: st.Service, Stage: st.Stage, Start: st.Start, End: st.Start.Add(d)},
				criticalTID, "critical path", nil))
		}
	}
	return out
}

// complete is the complete ("X") event of span s on track tid.
func (t *Trace) complete(s pipeline.Span, tid int, cat string, args map[string]any) traceEvent {
	dur := s.End.Sub(s.Start).Microseconds()
	if args == nil {
		args = map[string]any{}
	}
	args["service"], args["stage"] = s.Service, s.Stage
	return traceEvent{Name: s.Service + " " + s.Stage, Cat: cat, Ph: phaseComplete, Ts: s.Start.Sub(t.t0).Microseconds(),
		Dur: &dur, Pid: tracePID, Tid: tid, Args: args}
}

// meta is a metadata ("M") event naming the process or a track.
func meta(what string, tid int, name string) traceEvent {
	return traceEvent{Name: what, Ph: phaseMetadata, Pid: tracePID, Tid: tid, Args: map[string]any{"name": name}}
}
