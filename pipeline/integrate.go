package pipeline

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/convoy-ci/convoy/engine"
	"github.com/convoy-ci/convoy/integration/model"
)

// IntegrationService is the name integration events carry when they concern no single service.
const IntegrationService = "integration"

// IntegrationStage is the name of each service's stage in the integration phase: migrated,
// populated, started and healthy.
const IntegrationStage = "integration"

// Integrate runs the integration stage on eng and reports it on the bus: each service's start
// as its "integration" stage, the suite as the "suite" stage of IntegrationService, and one test
// event per test result.
// Whatever failed is in the events (the failing step's message and log tail) and the summary's
// status. The map holds each service's integration stage, by name: services the run never
// reached are skipped (or interrupted).
func Integrate(ctx context.Context, eng engine.Integrator, req engine.IntegrationRequest, bus *Bus) (*IntegrationSummary, map[string]StageSummary) {
	started := map[string]Event{}
	results := map[string]StageSummary{}
	shadow := func(svc string) bool {
		if req.Config == nil {
			return false
		}
		s := req.Config.Service(svc)
		return s != nil && s.Shadow
	}
	finish := func(svc, stage string, status Status, msg, log string, tail []string, code *int) {
		s, ok := started[svc+"/"+stage]
		if !ok {
			return
		}
		delete(started, svc+"/"+stage)
		ev := Event{Type: EventStageFinish, Service: svc, Stage: stage, Status: status, Message: msg, Log: log, Tail: tail, ExitCode: code,
			Shadow: shadow(svc)}
		ev.Time = time.Now()
		ev.Duration = seconds(ev.Time.Sub(s.Time))
		bus.Emit(ev)
		if stage == IntegrationStage {
			results[svc] = StageSummary{Name: stage, Status: status, Duration: ev.Duration, Log: log}
		}
	}
	start := func(svc, stage, log string) {
		if _, ok := started[svc+"/"+stage]; ok {
			return
		}
		ev := Event{Type: EventStageStart, Time: time.Now(), Service: svc, Stage: stage, Status: StatusRunning, Log: log, Shadow: shadow(svc)}
		started[svc+"/"+stage] = ev
		bus.Emit(ev)
	}
	req.Events = func(e model.Event) {
		switch e.Kind {
		case model.EventServiceMigrate, model.EventServicePopulate, model.EventServicePrestart, model.EventServiceStart:
			start(e.Service, IntegrationStage, e.LogPath)
		case model.EventServiceHealthy:
			finish(e.Service, IntegrationStage, StatusPassed, e.URL, e.LogPath, nil, nil)
		case model.EventServiceFailed:
			start(e.Service, IntegrationStage, e.LogPath)
			msg := e.Message
			if e.Err != nil {
				msg = e.Err.Error()
			}
			var tail []string
			var code *int
			var se *model.ServiceError
			if errors.As(e.Err, &se) {
				// The error's text ends with the log's tail; the report prints the tail itself.
				tail = se.LogTail
				msg, _, _ = strings.Cut(msg, "\n")
				if se.ExitCode >= 0 {
					code = &se.ExitCode
				}
			}
			finish(e.Service, IntegrationStage, StatusFailed, msg, e.LogPath, tail, code)
		case model.EventBackingReady:
			bus.Emit(Event{Type: EventNotice, Service: IntegrationService, Message: e.Backing + " ready (" + e.URL + ")"})
		case model.EventProcessReady:
			bus.Emit(Event{Type: EventNotice, Service: e.Service, Message: fmt.Sprintf("%s ready (pid %d) after %s", e.Service, e.PID, e.Duration.Round(time.Millisecond))})
		case model.EventPostgresReady:
			bus.Emit(Event{Type: EventNotice, Service: IntegrationService, Message: "postgres ready (" + model.Redact(e.URL) + ")"})
		case model.EventLeftoverRemoved:
			bus.Emit(Event{Type: EventNotice, Service: IntegrationService, Message: e.Message})
		case model.EventServicePortMoved:
			bus.Emit(Event{Type: EventNotice, Service: e.Service, Message: e.Message})
		case model.EventSuiteStarted:
			start(IntegrationService, "suite", e.LogPath)
		case model.EventTestResult:
			if t := e.Test; t != nil {
				bus.Emit(Event{Type: EventTest, Service: IntegrationService, Stage: t.Name, Status: testStatus(t.Status),
					Duration: t.Duration.Seconds(), Message: t.Message})
			}
		}
	}
	rep, err := eng.Integrate(ctx, req)
	sum := &IntegrationSummary{Status: StatusPassed, From: req.From}
	if rep != nil {
		s := rep.Suite
		sum.Passed, sum.Failed, sum.Skipped, sum.Errors, sum.Log = s.Passed, s.Failed, s.Skipped, s.Errors, s.LogPath
	}
	switch {
	case err == nil:
	case errors.Is(context.Cause(ctx), errGatesFailed):
		sum.Status = StatusCancelled
	case errors.Is(err, model.ErrInterrupted) || ctx.Err() != nil:
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
		suiteTail = model.LogTail(sum.Log, TailLines)
	}
	var suiteCode *int
	if rep != nil && rep.Suite.Ran && rep.Suite.ExitCode >= 0 {
		suiteCode = &rep.Suite.ExitCode
	}
	finish(IntegrationService, "suite", sum.Status, msg, sum.Log, suiteTail, suiteCode)
	// A service still starting when everything stopped was stopped because another service
	// failed (cancelled) or the run was interrupted.
	for _, ev := range started {
		status, why := sum.Status, msg
		if status == StatusFailed {
			status, why = StatusCancelled, "stopped: another service failed to start"
		}
		finish(ev.Service, ev.Stage, status, why, ev.Log, nil, nil)
	}
	if err != nil && (rep == nil || !rep.Suite.Ran) {
		// Nothing reached the suite: say why once, even if no stage was open.
		bus.Emit(Event{Type: EventNotice, Service: IntegrationService, Message: "integration: " + msg})
	}
	for _, svc := range req.Services {
		if _, ok := results[svc.Name]; !ok {
			status := StatusSkipped
			if sum.Status == StatusInterrupted {
				status = StatusInterrupted
			}
			results[svc.Name] = StageSummary{Name: IntegrationStage, Status: status}
		}
	}
	return sum, results
}

func testStatus(s model.TestStatus) Status {
	switch s {
	case model.TestPassed:
		return StatusPassed
	case model.TestSkipped:
		return StatusSkipped
	}
	return StatusFailed
}
