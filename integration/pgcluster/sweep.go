package pgcluster

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/convoy-ci/convoy/internal/procgroup"
)

// ownerFile, in a cluster's directory, names the process that started the cluster.
const ownerFile = "convoy-owner.json"

// dirPattern matches the directories Start creates (os.MkdirTemp's pattern).
const dirPattern = "convoy-pg-*"

// killTimeout bounds the wait for a leftover postmaster and its workers to exit after SIGKILL.
const killTimeout = 10 * time.Second

// writeOwner records the calling process as the owner of the cluster directory dir.
func writeOwner(dir string) error {
	self, err := procgroup.Self()
	if err != nil {
		return err
	}
	b, err := json.Marshal(self)
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, ownerFile), b, 0o644); err != nil {
		return fmt.Errorf("recording the owner of cluster directory %q: %w", dir, err)
	}
	return nil
}

// Sweep removes the throwaway clusters in parentDir (when empty, in MemoryDir and os.TempDir(),
// wherever DefaultParentDir put them) that a process which has died left behind: those whose
// owner is gone (its postmaster, should one still run, is killed first), and those of an older
// convoy, which recorded no owner, whose postmaster.pid names a process that is gone or is not
// postgres. A cluster still being created (no owner recorded and no postmaster.pid yet) is left
// alone. It returns one line per cluster removed.
func Sweep(parentDir string) ([]string, error) {
	parents := []string{parentDir}
	if parentDir == "" {
		parents = []string{MemoryDir, os.TempDir()}
	}
	var dirs []string
	for _, p := range parents {
		found, err := filepath.Glob(filepath.Join(p, dirPattern))
		if err != nil {
			return nil, fmt.Errorf("listing clusters in %q: %w", p, err)
		}
		dirs = append(dirs, found...)
	}
	var removed []string
	var errs []error
	for _, dir := range dirs {
		why, ok := leftover(dir)
		if !ok {
			continue
		}
		if err := removeCluster(dir); err != nil {
			errs = append(errs, err)
			continue
		}
		removed = append(removed, fmt.Sprintf("removed leftover PostgreSQL cluster %s (%s)", dir, why))
	}
	return removed, errors.Join(errs...)
}

// leftover reports whether the cluster in dir was left by a dead process, and says why.
func leftover(dir string) (string, bool) {
	b, err := os.ReadFile(filepath.Join(dir, ownerFile))
	if err == nil {
		var o procgroup.Owner
		if json.Unmarshal(b, &o) != nil {
			return "", false
		}
		if o.Alive() {
			return "", false
		}
		return fmt.Sprintf("convoy pid %d gone", o.PID), true
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return "", false
	}
	pid, ok := postmasterPID(dir)
	if !ok || isPostgres(pid) {
		return "", false
	}
	return fmt.Sprintf("no owner recorded; postmaster pid %d gone", pid), true
}

// postmasterPID reads the postmaster's PID from the data directory's postmaster.pid.
func postmasterPID(dir string) (int, bool) {
	b, err := os.ReadFile(filepath.Join(dir, "data", "postmaster.pid"))
	if err != nil {
		return 0, false
	}
	line, _, _ := strings.Cut(string(b), "\n")
	pid, err := strconv.Atoi(strings.TrimSpace(line))
	return pid, err == nil && pid > 0
}

// isPostgres reports whether pid is a live postgres process.
func isPostgres(pid int) bool {
	comm, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "comm"))
	return err == nil && procgroup.ProcessAlive(pid) && string(bytes.TrimSpace(comm)) == "postgres"
}

// removeCluster kills the postmaster of dir if it still runs there (and its process group, which
// Start made it lead, with its workers) and removes dir.
func removeCluster(dir string) error {
	if pid, ok := postmasterPID(dir); ok && isPostgres(pid) && servesDir(pid, dir) {
		_ = syscall.Kill(pid, syscall.SIGKILL)
		if err := procgroup.Kill(pid, killTimeout); err != nil {
			return fmt.Errorf("killing the leftover postmaster of %q: %w", dir, err)
		}
	}
	if err := os.RemoveAll(dir); err != nil {
		return fmt.Errorf("removing leftover cluster directory %q: %w", dir, err)
	}
	return nil
}

// servesDir reports whether postgres process pid runs on the data directory inside dir (its
// working directory, where the postmaster moves), so that a reused PID is never killed.
func servesDir(pid int, dir string) bool {
	cwd, err := os.Readlink(filepath.Join("/proc", strconv.Itoa(pid), "cwd"))
	return err == nil && (cwd == dir || cwd == filepath.Join(dir, "data"))
}
