package pipeline

import (
	"context"
	"fmt"
	"time"
)

// Task is one node of the graph the scheduler runs. The scheduler knows nothing about
// services or Python: a task is an ID, the tasks it needs, a group, an expected cost and a
// function.
type Task struct {
	// ID is unique within one Schedule call.
	ID string
	// Needs lists IDs that must pass before this task runs; if one does not, this task is
	// skipped.
	Needs []string
	// Group names the unit of work the task belongs to (a service). Once one task of a group
	// has started, the group's other ready tasks go before tasks of groups not yet started.
	// The empty group is a group like any other.
	Group string
	// Cost is the task's expected duration. The scheduler only compares costs, to find the
	// longest remaining chain; it never waits for or times out on them. Zero is allowed.
	Cost time.Duration
	// Tail is the expected duration of work outside the schedule that starts once the task is
	// done (a service's integration after its image, and the integration of the services
	// that wait for it): it counts in the task's chain, not in the work the slots share.
	Tail time.Duration
	// Run does the work. It must return when ctx is done.
	Run func(ctx context.Context) error
	// Classify maps a non-nil Run error to a Status (default StatusFailed); it lets the caller
	// tell timeouts and interruptions apart from failures.
	Classify func(error) Status
	// Tolerated marks a task whose failure does not cancel the others under FailFast (a
	// shadow service's stage).
	Tolerated bool
}

// Outcome is how a task ended.
type Outcome struct {
	ID     string
	Status Status
	Err    error
	Start  time.Time
	End    time.Time
}

// Order is how Schedule picks the next task among those ready to run.
type Order int

const (
	// OrderPriority (the default) prefers, in turn: a task of a group that has already started
	// (finish what was started, so a group's failures surface early); the longest remaining
	// chain of Costs (the critical path); the earlier task in the slice. One exception: when
	// running the started group's task first would make the longest chain of the groups not
	// started end after the work left can end at best (its longest chain, its total over the
	// slots), that chain goes first — finishing what was started costs no time otherwise, and
	// with one slot never.
	OrderPriority Order = iota
	// OrderFIFO runs ready tasks in the order they became ready, ties by slice order — what
	// convoy did before priorities; it is kept as the benchmarks' baseline.
	OrderFIFO
)

// ScheduleOptions bound and observe a Schedule call.
type ScheduleOptions struct {
	// Jobs is the most tasks running at once; values below 1 mean 1.
	Jobs int
	// FailFast cancels every running and waiting task at the first task that does not pass.
	FailFast bool
	// Order picks among ready tasks (default OrderPriority).
	Order Order
	// OnStart is called when a task starts running (after it got a slot), from one goroutine
	// at a time.
	OnStart func(id string, at time.Time)
	// OnFinish is called once for every task, including skipped and cancelled ones, from one
	// goroutine at a time.
	OnFinish func(Outcome)

	clock func() time.Time // time.Now unless a test simulates time
	idle  func()           // tests: called when the scheduler waits for a running task
}

// Schedule runs tasks respecting their Needs, never more than opts.Jobs at once, and returns
// every task's outcome. Whenever a slot is free it starts the ready task opts.Order prefers.
// A task whose needs did not all pass is skipped; independent tasks carry on (keep-going)
// unless opts.FailFast. When ctx is cancelled, running tasks see it and waiting tasks end as
// StatusInterrupted. A graph with duplicate IDs, unknown needs or a cycle is an error and
// nothing runs.
func Schedule(ctx context.Context, tasks []Task, opts ScheduleOptions) (map[string]Outcome, error) {
	g, err := newGraph(tasks)
	if err != nil {
		return nil, err
	}
	// Failing fast cancels this context; keep-going never does, so a failure in one service
	// does not reach the others.
	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	if opts.clock == nil {
		opts.clock = time.Now
	}
	s := &scheduler{graph: g, ctx: ctx, runCtx: runCtx, cancel: cancel, opts: opts,
		outcomes: make(map[string]Outcome, len(tasks)), started: map[string]bool{},
		startAt: make([]time.Time, len(tasks)), results: make(chan Outcome)}
	s.loop()
	return s.outcomes, ctx.Err()
}

// scheduler is the state of one Schedule call; only the loop's goroutine touches it.
type scheduler struct {
	*graph
	ctx, runCtx context.Context
	cancel      context.CancelFunc
	opts        ScheduleOptions
	outcomes    map[string]Outcome
	started     map[string]bool // groups with a started task
	startAt     []time.Time     // per task: when it started (zero before)
	ready       []int           // tasks whose needs all passed, not started
	readySeq    []int           // per task: when it became ready, for OrderFIFO
	seq         int
	running     int
	results     chan Outcome
}

// loop starts ready tasks while slots are free and collects their outcomes until every task
// has one.
func (s *scheduler) loop() {
	s.readySeq = make([]int, len(s.tasks))
	for i, t := range s.tasks {
		if len(t.Needs) == 0 {
			s.makeReady(i)
		}
	}
	cancelled := s.runCtx.Done()
	for len(s.outcomes) < len(s.tasks) {
		s.dispatch()
		if len(s.outcomes) == len(s.tasks) {
			return
		}
		if s.opts.idle != nil {
			s.opts.idle()
		}
		select {
		case o := <-s.results:
			s.running--
			s.finish(o)
		case <-cancelled:
			cancelled = nil // dispatch ends the waiting tasks; running ones return by themselves
		}
	}
}

