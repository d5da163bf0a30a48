package procgroup

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// Owner identifies a process across PID reuse: its PID and its start time (clock ticks after
// boot, /proc/PID/stat field 22). Records of what a run created name their Owner, so that a
// later run can tell whether the run that made them is still alive.
type Owner struct {
	PID   int    `json:"pid"`
	Start uint64 `json:"start"`
}

// Self returns the Owner of the calling process.
func Self() (Owner, error) {
	pid := os.Getpid()
	start, ok := startTime(pid)
	if !ok {
		return Owner{}, fmt.Errorf("reading the start time of process %d from /proc", pid)
	}
	return Owner{PID: pid, Start: start}, nil
}

// Alive reports whether the process o names still runs (not a zombie, and not another process
// that got the same PID since).
func (o Owner) Alive() bool {
	if o.PID <= 0 || !ProcessAlive(o.PID) {
		return false
	}
	start, ok := startTime(o.PID)
	return ok && start == o.Start
}

// startTime reads the start time of pid from /proc/PID/stat.
func startTime(pid int) (uint64, bool) {
	b, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "stat"))
	if err != nil {
		return 0, false
	}
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, false
	}
	// Fields after the command name start at field 3 (state); the start time is field 22.
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 20 {
		return 0, false
	}
	start, err := strconv.ParseUint(f[19], 10, 64)
	return start, err == nil
}

// OwnerOf returns the Owner of process pid, if it runs.
func OwnerOf(pid int) (Owner, bool) {
	start, ok := startTime(pid)
	return Owner{PID: pid, Start: start}, ok
}
