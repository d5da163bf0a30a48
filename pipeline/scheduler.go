package pipeline

import (
	"context"
	"fmt"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"
	"golang.org/x/sync/semaphore"
)

// Task is one node of the graph the scheduler runs. The scheduler knows nothing about
// services or Python: a task is an ID, the tasks it needs, and a function.
type Task struct {
	// ID is unique within one Schedule call.
	ID string
	// Needs lists IDs that must pass before this task runs; if one does not, this task is
	// skipped.
	Needs []string
	// Run does the work. It must return when ctx is done.
	Run func(ctx context.Context) error
	// Classify maps a non-nil Run error to a Status (default StatusFailed); it lets the caller
	// tell timeouts and interruptions apart from failures.
	Classify func(error) Status
}

// Outcome is how a task ended.
type Outcome struct {
	ID     string
	Status Status
	Err    error
	Start  time.Time
	End    time.Time
}

// ScheduleOptions bound and observe a Schedule call.
type ScheduleOptions struct {
	// Jobs is the most tasks running at once; values below 1 mean 1.
	Jobs int
	// FailFast cancels every running and waiting task at the first task that does not pass.
	FailFast bool
	// OnStart is called when a task starts running (after it got a slot).
	OnStart func(id string, at time.Time)
	// OnFinish is called once for every task, including skipped and cancelled ones.
	OnFinish func(Outcome)
}

// Schedule runs tasks respecting their Needs, never more than opts.Jobs at once, and returns
// every task's outcome. A task whose needs did not all pass is skipped; independent tasks carry
// on (keep-going) unless opts.FailFast. When ctx is cancelled, running tasks see it and
// waiting tasks end as StatusInterrupted.
func Schedule(ctx context.Context, tasks []Task, opts ScheduleOptions) (map[string]Outcome, error) {
	jobs := opts.Jobs
	if jobs < 1 {
		jobs = 1
	}
	done := make(map[string]chan struct{}, len(tasks))
	for _, t := range tasks {
		if _, dup := done[t.ID]; dup {
			return nil, fmt.Errorf("scheduling: duplicate task %q", t.ID)
		}
		done[t.ID] = make(chan struct{})
	}
	for _, t := range tasks {
		for _, n := range t.Needs {
			if _, ok := done[n]; !ok {
				return nil, fmt.Errorf("scheduling: task %q needs unknown task %q", t.ID, n)
			}
		}
	}
	// Failing fast cancels this context; keep-going never does, so a failure in one service
	// does not reach the others.
	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	sem := semaphore.NewWeighted(int64(jobs))
	var mu sync.Mutex
	outcomes := make(map[string]Outcome, len(tasks))
	finish := func(o Outcome) {
		mu.Lock()
		outcomes[o.ID] = o
		mu.Unlock()
		if opts.OnFinish != nil {
			opts.OnFinish(o)
		}
		close(done[o.ID])
		if opts.FailFast && o.Status.Failed() {
			cancel()
		}
	}
	var g errgroup.Group
	for _, t := range tasks {
		g.Go(func() error {
			for _, n := range t.Needs {
				<-done[n]
			}
			mu.Lock()
			blocked := ""
			for _, n := range t.Needs {
				if outcomes[n].Status != StatusPassed && outcomes[n].Status != StatusCached {
					blocked = n
					break
				}
			}
			mu.Unlock()
			now := time.Now()
			if blocked != "" {
				finish(Outcome{ID: t.ID, Status: StatusSkipped, Start: now, End: now,
					Err: fmt.Errorf("skipped: %s did not pass", blocked)})
				return nil
			}
			if err := sem.Acquire(runCtx, 1); err != nil {
				finish(Outcome{ID: t.ID, Status: cancelledStatus(ctx), Start: now, End: time.Now(), Err: err})
				return nil
			}
			defer sem.Release(1)
			if runCtx.Err() != nil {
				finish(Outcome{ID: t.ID, Status: cancelledStatus(ctx), Start: now, End: now, Err: runCtx.Err()})
				return nil
			}
			start := time.Now()
			if opts.OnStart != nil {
				opts.OnStart(t.ID, start)
			}
			err := t.Run(runCtx)
			o := Outcome{ID: t.ID, Status: StatusPassed, Err: err, Start: start, End: time.Now()}
			if err != nil {
				o.Status = StatusFailed
				if t.Classify != nil {
					o.Status = t.Classify(err)
				}
				if o.Status == StatusInterrupted && ctx.Err() == nil {
					o.Status = StatusCancelled // stopped by --fail-fast, not by the user
				}
			}
			finish(o)
			return nil
		})
	}
	_ = g.Wait()
	return outcomes, ctx.Err()
}

// cancelledStatus tells a task stopped by the user (ctx) from one stopped by --fail-fast.
func cancelledStatus(ctx context.Context) Status {
	if ctx.Err() != nil {
		return StatusInterrupted
	}
	return StatusCancelled
}
