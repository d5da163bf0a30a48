package pipeline

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestHistoryRoundTrip(t *testing.T) {
	path := filepath.Join(t.TempDir(), ".convoy", HistoryFile)
	h, err := LoadHistory(path)
	if err != nil {
		t.Fatalf("missing history: %v, want no error", err)
	}
	if got := h.Expected("auth", "unit", 7*time.Second); got != 7*time.Second {
		t.Errorf("no record: Expected = %v, want the default 7s", got)
	}
	h.Record("auth", "unit", 4*time.Second)
	h.Record("auth", "unit", 2*time.Second) // average: 0.5*2 + 0.5*4
	h.Record("auth", "lint", time.Second)
	if err := h.Save(path); err != nil {
		t.Fatal(err)
	}
	again, err := LoadHistory(path)
	if err != nil {
		t.Fatal(err)
	}
	for stage, want := range map[string]time.Duration{"unit": 3 * time.Second, "lint": time.Second, "deps": time.Minute} {
		if got := again.Expected("auth", stage, time.Minute); got != want {
			t.Errorf("auth/%s: Expected = %v, want %v", stage, got, want)
		}
	}
	leftovers, _ := filepath.Glob(filepath.Join(filepath.Dir(path), "*.tmp"))
	if len(leftovers) > 0 {
		t.Errorf("Save left temporary files: %v", leftovers)
	}
}

func TestHistoryCorruptIsIgnored(t *testing.T) {
	for name, content := range map[string]string{
		"truncated":     `{"version": 1, "stages": {"auth/unit": {"seconds": 3`,
		"not json":      "\x00\x01garbage",
		"other version": `{"version": 99, "stages": {"auth/unit": {"seconds": 3, "runs": 1}}}`,
	} {
		t.Run(name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), HistoryFile)
			if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
				t.Fatal(err)
			}
			h, err := LoadHistory(path)
			if err == nil || !strings.Contains(err.Error(), "ignored") {
				t.Errorf("LoadHistory error = %v, want a notice saying it is ignored", err)
			}
			if h == nil || h.Expected("auth", "unit", time.Second) != time.Second {
				t.Fatalf("a corrupt history must give an empty, usable history")
			}
			h.Record("auth", "unit", 2*time.Second)
			if err := h.Save(path); err != nil {
				t.Fatal(err)
			}
			if again, err := LoadHistory(path); err != nil || again.Expected("auth", "unit", 0) != 2*time.Second {
				t.Errorf("after saving over a corrupt file: err %v", err)
			}
		})
	}
}

func TestHistoryIgnoresBadEntries(t *testing.T) {
	path := filepath.Join(t.TempDir(), HistoryFile)
	content := `{"version": 1, "stages": {"a/unit": {"seconds": -4, "runs": 2}, "a/lint": {"seconds": 1.5, "runs": 0}, "a/deps": {"seconds": 2, "runs": 3}}}`
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	h, err := LoadHistory(path)
	if err != nil {
		t.Fatal(err)
	}
	if h.Expected("a", "unit", time.Second) != time.Second || h.Expected("a", "lint", time.Second) != time.Second {
		t.Errorf("negative or run-less entries were used")
	}
	if got := h.Expected("a", "deps", 0); got != 2*time.Second {
		t.Errorf("a/deps = %v, want 2s", got)
	}
}
