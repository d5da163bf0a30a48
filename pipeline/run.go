package pipeline

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/convoy-ci/convoy/engine"
	"github.com/convoy-ci/convoy/integration/model"
	"github.com/convoy-ci/convoy/pipeline/config"
	"github.com/convoy-ci/convoy/stages"
)

// TailLines is how many lines of a failed stage's log reports show.
const TailLines = 20

// Runner runs a plan's stages on an engine and reports them on a bus.
type Runner struct {
	// Plan is what to run.
	Plan *Plan
	// Engine carries the stages out.
	Engine engine.Engine
	// Bus receives every event.
	Bus *Bus
	// LogDir is where <service>/<stage>.log files go (usually .convoy/logs).
	LogDir string
	// Cache, when set, is asked before anything runs whether a service's image already
	// exists; a service found there runs no stage and is reported cached.
	Cache Cache

	mu      sync.Mutex
	results map[string]StageSummary
	images  *imageBoard // when set, told of each image as soon as it is built
}

// Cache finds a service's image built earlier from the same inputs.
type Cache interface {
	// Cached returns the image (repo@sha256:…) and digest of svc built from its current
	// inputs, if there is one.
	Cached(ctx context.Context, svc *config.Service) (image, digest string, ok bool, err error)
}

// Result is the outcome of Runner.Run.
type Result struct {
	// Services holds each service's summary line, in plan order.
	Services []ServiceSummary
}

// Passed reports whether every service that is not a shadow passed (or was cached).
func (r *Result) Passed() bool {
	for _, s := range r.Services {
		if !s.Shadow && !s.ok() {
			return false
		}
	}
	return true
}

// ok reports whether the service passed or was cached.
func (s ServiceSummary) ok() bool { return s.Status == StatusPassed || s.Status == StatusCached }

// shadowFailed names the shadow services that did not pass.
func shadowFailed(services []ServiceSummary) []string {
	var out []string
	for _, s := range services {
		if s.Shadow && !s.ok() {
			out = append(out, s.Name)
		}
	}
	return out
}

// Run runs every stage of the plan and returns each service's summary. It returns an error only
// when it could not run at all; stage failures are in the result.
func (r *Runner) Run(ctx context.Context) (*Result, error) {
	p := r.Plan
	r.results = map[string]StageSummary{}
	cached := map[string]ServiceSummary{}
	var tails map[string]time.Duration // integration after each image, when it overlaps the run
	if r.images != nil {
		tails = p.integrationTails()
	}
	var tasks []Task
	for _, ps := range p.Services {
		svc := p.config.Service(ps.Name)
		if r.Cache != nil {
			img, digest, ok, err := r.Cache.Cached(ctx, svc)
			if err != nil {
				// A registry or disk failure, not a mistake in how convoy was called.
				return nil, fmt.Errorf("looking for a cached image of %q: %w", svc.Name, err)
			}
			if ok {
				cached[svc.Name] = r.cachedService(ps, img, digest)
				r.images.settle(svc.Name, img, nil)
				continue
			}
		}
		for _, st := range p.stages[ps.Name] {
			var needs []string
			for _, n := range st.Needs {
				needs = append(needs, taskID(svc.Name, n))
			}
			var tail time.Duration
			if st.Kind == stages.KindImage {
				tail = tails[svc.Name]
			}
			tasks = append(tasks, Task{
				ID: taskID(svc.Name, st.Name), Needs: needs, Tail: tail,
				Group: svc.Name, Cost: p.expected[taskID(svc.Name, st.Name)],
				Run:      func(ctx context.Context) error { return r.runStage(ctx, svc, st) },
				Classify: classify, Tolerated: svc.Shadow,
			})
		}
	}
	outcomes, err := Schedule(ctx, tasks, ScheduleOptions{
		Jobs: p.Jobs, FailFast: p.FailFast, Order: p.order,
		OnStart: func(id string, at time.Time) {
			svc, st := splitID(id)
			r.Bus.Emit(Event{Type: EventStageStart, Time: at, Service: svc, Stage: st, Status: StatusRunning,
				Log: r.logPath(svc, st), Shadow: p.config.Service(svc).Shadow})
		},
		OnFinish: func(o Outcome) { r.finished(o) },
	})
	r.images.closeAll()
	if err != nil && ctx.Err() == nil {
		return nil, err // a malformed graph; cancellation is in the outcomes
	}
	res := &Result{}
	for _, ps := range p.Services {
		if ss, ok := cached[ps.Name]; ok {
			res.Services = append(res.Services, ss)
			continue
		}
		ss := ServiceSummary{Name: ps.Name}
		for _, st := range ps.Stages {
			o := outcomes[taskID(ps.Name, st.Name)]
			r.mu.Lock()
			sum := r.results[taskID(ps.Name, st.Name)]
			r.mu.Unlock()
			sum.Name, sum.Status, sum.Duration = st.Name, o.Status, seconds(o.End.Sub(o.Start))
			ss.Stages = append(ss.Stages, sum)
			if sum.Image != "" && o.Status == StatusPassed {
				ss.Image, ss.Digest = sum.Image, sum.Digest
			}
		}
		ss.Status = serviceStatus(ss.Stages)
		res.Services = append(res.Services, ss)
	}
	for i := range res.Services {
		res.Services[i].Shadow = p.config.Service(res.Services[i].Name).Shadow
	}
	return res, nil
}

