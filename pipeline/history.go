package pipeline

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"
)

// HistoryFile is the history's file name under a repository's .convoy directory.
const HistoryFile = "history.json"

// historyVersion is the file format's version; a file of another version is ignored.
const historyVersion = 1

// historyWeight is the weight of the newest duration in the moving average: 0.5 follows a
// changed stage within a few runs while one slow run moves the estimate only halfway.
const historyWeight = 0.5

// History holds the expected duration of every stage that passed in earlier runs, as an
// exponential moving average per service and stage. It is the one owner of the history file's
// format. The zero value is an empty history; it is not safe for concurrent use.
type History struct {
	stages map[string]historyEntry // by "service/stage"
}

// historyEntry is one stage's record.
type historyEntry struct {
	// Seconds is the moving average of the stage's passed durations.
	Seconds float64 `json:"seconds"`
	// Runs counts the passed runs averaged.
	Runs int `json:"runs"`
}

// historyFile is the file's JSON form.
type historyFile struct {
	Version int                     `json:"version"`
	Stages  map[string]historyEntry `json:"stages"`
}

// LoadHistory reads the history at path. A missing file is an empty history and no error. A
// file that cannot be read or parsed also gives an empty history, with an error saying why, for
// the caller to show as a notice: a bad history never stops a run.
func LoadHistory(path string) (*History, error) {
	h := &History{stages: map[string]historyEntry{}}
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return h, nil
	}
	if err != nil {
		return h, fmt.Errorf("reading stage history %s (ignored): %w", path, err)
	}
	var f historyFile
	if err := json.Unmarshal(data, &f); err != nil {
		return h, fmt.Errorf("stage history %s is corrupt (ignored): %w", path, err)
	}
	if f.Version != historyVersion {
		return h, fmt.Errorf("stage history %s has version %d, expected %d (ignored)", path, f.Version, historyVersion)
	}
	for id, e := range f.Stages {
		if e.Seconds >= 0 && e.Runs > 0 {
			h.stages[id] = e
		}
	}
	return h, nil
}

// Expected returns the expected duration of service's stage: its recorded average, else def (a
// nil History has none).
func (h *History) Expected(service, stage string, def time.Duration) time.Duration {
	if h == nil {
		return def
	}
	e, ok := h.stages[taskID(service, stage)]
	if !ok {
		return def
	}
	return time.Duration(e.Seconds * float64(time.Second))
}

// Record adds one passed run of service's stage that took d.
func (h *History) Record(service, stage string, d time.Duration) {
	if h.stages == nil {
		h.stages = map[string]historyEntry{}
	}
	id := taskID(service, stage)
	e, ok := h.stages[id]
	if !ok {
		h.stages[id] = historyEntry{Seconds: d.Seconds(), Runs: 1}
		return
	}
	e.Seconds = historyWeight*d.Seconds() + (1-historyWeight)*e.Seconds
	e.Runs++
	h.stages[id] = e
}

// Save writes the history to path atomically: a temporary file in the same directory, renamed
// over path, so that a reader sees the old file or the new one, never a part.
func (h *History) Save(path string) error {
	data, err := json.MarshalIndent(historyFile{Version: historyVersion, Stages: h.stages}, "", "  ")
	if err != nil {
		return fmt.Errorf("encoding stage history: %w", err)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("saving stage history: %w", err)
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), HistoryFile+".*.tmp")
	if err != nil {
		return fmt.Errorf("saving stage history: %w", err)
	}
	defer os.Remove(tmp.Name()) // fails harmlessly once renamed
	if _, err := tmp.Write(append(data, '\n')); err != nil {
		tmp.Close()
		return fmt.Errorf("saving stage history %s: %w", tmp.Name(), err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("saving stage history %s: %w", tmp.Name(), err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("saving stage history: %w", err)
	}
	return nil
}
