// Package pipeline turns a validated services.yaml into a graph of (service × stage) tasks,
// runs it on an engine under a concurrency limit, and reports what happened as events.
package pipeline

import (
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/convoy-ci/convoy/engine"
	"github.com/convoy-ci/convoy/pipeline/affected"
	"github.com/convoy-ci/convoy/pipeline/config"
	"github.com/convoy-ci/convoy/stages"
)

// Plan is what a run will do: the services selected, their stages, and the edges between them.
type Plan struct {
	Engine   string        `json:"engine"`
	Jobs     int           `json:"jobs"`
	FailFast bool          `json:"fail_fast"`
	Services []PlanService `json:"services"`
	// Edges are "service/stage" pairs: From must pass before To runs.
	Edges []Edge `json:"edges"`
	// Integration, when set, runs once every service passed.
	Integration *PlanIntegration `json:"integration,omitempty"`
	// NoIntegration, when the manifest has no integration stage, is why: the refusal convoy run
	// and convoy integration give it (FILE:LINE:COL: …).
	NoIntegration string `json:"no_integration,omitempty"`
	// Since, with --since REF, is what the change since REF selects and why, every service of
	// the manifest included.
	Since *affected.Selection `json:"since,omitempty"`

	stages   map[string][]stages.Stage
	config   *config.Config
	order    Order
	history  *History
	expected map[string]time.Duration // by task ID
}

// PlanService is one service of a plan.
type PlanService struct {
	Name      string   `json:"name"`
	Path      string   `json:"path"`
	Deps      string   `json:"deps"`
	DependsOn []string `json:"depends_on,omitempty"`
	// Shadow is set on a shadow service (config.Service.Shadow).
	Shadow bool        `json:"shadow,omitempty"`
	Stages []PlanStage `json:"stages"`
}

// PlanStage is one stage of a planned service.
type PlanStage struct {
	Name     string     `json:"name"`
	Commands [][]string `json:"commands,omitempty"`
	Needs    []string   `json:"needs,omitempty"`
	Timeout  string     `json:"timeout"`
	Offline  bool       `json:"offline,omitempty"`
	// Expected is the stage's expected duration in seconds: the average of its recorded
	// passed runs, else the stage's default. The scheduler prefers long chains of them.
	Expected float64 `json:"expected_seconds"`
}

// PlanIntegration is the integration stage of a plan.
type PlanIntegration struct {
	Command      []string `json:"command"`
	Requirements string   `json:"requirements,omitempty"`
	// Postgres is set when an existing server is configured (else a throwaway cluster).
	Postgres bool   `json:"existing_postgres"`
	Timeout  string `json:"timeout"`
	// From says what the services start from (engine.FromImage or engine.FromVenv).
	From engine.From `json:"from"`
}

// Edge says From must pass before To runs.
type Edge struct {
	From string `json:"from"`
	To   string `json:"to"`
}

// PlanOptions select and bound a plan.
type PlanOptions struct {
	// Engine is the engine's name, for reports.
	Engine string
	// Jobs bounds running stages.
	Jobs int
	// FailFast cancels everything at the first failure.
	FailFast bool
	// Only restricts the plan to these services (all when empty).
	Only []string
	// Stages builds a service's stages (default stages.ForService).
	Stages func(*config.Service) []stages.Stage
	// History gives stages' expected durations (each stage's Expected default when nil or
	// when it has no record); a Job records the run's durations in it.
	History *History
	// Order is how the scheduler picks among ready stages (default OrderPriority).
	Order Order
	// Since, when set, restricts the plan further to the services it selects (--since REF):
	// with Only, to the services both name.
	Since *affected.Selection
}

// UsageError is a mistake in how convoy was called or set up (exit code 2, nothing runs): a
// flag, the manifest, a missing tool. Failures of the world (a registry outage, an engine that
// broke mid-run, a disk error) are not usage errors and must not be wrapped in one.
type UsageError struct {
	// Msg says what is wrong and what was expected.
	Msg string
	// Err is the error that showed it, if any; errors.Is and errors.As see it through Unwrap.
	Err error
}

