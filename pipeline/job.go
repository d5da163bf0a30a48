package pipeline

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"time"

	"github.com/convoy-ci/convoy/engine"
	"github.com/convoy-ci/convoy/pipeline/config"
)

// Job is one pipeline command over a plan: every stage of every service on an engine, then,
// when asked and everything passed, the integration stage. It reports everything on its bus,
// ending with the summary event.
type Job struct {
	// Name is the command, for the run.start event ("run", "build", …).
	Name string
	// Plan is what to run.
	Plan *Plan
	// Engine carries the stages out; it must be an engine.Integrator when Integrate is set.
	Engine engine.Engine
	// Bus receives every event.
	Bus *Bus
	// StateDir is the repository's .convoy directory (the stage history is kept there).
	StateDir string
	// LogDir is where the run's logs go (default StateDir/logs); RunDir.Logs gives each run
	// its own.
	LogDir string
	// RunID names the run (RunDir.ID): its integration databases and containers carry it
	// ("" = a new one).
	RunID string
	// Cache, when set, lets services whose image exists skip every stage.
	Cache Cache
	// Integrate runs the integration stage after the plan passed.
	Integrate bool
	// Postgres is the server for integration ("" = a throwaway cluster).
	Postgres string
	// From says what integration starts the services from (engine.FromImage when empty).
	From engine.From
	// Runtime names the container runtime images run in, for the summary.
	Runtime string
	// AfterImages starts integration only once every image is built, as before it overlapped
	// them: the benchmarks' baseline (CONVOY_OVERLAP=off).
	AfterImages bool
	// Notices are emitted right after the run starts: problems met while planning that do
	// not stop the run (an unreadable stage history).
	Notices []string

	bus   *Bus  // Bus, after spans
	spans Spans // every stage's start and finish, for the critical path
}

// Run runs the job and returns its summary, which has also been emitted. The error is set only
// when the job could not run (a usage problem); failures are in the summary.
func (j *Job) Run(ctx context.Context) (*Summary, error) {
	start := time.Now()
	j.spans = Spans{}
	j.bus = NewBus(&j.spans)
	if j.Bus != nil {
		j.bus = NewBus(&j.spans, j.Bus)
	}
	names := make([]string, len(j.Plan.Services))
	for i, s := range j.Plan.Services {
		names[i] = s.Name
	}
	j.bus.Emit(Event{Type: EventRunStart, Time: start, Run: &RunInfo{
		Command: j.Name, Engine: j.Engine.Name(), Jobs: j.Plan.Jobs, Services: names, Stages: j.Plan.StageNames()}})
	for _, n := range j.Notices {
		j.bus.Emit(Event{Type: EventNotice, Message: n})
	}
	runner := &Runner{Plan: j.Plan, Engine: j.Engine, Bus: j.bus, LogDir: j.logDir(), Cache: j.Cache}
	var in engine.Integrator
	if j.Integrate {
		var ok bool
		if in, ok = j.Engine.(engine.Integrator); !ok {
			return nil, &UsageError{Msg: fmt.Sprintf("the %s engine cannot run the integration stage", j.Engine.Name())}
		}
	}
	res, integ, err := j.runPhases(ctx, runner, in)
	if err != nil {
		return nil, err
	}
	sum := &Summary{Status: StatusPassed, Services: res.Services}
	if integ != nil {
		sum.Integration = integ.summary
		addIntegrationStages(sum.Services, integ.stages)
	}
	j.recordDurations(sum.Services) // the integration stages too: the scheduler's tails
	sum.ShadowFailed = shadowFailed(sum.Services)
	sum.Duration = time.Since(start).Seconds()
	sum.CriticalPath = Critical(j.spans.List(), j.needs(j.overlaps(in)))
	switch {
	case ctx.Err() != nil:
		sum.Status = StatusInterrupted
	case !res.Passed() || (sum.Integration != nil && sum.Integration.Status != StatusPassed):
		sum.Status = StatusFailed
	}
	j.bus.Emit(Event{Type: EventSummary, Summary: sum})
	return sum, nil
}

// errGatesFailed cancels an integration that overlapped the gates when a service failed them.
var errGatesFailed = errors.New("a service did not pass its gates")

// integrationResult is what the integration phase reports.
type integrationResult struct {
	summary *IntegrationSummary
	stages  map[string]StageSummary
}

