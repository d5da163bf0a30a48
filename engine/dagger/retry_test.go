package dagger

import (
	"testing"
)

// TestRetriesAfterFailure: an exec that never failed runs with no retry value (its passing result
// stays cached); each failure gives its next attempt a new value, which Dagger has never seen, so
// the command runs again instead of the cached failure coming back; the value outlives the
// engine when it has a state directory (the next convoy run), and is kept after a pass.
func TestRetriesAfterFailure(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		name     string
		r, again *retries // again: the next engine (process) on the same record
	}{
		{"state dir", &retries{dir: dir}, &retries{dir: dir}},
		{"in memory", &retries{}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := tc.r
			if v := r.value("a-0"); v != "" {
				t.Fatalf("an exec that never failed gets %s=%q", retryEnv, v)
			}
			if err := r.failed("a-0"); err != nil {
				t.Fatal(err)
			}
			first := r.value("a-0")
			if first == "" {
				t.Fatal("a failed exec gets no retry value: the next attempt would be the cached failure")
			}
			if r.value("a-1") != "" {
				t.Error("another exec got the failed one's retry value")
			}
			next := r
			if tc.again != nil {
				next = tc.again
			}
			if v := next.value("a-0"); v != first {
				t.Errorf("the next attempt gets %q, want %q (recorded)", v, first)
			}
			if err := next.failed("a-0"); err != nil {
				t.Fatal(err)
			}
			if v := next.value("a-0"); v == first || v == "" {
				t.Errorf("after a second failure the value is %q (first %q): the second failure would be cached", v, first)
			}
		})
	}
}
