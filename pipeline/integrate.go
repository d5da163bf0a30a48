package pipeline

import (
	"context"
	"errors"
	"strings"
	"time"

	"github.com/convoy-ci/convoy/engine"
	"github.com/convoy-ci/convoy/integration"
)

// IntegrationService is the name integration events carry when they concern no single service.
const IntegrationService = "integration"

// Integrate runs the integration stage on eng and reports it on the bus: each service's start
// as its "integration" stage, the suite as the "suite" stage of IntegrationService, and one test
// event per test result.
// Whatever failed is in the events (the failing step's message and log tail) and the summary's
// status.
func Integrate(ctx context.Context, eng engine.Integrator, req engine.IntegrationRequest, bus *Bus) *IntegrationSummary {
	started := map[string]Event{}
	finish := func(svc, stage string, status Status, msg, log string, tail []string, code *int) {
		s, ok := started[svc+"/"+stage]
		if !ok {
			return
		}
		delete(started, svc+"/"+stage)
		ev := Event{Type: EventStageFinish, Service: svc, Stage: stage, Status: status, Message: msg, Log: log, Tail: tail, ExitCode: code}
		ev.Time = time.Now()
		ev.Duration = seconds(ev.Time.Sub(s.Time))
		bus.Emit(ev)
	}
	start := func(svc, stage, log string) {
		ev := Event{Type: EventStageStart, Time: time.Now(), Service: svc, Stage: stage, Status: StatusRunning, Log: log}
		started[svc+"/"+stage] = ev
		bus.Emit(ev)
	}
	req.Events = func(e integration.Event) {
		switch e.Kind {
		case integration.EventServiceMigrate:
			start(e.Service, "integration", e.LogPath)
		case integration.EventServiceHealthy:
			finish(e.Service, "integration", StatusPassed, e.URL, e.LogPath, nil, nil)
		case integration.EventServiceFailed:
			msg := e.Message
			if e.Err != nil {
				msg = e.Err.Error()
			}
			var tail []string
			var code *int
			var se *integration.ServiceError
			if errors.As(e.Err, &se) {
				// The error's text ends with the log's tail; the report prints the tail itself.
				tail = se.LogTail
				msg, _, _ = strings.Cut(msg, "\n")
				if se.ExitCode >= 0 {
					code = &se.ExitCode
				}
			}
			finish(e.Service, "integration", StatusFailed, msg, e.LogPath, tail, code)
		case integration.EventPostgresReady:
			bus.Emit(Event{Type: EventNotice, Service: IntegrationService, Message: "postgres ready (" + integration.Redact(e.URL) + ")"})
		case integration.EventServicePortMoved:
			bus.Emit(Event{Type: EventNotice, Service: e.Service, Message: e.Message})
		case integration.EventSuiteStarted:
			start(IntegrationService, "suite", e.LogPath)
		case integration.EventTestResult:
			if t := e.Test; t != nil {
				bus.Emit(Event{Type: EventTest, Service: IntegrationService, Stage: t.Name, Status: testStatus(t.Status),
					Duration: t.Duration.Seconds(), Message: t.Message})
			}
		}
	}
	rep, err := eng.Integrate(ctx, req)
	sum := &IntegrationSummary{Status: StatusPassed}
	if rep != nil {
		s := rep.Suite
		sum.Passed, sum.Failed, sum.Skipped, sum.Errors, sum.Log = s.Passed, s.Failed, s.Skipped, s.Errors, s.LogPath
	}
	switch {
	case err == nil:
	case errors.Is(err, integration.ErrInterrupted) || ctx.Err() != nil:
		sum.Status = StatusInterrupted
	default:
		sum.Status = StatusFailed
	}
	msg := ""
	if err != nil {
		msg = err.Error()
	}
	var suiteTail []string
	if sum.Status == StatusFailed && sum.Log != "" {
		suiteTail = integration.LogTail(sum.Log, TailLines)
	}
	var suiteCode *int
	if rep != nil && rep.Suite.Ran && rep.Suite.ExitCode >= 0 {
		suiteCode = &rep.Suite.ExitCode
	}
	finish(IntegrationService, "suite", sum.Status, msg, sum.Log, suiteTail, suiteCode)
	// A service still starting when everything stopped did not pass either.
	for _, ev := range started {
		finish(ev.Service, ev.Stage, sum.Status, msg, ev.Log, nil, nil)
	}
	if err != nil && (rep == nil || !rep.Suite.Ran) {
		// Nothing reached the suite: say why once, even if no stage was open.
		bus.Emit(Event{Type: EventNotice, Service: IntegrationService, Message: "integration: " + msg})
	}
	return sum
}

func testStatus(s integration.TestStatus) Status {
	switch s {
	case integration.TestPassed:
		return StatusPassed
	case integration.TestSkipped:
		return StatusSkipped
	}
	return StatusFailed
}