// cachedService reports every stage of a service whose image was found as cached, without
// running any.
func (r *Runner) cachedService(ps PlanService, img, digest string) ServiceSummary {
	ss := ServiceSummary{Name: ps.Name, Status: StatusCached, Image: img, Digest: digest}
	for _, st := range ps.Stages {
		ss.Stages = append(ss.Stages, StageSummary{Name: st.Name, Status: StatusCached})
		msg := "an image built from the same inputs exists"
		if st.Name == stages.Image {
			msg = img
		}
		r.Bus.Emit(Event{Type: EventStageFinish, Service: ps.Name, Stage: st.Name, Status: StatusCached, Message: msg})
	}
	return ss
}

func (r *Runner) finished(o Outcome) {
	svc, st := splitID(o.ID)
	r.mu.Lock()
	sum := r.results[o.ID]
	r.mu.Unlock()
	ev := Event{Type: EventStageFinish, Time: o.End, Service: svc, Stage: st, Status: o.Status,
		Duration: seconds(o.End.Sub(o.Start)), Message: sum.Note, Findings: sum.Findings, Tests: sum.Tests,
		Problems: sum.problems, Shadow: r.Plan.config.Service(svc).Shadow}
	if sum.Image != "" {
		ev.Message = sum.Image
	}
	if o.Status != StatusSkipped && o.Status != StatusCancelled && !(o.Status == StatusInterrupted && o.Start.Equal(o.End)) {
		ev.Log = r.logPath(svc, st)
	}
	if o.Err != nil {
		ev.Message = o.Err.Error()
		var se *engine.StageError
		if errors.As(o.Err, &se) && se.ExitCode >= 0 && se.Reason == engine.Failed {
			code := se.ExitCode
			ev.ExitCode = &code
		}
		if o.Status.Failed() && ev.Log != "" {
			ev.Tail = model.LogTail(ev.Log, TailLines)
		}
	}
	r.Bus.Emit(ev)
	switch {
	case st == stages.Image && o.Status == StatusPassed:
		r.images.settle(svc, sum.Image, nil)
	case o.Status != StatusPassed:
		r.images.settle(svc, "", fmt.Errorf("its %s stage did not pass (%s)", st, o.Status))
	}
}

// runStage runs one stage with its log file open.
func (r *Runner) runStage(ctx context.Context, svc *config.Service, st stages.Stage) error {
	path := r.logPath(svc.Name, st.Name)
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("creating log directory for %q: %w", svc.Name, err)
	}
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("creating log for %s/%s: %w", svc.Name, st.Name, err)
	}
	defer f.Close()
	var log io.Writer = f
	var out bytes.Buffer
	if st.Findings != nil || st.Counts != nil {
		log = io.MultiWriter(f, &out)
	}
	req := engine.Request{Config: r.Plan.config, Service: svc, Stage: st, Log: log}
	if st.Counts != nil {
		req.JUnit = strings.TrimSuffix(path, ".log") + ".junit.xml"
		if err := os.Remove(req.JUnit); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("removing the last run's JUnit of %s/%s: %w", svc.Name, st.Name, err)
		}
	}
	res, err := r.Engine.Run(ctx, req)
	sum := StageSummary{Note: res.Note, Log: path, Image: res.Image, Digest: res.Digest}
	if st.Findings != nil {
		err = findings(st.Findings, out.Bytes(), err, f, &sum)
	}
	if st.Counts != nil && classify(err) != StatusInterrupted {
		sum.Tests, sum.problems = testCounts(st.Counts, req.JUnit, out.Bytes(), f)
	}
	r.mu.Lock()
	r.results[taskID(svc.Name, st.Name)] = sum
	r.mu.Unlock()
	return err
}