// Error returns Msg, followed by Err when both are set.
func (e *UsageError) Error() string {
	switch {
	case e.Err == nil:
		return e.Msg
	case e.Msg == "":
		return e.Err.Error()
	}
	return e.Msg + ": " + e.Err.Error()
}

// Unwrap returns Err.
func (e *UsageError) Unwrap() error { return e.Err }

// NewPlan builds the plan of cfg's services.
func NewPlan(cfg *config.Config, opts PlanOptions) (*Plan, error) {
	if opts.Stages == nil {
		opts.Stages = stages.ForService
	}
	selected, err := selectServices(cfg, opts.Only)
	if err != nil {
		return nil, err
	}
	if opts.Since != nil {
		selected = slices.DeleteFunc(slices.Clone(selected), func(s *config.Service) bool {
			return !slices.Contains(opts.Since.Names(), s.Name)
		})
	}
	if opts.History == nil {
		opts.History = &History{}
	}
	p := &Plan{Engine: opts.Engine, Jobs: opts.Jobs, FailFast: opts.FailFast, Since: opts.Since,
		stages: map[string][]stages.Stage{}, config: cfg, order: opts.Order, history: opts.History,
		expected: map[string]time.Duration{}}
	for _, svc := range selected {
		sts := opts.Stages(svc)
		p.stages[svc.Name] = sts
		ps := PlanService{Name: svc.Name, Path: svc.Path, Deps: svc.Deps, DependsOn: svc.DependsOn, Shadow: svc.Shadow}
		for _, st := range sts {
			exp := opts.History.Expected(svc.Name, st.Name, st.Expected)
			p.expected[taskID(svc.Name, st.Name)] = exp
			ps.Stages = append(ps.Stages, PlanStage{Name: st.Name, Commands: st.Commands, Needs: st.Needs,
				Timeout: st.Timeout.String(), Offline: st.Offline, Expected: seconds(exp)})
			for _, n := range st.Needs {
				p.Edges = append(p.Edges, Edge{From: svc.Name + "/" + n, To: svc.Name + "/" + st.Name})
			}
		}
		p.Services = append(p.Services, ps)
	}
	return p, nil
}

func selectServices(cfg *config.Config, only []string) ([]*config.Service, error) {
	if len(only) == 0 {
		return cfg.Services, nil
	}
	want := map[string]bool{}
	var unknown []string
	for _, name := range only {
		if cfg.Service(name) == nil {
			unknown = append(unknown, name)
		}
		want[name] = true
	}
	if len(unknown) > 0 {
		names := make([]string, len(cfg.Services))
		for i, s := range cfg.Services {
			names[i] = s.Name
		}
		return nil, &UsageError{Msg: fmt.Sprintf("--only names unknown service(s) %s (expected some of: %s)",
			strings.Join(unknown, ", "), strings.Join(names, ", "))}
	}
	var out []*config.Service
	for _, s := range cfg.Services {
		if want[s.Name] {
			out = append(out, s)
		}
	}
	return out, nil
}

// StageNames lists every stage name of the plan, in first-seen order.
func (p *Plan) StageNames() []string {
	seen := map[string]bool{}
	var out []string
	for _, s := range p.Services {
		for _, st := range s.Stages {
			if !seen[st.Name] {
				seen[st.Name] = true
				out = append(out, st.Name)
			}
		}
	}
	return out
}

