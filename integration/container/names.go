package container

import (
	"fmt"
	"strings"
	"sync"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// containerID is convoy-<runID>-<service>-<name>, with every character runc and docker do not
// allow in a container's name (anything but ASCII letters, digits, '_', '.' and '-') made '-'.
func containerID(runID, service, name string) string {
	return sanitize("convoy-" + runID + "-" + service + "-" + name)
}

// sanitize replaces every character but [A-Za-z0-9_.-] with '-'.
func sanitize(s string) string {
	return strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '_', r == '.', r == '-':
			return r
		}
		return '-'
	}, s)
}

// ids hands out container IDs, unique within one launcher: a command name started again (serve,
// after its port was taken) gets -2, -3, ….
type ids struct {
	mu   sync.Mutex
	seen map[string]int
}

func (c *ids) next(runID, service, name string) string {
	id := containerID(runID, service, name)
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.seen == nil {
		c.seen = map[string]int{}
	}
	c.seen[id]++
	if n := c.seen[id]; n > 1 {
		return fmt.Sprintf("%s-%d", id, n)
	}
	return id
}

// mergeEnv merges KEY=VALUE lists: a later value of a key replaces an earlier one in its place.
func mergeEnv(lists ...[]string) []string {
	var out []string
	at := map[string]int{}
	for _, l := range lists {
		for _, kv := range l {
			k, _, _ := strings.Cut(kv, "=")
			if i, ok := at[k]; ok {
				out[i] = kv
				continue
			}
			at[k] = len(out)
			out = append(out, kv)
		}
	}
	return out
}

// hasEnv reports whether env sets key.
func hasEnv(env []string, key string) bool {
	for _, kv := range env {
		if k, _, _ := strings.Cut(kv, "="); k == key {
			return true
		}
	}
	return false
}

// describe is "<kind>: <service>@sha256:<first 12 hex digits>", for logs.
func describe(kind, service string, digest v1.Hash) string {
	hex := digest.Hex
	if len(hex) > 12 {
		hex = hex[:12]
	}
	if hex == "" {
		return kind + ": " + service
	}
	return fmt.Sprintf("%s: %s@%s:%s", kind, service, digest.Algorithm, hex)
}
