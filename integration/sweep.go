package integration

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"

	"github.com/convoy-ci/convoy/integration/model"
	"github.com/convoy-ci/convoy/integration/pgcluster"
	"github.com/convoy-ci/convoy/internal/procgroup"
)

// recordFile, in <run dir>/<run id>/, records the process that runs the run and what it creates.
const recordFile = "owner.json"

// runIDPattern matches the run ids NewRunID makes; only such directories of the run dir are
// run records (runc's work directories live beside them).
var runIDPattern = regexp.MustCompile(`^[0-9]{8}t[0-9]{6}_[0-9a-f]{6}$`)

// IsRunID reports whether name is a run id NewRunID makes.
func IsRunID(name string) bool { return runIDPattern.MatchString(name) }

// ContainerSweeper removes what a run left in a container runtime (containers, bundles, root
// filesystems and their mounts). Sweep calls it for every run whose owner has died.
type ContainerSweeper interface {
	// SweepRun removes what run runID left and returns one line per thing removed.
	SweepRun(runID string) ([]string, error)
}

// WithRunDir keeps run records in dir instead of <Spec.Repo>/.convoy/run.
func WithRunDir(dir string) Option { return func(o *options) { o.runDir = dir } }

// WithContainerSweeper lets Run and Sweep remove what dead runs left in a container runtime.
func WithContainerSweeper(s ContainerSweeper) Option { return func(o *options) { o.containers = s } }

// runRecord is what a run records before it creates anything.
type runRecord struct {
	Owner     procgroup.Owner `json:"owner"`
	Postgres  string          `json:"postgres,omitempty"` // the server (password redacted); "" for a throwaway cluster
	Databases []string        `json:"databases"`
	Backing   []backingRecord `json:"backing,omitempty"` // backing servers started, with their process groups
}

// runDirFor is where run records of the repository repo go.
func (o options) runDirFor(repo string) string {
	if o.runDir != "" {
		return o.runDir
	}
	return filepath.Join(repo, ".convoy", "run")
}

// Sweep removes what runs that were killed left behind: for every run recorded under the run
// directory whose process is gone, its containers (WithContainerSweeper) and its databases on
// spec.Postgres; then every throwaway cluster whose owner is gone (WithClusterParentDir). A live
// run's record and anything of a run not recorded here (another checkout's, on a shared server)
// are never touched. It emits one model.EventLeftoverRemoved per thing removed (WithEvents) and returns
// their messages.
func Sweep(ctx context.Context, spec Spec, opts ...Option) ([]string, error) {
	o := options{}
	for _, opt := range opts {
		opt(&o)
	}
	repo := spec.Repo
	if repo == "" {
		repo = "."
	}
	s := &sweeper{o: o, admin: spec.Postgres}
	errs := []error{s.runs(ctx, o.runDirFor(repo))}
	removed, err := pgcluster.Sweep(o.pgParentDir)
	s.note(removed...)
	errs = append(errs, err)
	return s.removed, errors.Join(errs...)
}

type sweeper struct {
	o       options
	admin   string
	removed []string
}

// note records and emits what was removed.
func (s *sweeper) note(msgs ...string) {
	for _, m := range msgs {
		s.removed = append(s.removed, m)
		if s.o.events != nil {
			s.o.events(model.Event{Kind: model.EventLeftoverRemoved, Message: m})
		}
	}
}

// runs sweeps every dead run recorded in dir.
func (s *sweeper) runs(ctx context.Context, dir string) error {
	entries, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("listing run records in %q: %w", dir, err)
	}
	var errs []error
	for _, e := range entries {
		if !e.IsDir() || !runIDPattern.MatchString(e.Name()) {
			continue
		}
		rec, err := readRecord(filepath.Join(dir, e.Name()))
		if err != nil || rec.Owner.Alive() {
			continue
		}
		if err := s.run(ctx, filepath.Join(dir, e.Name()), e.Name(), rec); err != nil {
			errs = append(errs, fmt.Errorf("sweeping run %s: %w", e.Name(), err))
		}
	}
	return errors.Join(errs...)
}

// run removes what dead run runID left, then its record (kept while its databases could not be
// dropped, so that a later sweep with the right server finishes the job).
func (s *sweeper) run(ctx context.Context, recDir, runID string, rec runRecord) error {
	gone := fmt.Sprintf("run %s (pid %d gone)", runID, rec.Owner.PID)
	for _, m := range killGroups(rec.Backing) {
		s.note(m + " of " + gone)
	}
	if s.o.containers != nil {
		removed, err := s.o.containers.SweepRun(runID)
		for _, m := range removed {
			s.note(m + " of " + gone)
		}
		if err != nil {
			return err
		}
	}
	if rec.Postgres != "" && len(rec.Databases) > 0 {
		if s.admin == "" || model.Redact(s.admin) != rec.Postgres {
			return fmt.Errorf("its databases %v on %s remain: run with --postgres pointing at that server to drop them", rec.Databases, rec.Postgres)
		}
		if err := s.databases(ctx, rec.Databases, gone); err != nil {
			return err
		}
	}
	if err := os.RemoveAll(recDir); err != nil {
		return fmt.Errorf("removing its record: %w", err)
	}
	return nil
}

// databases drops those of names that exist on the admin server.
func (s *sweeper) databases(ctx context.Context, names []string, gone string) error {
	conn, err := connect(ctx, s.admin)
	if err != nil {
		return err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	for _, name := range names {
		var exists bool
		if err := conn.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)", name).Scan(&exists); err != nil {
			return fmt.Errorf("looking for database %q: %w", name, err)
		}
		if !exists {
			continue
		}
		if err := dropDatabase(ctx, conn, name); err != nil {
			return err
		}
		s.note(fmt.Sprintf("removed leftover database %s of %s", name, gone))
	}
	return nil
}

// readRecord reads the run record in dir.
func readRecord(dir string) (runRecord, error) {
	var rec runRecord
	b, err := os.ReadFile(filepath.Join(dir, recordFile))
	if err != nil {
		return rec, err
	}
	if err := json.Unmarshal(b, &rec); err != nil {
		return rec, fmt.Errorf("parsing %s: %w", filepath.Join(dir, recordFile), err)
	}
	return rec, nil
}

// writeRecord records the calling process as the owner of run runID and what it will create,
// before it creates anything; it returns the record's directory.
func writeRecord(runDir, runID string, rec runRecord) (string, error) {
	owner, err := procgroup.Self()
	if err != nil {
		return "", err
	}
	rec.Owner = owner
	dir := filepath.Join(runDir, runID)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("creating run record %q: %w", dir, err)
	}
	b, err := json.Marshal(rec)
	if err != nil {
		return "", err
	}
	if err := os.WriteFile(filepath.Join(dir, recordFile), b, 0o644); err != nil {
		return "", fmt.Errorf("writing run record in %q: %w", dir, err)
	}
	return dir, nil
}