// findings applies a stage's Findings to what it printed (out) and how it ended (err): the
// findings go to sum (its event's problems). In warn mode a stage whose command exited with the
// code that means "found something", and whose output has findings, passes: every finding is
// written to the log (paths relative to the repository root) and counted in sum. It returns the
// stage's error, nil when the findings let it pass.
func findings(fs *stages.Findings, out []byte, err error, log io.Writer, sum *StageSummary) error {
	found := fs.Parse(out)
	sum.problems = found
	if !fs.Warn {
		return err
	}
	if err != nil {
		se := engine.AsStageError(err)
		if se.Reason != engine.Failed || se.ExitCode != fs.ExitCode || len(found) == 0 {
			return err
		}
	}
	sum.Findings = len(found)
	if len(found) == 0 {
		return nil
	}
	sum.Note = fmt.Sprintf("%d findings, not failing (warn mode)", len(found))
	fmt.Fprintf(log, "convoy: %s:\n", sum.Note)
	for _, f := range found {
		fmt.Fprintln(log, f.String())
	}
	return nil
}

// testCounts reads a stage's test counts: from the JUnit XML its runner wrote at junit, else
// from its output (Counts.Parse), else they are unavailable — never zero for want of a report.
// Where they came from, or why there are none, is noted in the log. The JUnit XML's failed tests
// are returned as findings (Counts.Failures).
func testCounts(c *stages.Counts, junit string, out []byte, log io.Writer) (*stages.TestCounts, []stages.Finding) {
	if tests, err := model.ParseJUnitFile(junit); err == nil {
		var failed []stages.Finding
		if c.Failures != nil {
			failed = c.Failures(tests)
		}
		counts := stages.TestCounts{Available: true, Source: stages.CountsJUnit}
		for _, t := range tests {
			switch t.Status {
			case model.TestFailed:
				counts.Failed++
			case model.TestError:
				counts.Errors++
			case model.TestSkipped:
				counts.Skipped++
			default:
				counts.Passed++
			}
		}
		fmt.Fprintf(log, "convoy: tests: %s (from %s)\n", counts, junit)
		return &counts, failed
	} else if !errors.Is(err, fs.ErrNotExist) {
		fmt.Fprintf(log, "convoy: %v\n", err)
	}
	if c.Parse != nil {
		if counts, ok := c.Parse(out); ok {
			fmt.Fprintf(log, "convoy: tests: %s (from the %s)\n", counts, counts.Source)
			return &counts, nil
		}
	}
	fmt.Fprintln(log, "convoy: tests: counts unavailable (the runner wrote no JUnit XML and printed no unittest summary)")
	return &stages.TestCounts{}, nil
}

func (r *Runner) logPath(svc, stage string) string {
	return filepath.Join(r.LogDir, svc, stage+".log")
}

func classify(err error) Status {
	switch engine.AsStageError(err).Reason {
	case engine.TimedOut:
		return StatusTimeout
	case engine.Interrupted:
		return StatusInterrupted
	}
	return StatusFailed
}

// serviceStatus folds a service's stage statuses into one: the first stage that did not pass
// decides it.
func serviceStatus(sts []StageSummary) Status {
	cached := len(sts) > 0
	for _, s := range sts {
		switch s.Status {
		case StatusPassed:
			cached = false
		case StatusCached:
		case StatusTimeout:
			return StatusFailed
		case StatusSkipped:
			continue
		default:
			return s.Status
		}
	}
	for _, s := range sts {
		if s.Status == StatusSkipped {
			return StatusSkipped
		}
	}
	if cached {
		return StatusCached
	}
	return StatusPassed
}

func taskID(svc, stage string) string { return svc + "/" + stage }

func splitID(id string) (svc, stage string) {
	svc, stage, _ = strings.Cut(id, "/")
	return svc, stage
}
