package dagger

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"
)

// retryEnv is set, for its exec only, on an exec that failed the last time it ran, to a value
// new at each failure. Execs run with Expect: ANY (so that a failing command's output, exit code
// and files can be read), and Dagger caches such an exec like any other: without a new value
// there, a rerun would be given the same failure back without the command running again.
const retryEnv = "CONVOY_RETRY"

// retries records which execs failed, by exec key, so that the next attempt gets a new
// retryEnv value. The record stays after a pass: the attempts after it keep the value, and so
// the passing result Dagger cached under it; without it they would be given the failure back,
// cached under no value. With a directory the record outlives the process
// (.convoy/dagger/retry: retryDir) and each use touches it, so that PruneRetries removes only
// those no run used lately; without one it is kept in memory.
type retries struct {
	dir string
	mu  sync.Mutex
	mem map[string]string
}

// value returns the retryEnv value of the exec key: "" when it has not failed.
func (r *retries) value(key string) string {
	r.mu.Lock()
	defer r.mu.Unlock()
	if v, ok := r.mem[key]; ok || r.dir == "" {
		return v
	}
	p := filepath.Join(r.dir, key)
	b, err := os.ReadFile(p)
	if err != nil {
		return "" // no record: it never failed here (an unreadable one retries no worse)
	}
	now := time.Now()
	_ = os.Chtimes(p, now, now) // used: PruneRetries keeps it (a record it cannot touch only ages)
	return string(b)
}

// failed records that the exec key failed: its next attempt runs with a new value.
func (r *retries) failed(key string) error {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		return fmt.Errorf("recording a failed exec: %w", err)
	}
	v := hex.EncodeToString(b[:])
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.mem == nil {
		r.mem = map[string]string{}
	}
	r.mem[key] = v
	if r.dir == "" {
		return nil
	}
	if err := os.MkdirAll(r.dir, 0o755); err != nil {
		return fmt.Errorf("recording a failed exec: %w", err)
	}
	tmp, err := os.CreateTemp(r.dir, ".tmp-")
	if err != nil {
		return fmt.Errorf("recording a failed exec: %w", err)
	}
	_, werr := tmp.WriteString(v)
	if cerr := tmp.Close(); werr == nil {
		werr = cerr
	}
	if werr == nil {
		werr = os.Rename(tmp.Name(), filepath.Join(r.dir, key))
	}
	if werr != nil {
		os.Remove(tmp.Name())
		return fmt.Errorf("recording a failed exec: %w", werr)
	}
	return nil
}

// retryDir is where an engine with the state directory stateDir keeps its retries.
func retryDir(stateDir string) string { return filepath.Join(stateDir, "dagger", "retry") }

// RetryRecord is a record of a failed exec that PruneRetries removes (or, dry, would remove).
type RetryRecord struct {
	// Path is the record's file.
	Path string
	// Size is its size in bytes.
	Size int64
	// LastUsed is when a run last recorded the failure or ran the exec again under it.
	LastUsed time.Time
}

// PruneRetries removes the records of failed execs kept under the state directory stateDir
// (WithStateDir) that no run used for keepFor, and leftovers of records being written. With dry
// set it removes nothing. It returns what it removed, or would. An exec whose record is gone
// runs as if it never failed: if Dagger still caches its failure under the same inputs, that
// failure comes back once, and is recorded again.
func PruneRetries(stateDir string, keepFor time.Duration, dry bool) ([]RetryRecord, error) {
	dir := retryDir(stateDir)
	entries, err := os.ReadDir(dir)
	if os.IsNotExist(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("listing the Dagger retry records in %s: %w", dir, err)
	}
	cutoff := time.Now().Add(-keepFor)
	var out []RetryRecord
	for _, ent := range entries {
		info, err := ent.Info()
		if err != nil || !info.Mode().IsRegular() || info.ModTime().After(cutoff) {
			continue
		}
		rec := RetryRecord{Path: filepath.Join(dir, ent.Name()), Size: info.Size(), LastUsed: info.ModTime()}
		if !dry {
			if err := os.Remove(rec.Path); err != nil && !os.IsNotExist(err) {
				return out, fmt.Errorf("pruning the Dagger retry record %s: %w", rec.Path, err)
			}
		}
		out = append(out, rec)
	}
	return out, nil
}
