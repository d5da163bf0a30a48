package pipeline

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"
)

// startOrder schedules tasks under one job and returns the order they ran in. Under Jobs: 1
// only one task runs at a time, so the order is the scheduler's choice, not a race.
func startOrder(t *testing.T, order Order, tasks []Task) []string {
	t.Helper()
	var got []string
	for i := range tasks {
		id := tasks[i].ID
		tasks[i].Run = func(context.Context) error { got = append(got, id); return nil }
	}
	if _, err := Schedule(context.Background(), tasks, ScheduleOptions{Jobs: 1, Order: order}); err != nil {
		t.Fatal(err)
	}
	return got
}

// gate is one service's gate graph: deps → unit and lint → populate, with these costs.
func gate(svc string, deps, unit, lint, populate time.Duration) []Task {
	return []Task{
		{ID: svc + "/deps", Group: svc, Cost: deps},
		{ID: svc + "/unit", Group: svc, Cost: unit, Needs: []string{svc + "/deps"}},
		{ID: svc + "/lint", Group: svc, Cost: lint, Needs: []string{svc + "/deps"}},
		{ID: svc + "/populate", Group: svc, Cost: populate, Needs: []string{svc + "/unit", svc + "/lint"}},
	}
}

func services(shapes ...[]Task) []Task { return slices.Concat(shapes...) }

func TestPriorityDepthFirst(t *testing.T) {
	s := time.Second
	// Equal shapes: a started service is finished before the next one's deps runs.
	got := startOrder(t, OrderPriority, services(gate("a", s, s, s, s), gate("b", s, s, s, s), gate("c", s, s, s, s)))
	want := []string{"a/deps", "a/unit", "a/lint", "a/populate", "b/deps", "b/unit", "b/lint", "b/populate",
		"c/deps", "c/unit", "c/lint", "c/populate"}
	if !slices.Equal(got, want) {
		t.Errorf("start order\n got %v\nwant %v", got, want)
	}
}

func TestPriorityDepthFirstBeatsLongerChain(t *testing.T) {
	s := time.Second
	// a heads the longest chain (12 s) and starts first; then b's deps heads a longer chain
	// (10 s) than a's unit or lint (2 s), but a has started: a is finished first.
	got := startOrder(t, OrderPriority, services(gate("a", 10*s, s, s, s), gate("b", s, s, s, 8*s)))
	want := []string{"a/deps", "a/unit", "a/lint", "a/populate", "b/deps", "b/unit", "b/lint", "b/populate"}
	if !slices.Equal(got, want) {
		t.Errorf("start order\n got %v\nwant %v", got, want)
	}
}

func TestPriorityLongestChain(t *testing.T) {
	s := time.Second
	// Among services not started, the longest remaining chain starts first; within a service,
	// the ready task on the longer chain goes first (lint before unit when lint is longer).
	got := startOrder(t, OrderPriority, services(
		gate("short", s, s, s, s), gate("long", s, s, 9*s, s), gate("mid", s, 4*s, s, s)))
	var firsts []string
	for _, id := range got {
		if strings.HasSuffix(id, "/deps") {
			firsts = append(firsts, id)
		}
	}
	if want := []string{"long/deps", "mid/deps", "short/deps"}; !slices.Equal(firsts, want) {
		t.Errorf("services started in order %v, want %v", firsts, want)
	}
	if got[1] != "long/lint" || got[2] != "long/unit" {
		t.Errorf("after long/deps ran %v, want long/lint then long/unit", got[1:3])
	}
}

func TestPriorityTiesAreDeterministic(t *testing.T) {
	// No costs, no groups: slice order decides, the same way every time.
	tasks := func() []Task {
		return []Task{{ID: "c"}, {ID: "a"}, {ID: "b"}, {ID: "d", Needs: []string{"a"}}}
	}
	first := startOrder(t, OrderPriority, tasks())
	for range 20 {
		if got := startOrder(t, OrderPriority, tasks()); !slices.Equal(got, first) {
			t.Fatalf("order changed between runs: %v then %v", first, got)
		}
	}
	// Equal chains, one (empty) group: slice order decides, even against a task ready earlier.
	if want := []string{"c", "a", "b", "d"}; !slices.Equal(first, want) {
		t.Errorf("start order %v, want %v", first, want)
	}
}

func TestFIFOOrder(t *testing.T) {
	s := time.Second
	// The baseline: every deps first (they were ready first), whatever the costs.
	got := startOrder(t, OrderFIFO, services(gate("a", s, s, s, s), gate("b", s, s, s, 20*s)))
	want := []string{"a/deps", "b/deps", "a/unit", "a/lint", "b/unit", "b/lint", "a/populate", "b/populate"}
	if !slices.Equal(got, want) {
		t.Errorf("start order\n got %v\nwant %v", got, want)
	}
}

func TestScheduleRejectsCycles(t *testing.T) {
	run := func(context.Context) error { return nil }
	tasks := []Task{{ID: "a", Needs: []string{"b"}, Run: run}, {ID: "b", Needs: []string{"a"}, Run: run}}
	if _, err := Schedule(context.Background(), tasks, ScheduleOptions{}); err == nil || !strings.Contains(err.Error(), "cycle") {
		t.Errorf("Schedule error = %v, want a cycle", err)
	}
}
