package pipeline

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"

	"github.com/convoy-ci/convoy/integration"
	"github.com/convoy-ci/convoy/internal/procgroup"
)

// Where runs keep their own state, under the state directory.
const (
	// RunsDirName holds one directory per run, named by its run id: logs/ and db/.
	RunsDirName = "runs"
	// LatestLogs is the link <state>/logs → runs/<id>/logs of the run that started last.
	LatestLogs = "logs"
	// KeepRuns is how many finished runs' directories (their logs) are kept.
	KeepRuns = 10
	// runOwnerFile, in a run's directory, records the process running it.
	runOwnerFile = "owner.json"
)

// RunDir is one run's own directory: its logs and its scratch databases, apart from every other
// run's, so that two convoy processes in one repository never share a log or a database file.
type RunDir struct {
	// ID is the run id (integration.NewRunID), also the directory's name.
	ID string
	// Dir is <state>/runs/<ID>.
	Dir string
}

// Logs is the run's log directory.
func (r *RunDir) Logs() string { return filepath.Join(r.Dir, "logs") }

// DB is the run's directory for scratch databases (unit and populate SQLite files).
func (r *RunDir) DB() string { return filepath.Join(r.Dir, "db") }

// NewRun names a new run of the repository whose state directory is stateDir; nothing is
// written until Start.
func NewRun(stateDir string) *RunDir {
	id := integration.NewRunID()
	return &RunDir{ID: id, Dir: filepath.Join(stateDir, RunsDirName, id)}
}

// Start removes what earlier runs that no longer run left (PruneRuns, whose lines it returns),
// creates the run's directory with the calling process recorded as its owner, and points the
// <state>/logs link at its logs.
func (r *RunDir) Start() ([]string, error) {
	stateDir := filepath.Dir(filepath.Dir(r.Dir))
	removed, err := PruneRuns(stateDir, KeepRuns)
	if err != nil {
		return removed, err
	}
	if err := makeRunDir(r); err != nil {
		return removed, err
	}
	return removed, linkLatest(stateDir, r)
}

// makeRunDir creates r's directory with its owner recorded: made under a hidden name and
// renamed into place, so that a concurrent PruneRuns never sees it without its owner.
func makeRunDir(r *RunDir) error {
	owner, err := procgroup.Self()
	if err != nil {
		return err
	}
	data, err := json.Marshal(owner)
	if err != nil {
		return err
	}
	tmp := filepath.Join(filepath.Dir(r.Dir), "."+r.ID)
	if err := os.MkdirAll(filepath.Join(tmp, "logs"), 0o755); err != nil {
		return fmt.Errorf("creating the run directory %s: %w", r.Dir, err)
	}
	if err := os.WriteFile(filepath.Join(tmp, runOwnerFile), data, 0o644); err != nil {
		os.RemoveAll(tmp)
		return fmt.Errorf("recording the owner of run %s: %w", r.ID, err)
	}
	if err := os.Rename(tmp, r.Dir); err != nil {
		os.RemoveAll(tmp)
		return fmt.Errorf("creating the run directory %s: %w", r.Dir, err)
	}
	return nil
}

// Finish removes the run's scratch databases; its logs stay (KeepRuns of them).
func (r *RunDir) Finish() error {
	if err := os.RemoveAll(r.DB()); err != nil {
		return fmt.Errorf("removing the scratch databases of run %s: %w", r.ID, err)
	}
	return nil
}

// linkLatest points <state>/logs at r's logs, replacing the link atomically (a new link renamed
// over it). A real directory there (convoy before per-run logs) is moved into runs/ first.
func linkLatest(stateDir string, r *RunDir) error {
	link := filepath.Join(stateDir, LatestLogs)
	if st, err := os.Lstat(link); err == nil && st.IsDir() {
		if err := os.Rename(link, filepath.Join(stateDir, RunsDirName, "logs-before-"+r.ID)); err != nil {
			return fmt.Errorf("moving the old log directory %s aside: %w", link, err)
		}
	}
	tmp := filepath.Join(stateDir, "."+LatestLogs+"."+r.ID)
	if err := os.Symlink(filepath.Join(RunsDirName, r.ID, "logs"), tmp); err != nil {
		return fmt.Errorf("linking %s to run %s: %w", link, r.ID, err)
	}
	if err := os.Rename(tmp, link); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("linking %s to run %s: %w", link, r.ID, err)
	}
	return nil
}

// PruneRuns removes what runs that no longer run (finished, or killed) left under stateDir:
// their scratch databases, and the whole directory of all but the keep newest. A run whose
// owner still runs is never touched. It returns one line per thing removed.
func PruneRuns(stateDir string, keep int) ([]string, error) {
	dir := filepath.Join(stateDir, RunsDirName)
	entries, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("listing runs in %s: %w", dir, err)
	}
	var ids []string
	for _, e := range entries {
		if e.IsDir() && integration.IsRunID(e.Name()) {
			ids = append(ids, e.Name())
		}
	}
	sort.Sort(sort.Reverse(sort.StringSlice(ids))) // newest first: ids start with the time
	var removed []string
	var errs []error
	for i, id := range ids {
		run := &RunDir{ID: id, Dir: filepath.Join(dir, id)}
		owner, alive := runOwner(run.Dir)
		if alive {
			continue
		}
		gone := fmt.Sprintf("of run %s (pid %d gone)", id, owner.PID)
		if i >= keep {
			if err := os.RemoveAll(run.Dir); err != nil {
				errs = append(errs, fmt.Errorf("removing run directory %s: %w", run.Dir, err))
				continue
			}
			removed = append(removed, fmt.Sprintf("removed old run directory %s %s", run.Dir, gone))
			continue
		}
		if _, err := os.Stat(run.DB()); err == nil {
			if err := os.RemoveAll(run.DB()); err != nil {
				errs = append(errs, fmt.Errorf("removing leftover databases %s: %w", run.DB(), err))
				continue
			}
			removed = append(removed, fmt.Sprintf("removed leftover databases %s %s", run.DB(), gone))
		}
	}
	return removed, errors.Join(errs...)
}

// runOwner reads the owner of the run in dir and whether it still runs. A run whose record
// cannot be read is taken as finished.
func runOwner(dir string) (procgroup.Owner, bool) {
	var o procgroup.Owner
	data, err := os.ReadFile(filepath.Join(dir, runOwnerFile))
	if err != nil || json.Unmarshal(data, &o) != nil {
		return o, false
	}
	return o, o.Alive()
}
