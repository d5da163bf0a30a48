package pipeline

import (
	"sync"
	"time"

	"github.com/convoy-ci/convoy/engine"
	"github.com/convoy-ci/convoy/stages"
)

// Status is how a stage or a service ended (or where it is).
type Status string

// Statuses of stages and services.
const (
	StatusPending     Status = "pending"
	StatusRunning     Status = "running"
	StatusPassed      Status = "passed"
	StatusCached      Status = "cached"
	StatusFailed      Status = "failed"
	StatusTimeout     Status = "timeout"
	StatusSkipped     Status = "skipped"
	StatusCancelled   Status = "cancelled"
	StatusInterrupted Status = "interrupted"
)

// Failed reports whether the status means the work did not pass by its own fault.
func (s Status) Failed() bool { return s == StatusFailed || s == StatusTimeout }

// Event types.
const (
	EventRunStart    = "run.start"
	EventStageStart  = "stage.start"
	EventStageFinish = "stage.finish"
	EventNotice      = "notice"
	EventTest        = "test"
	EventSummary     = "summary"
)

// Event is one thing that happened during a run. Every output of convoy — the live view, plain
// CI logs, NDJSON, the summary table — is a renderer of the same events.
type Event struct {
	Type    string    `json:"type"`
	Time    time.Time `json:"time"`
	Service string    `json:"service,omitempty"`
	Stage   string    `json:"stage,omitempty"`
	Status  Status    `json:"status,omitempty"`
	// Shadow is set on the stage events of a shadow service (config.Service.Shadow): their
	// failures never fail the run.
	Shadow bool `json:"shadow,omitempty"`
	// ExitCode is set on failed stages whose command exited by itself.
	ExitCode *int `json:"exit_code,omitempty"`
	// Duration of a finished stage, in seconds.
	Duration float64 `json:"duration,omitempty"`
	// Findings counts what a stage that reports without failing (lint_mode: warn) found;
	// every one is in its log.
	Findings int `json:"findings,omitempty"`
	// Tests counts the tests a unit stage ran ("available": false when its runner reported
	// nothing convoy can read).
	Tests *stages.TestCounts `json:"tests,omitempty"`
	// Problems are what a finished stage found at places in files, paths relative to the
	// repository root: a lint stage's violations (findings in warn mode), a unit stage's
	// failing tests. CI renderers annotate them.
	Problems []stages.Finding `json:"problems,omitempty"`
	// Log is the path of the stage's log file.
	Log string `json:"log,omitempty"`
	// Tail holds the last lines of the log of a stage that did not pass.
	Tail []string `json:"tail,omitempty"`
	// Message is a human sentence: an error, a note, a notice.
	Message string `json:"message,omitempty"`
	// Run is set on run.start.
	Run *RunInfo `json:"run,omitempty"`
	// Summary is set on the final summary event.
	Summary *Summary `json:"-"`
}

// RunInfo describes a run as it starts.
type RunInfo struct {
	Command  string   `json:"command"`
	Engine   string   `json:"engine"`
	Jobs     int      `json:"jobs"`
	Services []string `json:"services"`
	Stages   []string `json:"stages"`
}

// Summary is the end of a run: every service's status and every stage's.
type Summary struct {
	Type     string           `json:"type"`
	Status   Status           `json:"status"`
	Duration float64          `json:"duration"`
	Services []ServiceSummary `json:"services"`
	// Integration is set when the run had an integration stage.
	Integration *IntegrationSummary `json:"integration,omitempty"`
	// CriticalPath is the chain of stages that decided the run's length (none when no stage
	// ran).
	CriticalPath *CriticalPath `json:"critical_path,omitempty"`
	// ShadowFailed names the shadow services that did not pass (config.Service.Shadow): reported,
	// but no part of Status.
	ShadowFailed []string `json:"shadow_failed,omitempty"`
}

// ServiceSummary is one service's line of the summary.
type ServiceSummary struct {
	Name   string `json:"name"`
	Status Status `json:"status"`
	// Shadow is set on a shadow service: its status never decides the run's.
	Shadow bool           `json:"shadow,omitempty"`
	Stages []StageSummary `json:"stages"`
	// Image is repo@sha256:… when an image was built or found in the cache.
	Image  string `json:"image,omitempty"`
	Digest string `json:"digest,omitempty"`
}

// StageSummary is one stage's cell of the summary.
type StageSummary struct {
	Name     string  `json:"name"`
	Status   Status  `json:"status"`
	Duration float64 `json:"duration"`
	Note     string  `json:"note,omitempty"`
	Log      string  `json:"log,omitempty"`
	// Findings counts what the stage found without failing (lint_mode: warn), each in its log.
	Findings int `json:"findings,omitempty"`
	// Tests counts the tests a unit stage ran (see Event.Tests).
	Tests *stages.TestCounts `json:"tests,omitempty"`
	// Image and Digest are set on an image stage that built one.
	Image  string `json:"image,omitempty"`
	Digest string `json:"digest,omitempty"`

	problems []stages.Finding // for the stage's event
}

// IntegrationSummary counts the cross-service suite's results.
type IntegrationSummary struct {
	Status Status `json:"status"`
	// From says what the services ran from: "image" (their images, in Runtime) or "venv" (host
	// virtualenvs: the images were not proven).
	From engine.From `json:"from"`
	// Runtime is the container runtime the images ran in ("runc", "docker").
	Runtime string `json:"runtime,omitempty"`
	// ImagesProven is set when every service ran from its image and the integration passed.
	ImagesProven bool   `json:"images_proven"`
	Passed       int    `json:"passed"`
	Failed       int    `json:"failed"`
	Skipped      int    `json:"skipped"`
	Errors       int    `json:"errors"`
	Log          string `json:"log,omitempty"`
}

// Sink receives events. Emit is called from one goroutine at a time.
type Sink interface {
	Emit(Event)
}

// SinkFunc adapts a function to a Sink.
type SinkFunc func(Event)

// Emit calls f.
func (f SinkFunc) Emit(e Event) { f(e) }

// Bus fans events out to sinks, serialising calls so sinks need no locking of their own. The
// zero Bus drops events.
type Bus struct {
	mu    sync.Mutex
	sinks []Sink
}

// NewBus returns a bus emitting to sinks in order.
func NewBus(sinks ...Sink) *Bus { return &Bus{sinks: sinks} }

// Emit stamps the event's time if unset and hands it to every sink.
func (b *Bus) Emit(e Event) {
	if e.Time.IsZero() {
		e.Time = time.Now()
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, s := range b.sinks {
		s.Emit(e)
	}
}