// dispatch ends every ready task when the run is cancelled; otherwise it starts the preferred
// ready tasks while slots are free.
func (s *scheduler) dispatch() {
	jobs := max(s.opts.Jobs, 1)
	for len(s.ready) > 0 {
		if err := s.runCtx.Err(); err != nil {
			i := s.ready[0]
			s.ready = s.ready[1:]
			now := time.Now()
			s.finish(Outcome{ID: s.tasks[i].ID, Status: cancelledStatus(s.ctx), Start: now, End: now, Err: err})
			continue
		}
		if s.running >= jobs {
			return
		}
		s.start(s.pick())
	}
}

// pick removes and returns the ready task the order prefers.
func (s *scheduler) pick() int {
	best := 0
	for k := 1; k < len(s.ready); k++ {
		if s.before(s.ready[k], s.ready[best]) {
			best = k
		}
	}
	if k, ok := s.overtake(s.ready[best]); ok {
		best = k
	}
	i := s.ready[best]
	s.ready = append(s.ready[:best], s.ready[best+1:]...)
	return i
}

// overtake returns the position in s.ready of the head of the longest chain among ready tasks
// of groups not started, when starting preferred (a task of a started group) before it would
// make that chain end after the bound on the work left — even at best, right after preferred
// on the same slot.
func (s *scheduler) overtake(preferred int) (int, bool) {
	if s.opts.Order != OrderPriority || !s.started[s.tasks[preferred].Group] {
		return 0, false
	}
	head := -1
	for k, i := range s.ready {
		if !s.started[s.tasks[i].Group] && (head < 0 || s.chain[i] > s.chain[s.ready[head]]) {
			head = k
		}
	}
	if head < 0 || s.tasks[preferred].Cost+s.chain[s.ready[head]] <= s.bound() {
		return 0, false
	}
	return head, true
}

// bound is how long the work left takes at least from now, by the Costs: its longest chain
// (running tasks count what their Cost leaves), and its total spread over the slots.
func (s *scheduler) bound() time.Duration {
	now := s.opts.clock()
	var work, chain time.Duration
	for i, t := range s.tasks {
		if _, done := s.outcomes[t.ID]; done {
			continue
		}
		left := t.Cost
		if at := s.startAt[i]; !at.IsZero() {
			left = max(0, t.Cost-now.Sub(at))
		}
		work += left
		chain = max(chain, s.chain[i]-t.Cost+left)
	}
	return max(chain, work/time.Duration(max(s.opts.Jobs, 1)))
}

// before reports whether ready task a goes before ready task b.
func (s *scheduler) before(a, b int) bool {
	if s.opts.Order == OrderFIFO {
		if s.readySeq[a] != s.readySeq[b] {
			return s.readySeq[a] < s.readySeq[b]
		}
		return a < b
	}
	if sa, sb := s.started[s.tasks[a].Group], s.started[s.tasks[b].Group]; sa != sb {
		return sa
	}
	if s.chain[a] != s.chain[b] {
		return s.chain[a] > s.chain[b]
	}
	return a < b
}

// start runs task i in its own goroutine; its outcome comes back on s.results.
func (s *scheduler) start(i int) {
	t := s.tasks[i]
	s.running++
	s.started[t.Group] = true
	at := time.Now()
	s.startAt[i] = s.opts.clock()
	if s.opts.OnStart != nil {
		s.opts.OnStart(t.ID, at)
	}
	go func() { s.results <- s.run(t, at) }()
}

// run runs t and classifies how it ended.
func (s *scheduler) run(t Task, start time.Time) Outcome {
	err := t.Run(s.runCtx)
	o := Outcome{ID: t.ID, Status: StatusPassed, Err: err, Start: start, End: time.Now()}
	if err != nil {
		o.Status = StatusFailed
		if t.Classify != nil {
			o.Status = t.Classify(err)
		}
		if o.Status == StatusInterrupted && s.ctx.Err() == nil {
			o.Status = StatusCancelled // stopped by --fail-fast, not by the user
		}
	}
	return o
}

// finish records o, reports it, and readies (or skips) the dependents whose needs are all
// done.
func (s *scheduler) finish(o Outcome) {
	s.outcomes[o.ID] = o
	if s.opts.OnFinish != nil {
		s.opts.OnFinish(o)
	}
	if s.opts.FailFast && o.Status.Failed() && !s.tasks[s.index[o.ID]].Tolerated {
		s.cancel()
	}
	for _, d := range s.dependents[s.index[o.ID]] {
		s.waiting[d]--
		if s.waiting[d] > 0 {
			continue
		}
		if blocked := s.blocker(d); blocked != "" {
			now := time.Now()
			s.finish(Outcome{ID: s.tasks[d].ID, Status: StatusSkipped, Start: now, End: now,
				Err: fmt.Errorf("skipped: %s did not pass", blocked)})
			continue
		}
		s.makeReady(d)
	}
}

// blocker is the first need of task i that did not pass, or "".
func (s *scheduler) blocker(i int) string {
	for _, n := range s.tasks[i].Needs {
		if st := s.outcomes[n].Status; st != StatusPassed && st != StatusCached {
			return n
		}
	}
	return ""
}

func (s *scheduler) makeReady(i int) {
	s.readySeq[i] = s.seq
	s.seq++
	s.ready = append(s.ready, i)
}

// cancelledStatus tells a task stopped by the user (ctx) from one stopped by --fail-fast.
func cancelledStatus(ctx context.Context) Status {
	if ctx.Err() != nil {
		return StatusInterrupted
	}
	return StatusCancelled
}