// runPhases runs the plan and, with in set, the integration stage: after every service passed
// when integration starts the services from their virtualenvs; overlapping the gates and images
// when it starts them from their images — the database server starts at once and each service
// as soon as its image is built. Integration that overlapped a run in which a service failed is
// cancelled and not reported (nil): the run failed before it could pass.
func (j *Job) runPhases(ctx context.Context, runner *Runner, in engine.Integrator) (*Result, *integrationResult, error) {
	if !j.overlaps(in) {
		res, err := runner.Run(ctx)
		if err != nil || in == nil || !res.Passed() || ctx.Err() != nil {
			return res, nil, err
		}
		imgs := map[string]string{}
		for _, s := range res.Services {
			imgs[s.Name] = s.Image
		}
		image := func(_ context.Context, svc string) (string, error) { return imgs[svc], nil }
		// A shadow service that failed its gates has nothing to start: it is left out (its
		// integration stage skipped), on every engine.
		return res, j.integrate(ctx, in, image, shadowFailed(res.Services)...), nil
	}
	runner.images = newImageBoard(j.Plan.Services)
	ictx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	done := make(chan *integrationResult, 1)
	go func() { done <- j.integrate(ictx, in, runner.images.Image) }()
	res, err := runner.Run(ctx)
	if err != nil || !res.Passed() {
		cancel(errGatesFailed)
		<-done
		return res, nil, err
	}
	return res, <-done, nil
}

// overlaps says whether integration (on in, nil for none) overlaps the gates and images: when it
// starts the services from the images the run builds.
func (j *Job) overlaps(in engine.Integrator) bool {
	return in != nil && !j.AfterImages && j.from() == engine.FromImage && j.Plan.buildsImages()
}

// logDir is where the run's logs go.
func (j *Job) logDir() string {
	if j.LogDir != "" {
		return j.LogDir
	}
	return filepath.Join(j.StateDir, "logs")
}

// from is what integration starts the services from.
func (j *Job) from() engine.From {
	if j.From == "" {
		return engine.FromImage
	}
	return j.From
}

// integrate runs the integration stage over the plan's services but those named in without,
// their images from image.
func (j *Job) integrate(ctx context.Context, in engine.Integrator, image func(context.Context, string) (string, error), without ...string) *integrationResult {
	from := j.from()
	services := slices.DeleteFunc(j.startOrder(), func(s *config.Service) bool { return slices.Contains(without, s.Name) })
	sum, stages := Integrate(ctx, in, engine.IntegrationRequest{Config: j.Plan.config, Services: services,
		Postgres: j.Postgres, LogDir: filepath.Join(j.logDir(), "integration"), From: from, Image: image, RunID: j.RunID,
		Jobs: j.Plan.Jobs}, j.bus)
	if from == engine.FromImage {
		sum.Runtime = j.Runtime
		// A shadow service that did not come up leaves its image unproven.
		sum.ImagesProven = sum.Status == StatusPassed && len(services) == len(j.Plan.Services) &&
			!slices.ContainsFunc(services, func(s *config.Service) bool { return stages[s.Name].Status == StatusFailed })
	}
	return &integrationResult{summary: sum, stages: stages}
}

// addIntegrationStages adds each service's integration stage to its summary line: a service
// that failed there failed (a shadow service too: the summary's ShadowFailed names it).
func addIntegrationStages(services []ServiceSummary, stages map[string]StageSummary) {
	for i := range services {
		st, ok := stages[services[i].Name]
		if !ok {
			continue
		}
		services[i].Stages = append(services[i].Stages, st)
		if st.Status == StatusFailed || st.Status == StatusInterrupted {
			services[i].Status = st.Status
		}
	}
}

// startOrder is the plan's services, dependencies first.
func (j *Job) startOrder() []*config.Service {
	selected := map[string]bool{}
	for _, s := range j.Plan.Services {
		selected[s.Name] = true
	}
	var out []*config.Service
	for _, s := range j.Plan.config.StartOrder() {
		if selected[s.Name] {
			out = append(out, s)
		}
	}
	return out
}

// recordDurations adds every stage of services that passed to the plan's history and saves it in
// StateDir; a history that cannot be saved is a notice, not a failure.
func (j *Job) recordDurations(services []ServiceSummary) {
	h := j.Plan.history
	if j.StateDir == "" {
		return
	}
	for _, s := range services {
		for _, st := range s.Stages {
			if st.Status == StatusPassed {
				h.Record(s.Name, st.Name, time.Duration(st.Duration*float64(time.Second)))
			}
		}
	}
	if err := h.Save(filepath.Join(j.StateDir, HistoryFile)); err != nil {
		j.bus.Emit(Event{Type: EventNotice, Message: err.Error()})
	}
}
