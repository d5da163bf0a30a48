package dagger

import (
	"os"
	"path/filepath"
	"testing"
	"time"
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

// TestPruneRetries: the records no run used for keep-for go (a dry run only lists them), with
// any leftover of a record being written; a record a run used lately stays, however old its
// failure — reading it is a use. No record directory: nothing to prune.
func TestPruneRetries(t *testing.T) {
	state := t.TempDir()
	if recs, err := PruneRetries(state, time.Hour, false); err != nil || len(recs) != 0 {
		t.Fatalf("no records: %v, %v", recs, err)
	}
	r := &retries{dir: retryDir(state)}
	for _, key := range []string{"fresh-0", "stale-0", "used-0"} {
		if err := r.failed(key); err != nil {
			t.Fatal(err)
		}
	}
	leftover := filepath.Join(r.dir, ".tmp-123")
	if err := os.WriteFile(leftover, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	old := time.Now().Add(-30 * 24 * time.Hour)
	for _, p := range []string{filepath.Join(r.dir, "stale-0"), filepath.Join(r.dir, "used-0"), leftover} {
		if err := os.Chtimes(p, old, old); err != nil {
			t.Fatal(err)
		}
	}
	again := &retries{dir: retryDir(state)} // the next run
	used := again.value("used-0")
	stale := again.value("stale-0")
	if err := os.Chtimes(filepath.Join(r.dir, "stale-0"), old, old); err != nil { // not used since
		t.Fatal(err)
	}

	want := map[string]bool{filepath.Join(r.dir, "stale-0"): true, leftover: true}
	for _, dry := range []bool{true, false} {
		recs, err := PruneRetries(state, 7*24*time.Hour, dry)
		if err != nil {
			t.Fatal(err)
		}
		got := map[string]bool{}
		for _, rec := range recs {
			got[rec.Path] = true
			if rec.Size == 0 || !rec.LastUsed.Equal(old) {
				t.Errorf("record %+v: want its size and last use", rec)
			}
		}
		same(t, "pruned", got, want)
	}
	next := &retries{dir: retryDir(state)}
	if v := next.value("stale-0"); v != "" || stale == "" {
		t.Errorf("pruned record still read: %q (was %q)", v, stale)
	}
	if v := next.value("used-0"); v != used || v == "" {
		t.Errorf("used record = %q, want %q kept", v, used)
	}
	if v := next.value("fresh-0"); v == "" {
		t.Error("a fresh record was pruned")
	}
	if _, err := os.Stat(leftover); !os.IsNotExist(err) {
		t.Errorf("leftover still there: %v", err)
	}
}
