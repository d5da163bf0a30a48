package pipeline

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
)

func TestScheduleStatuses(t *testing.T) {
	boom := errors.New("boom")
	ok := func(context.Context) error { return nil }
	fail := func(context.Context) error { return boom }
	tests := []struct {
		name     string
		tasks    []Task
		failFast bool
		want     map[string]Status
	}{
		{"needs pass in order", []Task{
			{ID: "a", Run: ok}, {ID: "b", Needs: []string{"a"}, Run: ok}, {ID: "c", Needs: []string{"a", "b"}, Run: ok},
		}, false, map[string]Status{"a": StatusPassed, "b": StatusPassed, "c": StatusPassed}},
		{"failure skips dependents only", []Task{
			{ID: "a", Run: fail}, {ID: "b", Needs: []string{"a"}, Run: ok}, {ID: "c", Needs: []string{"b"}, Run: ok},
			{ID: "x", Run: ok}, {ID: "y", Needs: []string{"x"}, Run: ok},
		}, false, map[string]Status{"a": StatusFailed, "b": StatusSkipped, "c": StatusSkipped, "x": StatusPassed, "y": StatusPassed}},
		{"classify", []Task{
			{ID: "a", Run: fail, Classify: func(error) Status { return StatusTimeout }},
		}, false, map[string]Status{"a": StatusTimeout}},
		{"fail fast cancels the rest", []Task{
			{ID: "a", Run: fail},
			{ID: "slow", Run: func(ctx context.Context) error { <-ctx.Done(); return ctx.Err() },
				Classify: func(error) Status { return StatusInterrupted }},
			{ID: "after", Needs: []string{"slow"}, Run: ok},
		}, true, map[string]Status{"a": StatusFailed, "slow": StatusCancelled, "after": StatusSkipped}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var mu sync.Mutex
			var order []string
			got, err := Schedule(context.Background(), tt.tasks, ScheduleOptions{Jobs: 4, FailFast: tt.failFast,
				OnFinish: func(o Outcome) { mu.Lock(); order = append(order, o.ID); mu.Unlock() }})
			if err != nil {
				t.Fatal(err)
			}
			for id, want := range tt.want {
				if got[id].Status != want {
					t.Errorf("%s = %s (%v), want %s", id, got[id].Status, got[id].Err, want)
				}
			}
			if len(order) != len(tt.tasks) {
				t.Errorf("OnFinish called %d times for %d tasks", len(order), len(tt.tasks))
			}
		})
	}
}

func TestScheduleRejectsBadGraphs(t *testing.T) {
	run := func(context.Context) error { return nil }
	for _, tc := range []struct {
		tasks []Task
		want  string
	}{
		{[]Task{{ID: "a", Run: run}, {ID: "a", Run: run}}, `duplicate task "a"`},
		{[]Task{{ID: "a", Needs: []string{"z"}, Run: run}}, `needs unknown task "z"`},
	} {
		if _, err := Schedule(context.Background(), tc.tasks, ScheduleOptions{}); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Schedule error = %v, want %q", err, tc.want)
		}
	}
}

// TestScheduleInterrupt: cancelling the context interrupts running tasks and waiting ones alike,
// and Schedule reports the cancellation.
func TestScheduleInterrupt(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	started := make(chan struct{})
	var once sync.Once
	block := func(ctx context.Context) error { once.Do(func() { close(started) }); <-ctx.Done(); return ctx.Err() }
	interrupted := func(error) Status { return StatusInterrupted }
	// One job: whichever task gets the slot runs until cancelled; the other waits for the slot.
	tasks := []Task{
		{ID: "running", Run: block, Classify: interrupted},
		{ID: "waiting", Run: block, Classify: interrupted},
		{ID: "after", Needs: []string{"running"}, Run: func(context.Context) error { return nil }},
	}
	go func() { <-started; cancel() }()
	got, err := Schedule(ctx, tasks, ScheduleOptions{Jobs: 1})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("Schedule error = %v, want context.Canceled", err)
	}
	for id, want := range map[string]Status{"running": StatusInterrupted, "waiting": StatusInterrupted, "after": StatusSkipped} {
		if got[id].Status != want {
			t.Errorf("%s = %s, want %s", id, got[id].Status, want)
		}
	}
}
