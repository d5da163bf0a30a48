package pipeline

import (
	"time"
)

// CriticalPath is the chain of stages, each needing the one before it, that ends with the stage
// that finished last: the stages whose durations decided how long the run took. Making any other
// stage faster would not have ended the run sooner.
type CriticalPath struct {
	Stages []PathStage `json:"stages"`
	// Duration is the sum of the stages' durations, in seconds; the run took longer by the
	// time its stages waited for a free job slot or for the database server.
	Duration float64 `json:"duration"`
}

// PathStage is one stage of a critical path.
type PathStage struct {
	Service string    `json:"service"`
	Stage   string    `json:"stage"`
	Start   time.Time `json:"start"`
	// Duration is in seconds: the stage's time after the stage before it in the path ended
	// (all of it for the first, and for a stage that started after it).
	Duration float64 `json:"duration"`
}

// Span is when one stage of a run ran, from its stage.start and stage.finish events.
type Span struct {
	Service, Stage string
	Start, End     time.Time
	Status         Status
}

// Spans collects the spans of the stages that started and finished, in the order they
// finished. Stages that never started (cached, skipped) have none.
type Spans struct {
	started map[string]time.Time
	list    []Span
}

// Emit records stage starts and finishes.
func (s *Spans) Emit(e Event) {
	id := taskID(e.Service, e.Stage)
	switch e.Type {
	case EventStageStart:
		if s.started == nil {
			s.started = map[string]time.Time{}
		}
		s.started[id] = e.Time
	case EventStageFinish:
		start, ok := s.started[id]
		if !ok {
			return
		}
		delete(s.started, id)
		s.list = append(s.list, Span{Service: e.Service, Stage: e.Stage, Start: start, End: e.Time, Status: e.Status})
	}
}

// List returns the spans in the order their stages finished.
func (s *Spans) List() []Span { return s.list }

// Open returns the stages that started and have not finished, as spans ending at end.
func (s *Spans) Open(end time.Time) []Span {
	var out []Span
	for id, start := range s.started {
		svc, st := splitID(id)
		out = append(out, Span{Service: svc, Stage: st, Start: start, End: end, Status: StatusRunning})
	}
	return out
}

// Critical returns the critical path of spans over needs (a "service/stage" ID → the IDs of the
// stages it waits for): from the span that ended last (the first of them on a tie), back through
// the need that ended last, while one of its needs has a span. It is nil without spans.
func Critical(spans []Span, needs map[string][]string) *CriticalPath {
	byID := make(map[string]Span, len(spans))
	last := ""
	for _, s := range spans {
		id := taskID(s.Service, s.Stage)
		byID[id] = s
		if last == "" || s.End.After(byID[last].End) {
			last = id
		}
	}
	if last == "" {
		return nil
	}
	var chain []Span
	for id := last; id != ""; {
		s := byID[id]
		chain = append(chain, s)
		id = ""
		for _, n := range needs[taskID(s.Service, s.Stage)] {
			if p, ok := byID[n]; ok && (id == "" || p.End.After(byID[id].End)) {
				id = n
			}
		}
	}
	cp := &CriticalPath{}
	var before time.Time // when the stage before in the path ended
	for i := len(chain) - 1; i >= 0; i-- {
		s := chain[i]
		from := s.Start
		if before.After(from) {
			from = before // it started early: a service migrating while what it depends_on starts
		}
		d := seconds(max(s.End.Sub(from), 0))
		cp.Stages = append(cp.Stages, PathStage{Service: s.Service, Stage: s.Stage, Start: s.Start, Duration: d})
		cp.Duration += d
		before = s.End
	}
	cp.Duration = seconds(time.Duration(cp.Duration * float64(time.Second)))
	return cp
}

// needs is what every stage of a job waits for: its service's stages it needs (the plan), and
// for integration each service's start its image (or, when integration follows the whole run,
// every service's last stages) and the services it depends_on, then the suite every service.
func (j *Job) needs(overlapped bool) map[string][]string {
	out := map[string][]string{}
	var ends []string // every service's stages no other stage of it needs
	lastOf := map[string][]string{}
	for _, ps := range j.Plan.Services {
		needed := map[string]bool{}
		for _, st := range ps.Stages {
			for _, n := range st.Needs {
				out[taskID(ps.Name, st.Name)] = append(out[taskID(ps.Name, st.Name)], taskID(ps.Name, n))
				needed[n] = true
			}
		}
		for _, st := range ps.Stages {
			if !needed[st.Name] {
				lastOf[ps.Name] = append(lastOf[ps.Name], taskID(ps.Name, st.Name))
			}
		}
		ends = append(ends, lastOf[ps.Name]...)
	}
	if !j.Integrate {
		return out
	}
	suite := taskID(IntegrationService, "suite")
	for _, ps := range j.Plan.Services {
		id := taskID(ps.Name, IntegrationStage)
		if overlapped {
			out[id] = append(out[id], lastOf[ps.Name]...)
		} else {
			out[id] = append(out[id], ends...)
		}
		for _, d := range ps.DependsOn {
			out[id] = append(out[id], taskID(d, IntegrationStage))
		}
		out[suite] = append(out[suite], id)
	}
	return out
}
