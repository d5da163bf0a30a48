package integration

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"syscall"

	"github.com/convoy-ci/convoy/integration/backing"
	"github.com/convoy-ci/convoy/integration/model"
	"github.com/convoy-ci/convoy/internal/procgroup"
)

// BackingKinds are the backing services Run can start (Service.Backing).
func BackingKinds() []string { return backing.Kinds() }

// backingRecord is what the run record says of a backing server, for a sweep after kill -9.
type backingRecord struct {
	Kind   string            `json:"kind"`
	Groups []procgroup.Owner `json:"groups"`
}

// checkBacking validates the backing services s declares.
func checkBacking(s Service) error {
	for i, kind := range s.Backing {
		switch {
		case !backing.Known(kind):
			return fmt.Errorf("service %q: unknown backing service %q (expected one of %s)", s.Name, kind, strings.Join(backing.Kinds(), ", "))
		case slices.Contains(s.Backing[:i], kind):
			return fmt.Errorf("service %q declares backing service %q twice", s.Name, kind)
		}
	}
	return nil
}

// backingKinds is every kind some service of the run declares, sorted.
func (r *runner) backingKinds() []string {
	var kinds []string
	for _, s := range r.services {
		kinds = append(kinds, s.Backing...)
	}
	slices.Sort(kinds)
	return slices.Compact(kinds)
}

// startBacking starts one server of kind, its data in the run record's directory, and records
// its process groups there.
func (r *runner) startBacking(ctx context.Context, kind string) error {
	logPath := filepath.Join(r.spec.LogDir, kind+".log")
	srv, err := backing.Start(ctx, kind, filepath.Join(r.record, kind), logPath, r.pickPort)
	if err != nil {
		return err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.backing[kind] = srv
	r.report.Backing = append(r.report.Backing, model.BackingReport{Kind: kind, URL: srv.URL(), Port: srv.Port(), LogPath: logPath})
	if _, err := writeRecord(r.o.runDirFor(r.spec.Repo), r.spec.RunID, r.recordOf()); err != nil {
		return err
	}
	r.emit(model.Event{Kind: model.EventBackingReady, Backing: kind, URL: srv.URL(), PID: srv.PIDs()[len(srv.PIDs())-1],
		Port: srv.Port(), Dir: srv.Dir(), LogPath: logPath})
	return nil
}

// backingRecords describes the started backing servers for the run record (r.mu held).
func (r *runner) backingRecords() []backingRecord {
	var out []backingRecord
	for _, kind := range r.backingKinds() {
		srv, ok := r.backing[kind]
		if !ok {
			continue
		}
		rec := backingRecord{Kind: kind}
		for _, pid := range srv.PIDs() {
			if o, ok := procgroup.OwnerOf(pid); ok {
				rec.Groups = append(rec.Groups, o)
			}
		}
		out = append(out, rec)
	}
	return out
}

// backingEnv is what the backing services of kinds give a process: <KIND>_URL for each, and
// CELERY_BROKER_URL (RabbitMQ's URL, or else Redis's).
func (r *runner) backingEnv(kinds []string) []string {
	var env []string
	broker := ""
	for _, kind := range kinds {
		srv, ok := r.backing[kind]
		if !ok {
			continue
		}
		env = append(env, envKey(kind)+"_URL="+srv.URL())
		if kind == backing.RabbitMQ || broker == "" {
			broker = srv.URL()
		}
	}
	if broker != "" {
		env = append(env, "CELERY_BROKER_URL="+broker)
	}
	return env
}

// stopBacking stops every backing server.
func (r *runner) stopBacking() []error {
	var errs []error
	for _, kind := range r.backingKinds() {
		if srv, ok := r.backing[kind]; ok {
			if err := srv.Stop(r.grace()); err != nil {
				errs = append(errs, err)
			}
		}
	}
	return errs
}

// killGroups kills what is left of the process groups of a dead run's backing servers.
func killGroups(recs []backingRecord) []string {
	var killed []string
	for _, rec := range recs {
		for _, g := range rec.Groups {
			if g.Alive() {
				_ = syscall.Kill(-g.PID, syscall.SIGKILL)
				killed = append(killed, fmt.Sprintf("killed leftover %s (process group %d)", rec.Kind, g.PID))
			}
		}
	}
	return killed
}