// Text renders the plan for people.
func (p *Plan) Text() string {
	var b strings.Builder
	if sel := p.Since; sel != nil {
		fmt.Fprintf(&b, "since %s (%.12s): %d paths changed; %d of %d services selected\n", sel.Since, sel.Commit,
			sel.Changed, len(sel.Names()), len(sel.Services))
		for _, r := range sel.Services {
			fmt.Fprintf(&b, "  %s\n", r)
		}
		if sel.Suite != "" {
			fmt.Fprintf(&b, "  %s\n", sel.Suite)
		}
		b.WriteString("\n")
	}
	fmt.Fprintf(&b, "engine %s, %d jobs, %d services\n", p.Engine, p.Jobs, len(p.Services))
	for _, s := range p.Services {
		shadow := ""
		if s.Shadow {
			shadow = ", shadow: its failures never fail the run"
		}
		fmt.Fprintf(&b, "\n%s (%s, deps %s%s)", s.Name, s.Path, s.Deps, shadow)
		if len(s.DependsOn) > 0 {
			deps := append([]string(nil), s.DependsOn...)
			sort.Strings(deps)
			fmt.Fprintf(&b, ", depends on %s", strings.Join(deps, ", "))
		}
		b.WriteString("\n")
		for _, st := range s.Stages {
			needs := ""
			if len(st.Needs) > 0 {
				needs = ", after " + strings.Join(st.Needs, " and ")
			}
			offline := ""
			if st.Offline {
				offline = ", offline"
			}
			var cmds []string
			for _, c := range st.Commands {
				cmds = append(cmds, strings.Join(c, " "))
			}
			if len(cmds) == 0 {
				cmds = []string{"(" + st.Name + " built by the engine)"}
			}
			fmt.Fprintf(&b, "  %-9s %s  (timeout %s%s%s)\n", st.Name, strings.Join(cmds, " && "), st.Timeout, offline, needs)
		}
	}
	if in := p.Integration; in != nil {
		pg := "a throwaway PostgreSQL cluster"
		if in.Postgres {
			pg = "the configured PostgreSQL server"
		}
		from := "every service started from its image in a container runtime"
		if in.From == engine.FromVenv {
			from = "every service started from its gated virtualenv (the images are not proven)"
		}
		fmt.Fprintf(&b, "\nintegration (after every service passed): %s; %s on %s, one database per service  (timeout %s)\n",
			from, strings.Join(in.Command, " "), pg, in.Timeout)
	}
	if p.NoIntegration != "" {
		fmt.Fprintf(&b, "\nintegration: none; convoy run and convoy integration refuse this manifest:\n  %s\n", p.NoIntegration)
	}
	return b.String()
}

func seconds(d time.Duration) float64 { return float64(d.Milliseconds()) / 1000 }

// expectIntegration is how long a service's integration (from its image to healthy) is expected
// to take when no run of it was recorded.
const expectIntegration = 5 * time.Second

// integrationTails is, for each service of the plan, how long integration goes on after its
// image when integration overlaps the run: its own integration stage, then the longest tail
// of the services that depend on it, which start once it is healthy. Integration stages are
// expected to take what the history says, else expectIntegration. The suite follows every
// service alike, so it is left out. The scheduler counts a tail in the chain of the service's
// image stage (Task.Tail): a service others wait for gets its image first.
func (p *Plan) integrationTails() map[string]time.Duration {
	dependents := map[string][]string{}
	for _, s := range p.Services {
		for _, d := range s.DependsOn {
			dependents[d] = append(dependents[d], s.Name)
		}
	}
	tails := map[string]time.Duration{}
	var tail func(name string, depth int) time.Duration
	tail = func(name string, depth int) time.Duration {
		if t, ok := tails[name]; ok || depth > len(p.Services) { // depends_on has no cycle (config checks)
			return t
		}
		var after time.Duration
		for _, d := range dependents[name] {
			after = max(after, tail(d, depth+1))
		}
		tails[name] = p.history.Expected(name, IntegrationStage, expectIntegration) + after
		return tails[name]
	}
	for _, s := range p.Services {
		tail(s.Name, 0)
	}
	return tails
}

// buildsImages says whether every service of the plan ends with an image stage.
func (p *Plan) buildsImages() bool {
	for _, s := range p.Services {
		sts := p.stages[s.Name]
		if len(sts) == 0 || sts[len(sts)-1].Kind != stages.KindImage {
			return false
		}
	}
	return len(p.Services) > 0
}
