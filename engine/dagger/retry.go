package dagger

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"sync"
)

// retryEnv is set, for its exec only, on an exec that failed the last time it ran, to a value
// new at each failure. Execs run with Expect: ANY (so that a failing command's output, exit code
// and files can be read), and Dagger caches such an exec like any other: without a new value
// there, a rerun would be given the same failure back without the command running again.
const retryEnv = "CONVOY_RETRY"

// retries records which execs failed, by exec key, so that the next attempt gets a new
// retryEnv value (and the one after a pass keeps it, and its cache). With a directory the record
// outlives the process (.convoy/dagger/retry); without one it is kept in memory.
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
	b, err := os.ReadFile(filepath.Join(r.dir, key))
	if err != nil {
		return "" // no record: it never failed here (an unreadable one retries no worse)
	}
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
