package container

import (
	"errors"
	"os"

	"github.com/convoy-ci/convoy/integration"
)

// Sweeper is the integration.ContainerSweeper of every runtime that can have containers of
// convoy's on this machine: runc when it can run here, and the docker daemon at DOCKER_HOST when
// that is set and answers. Nil when there is none.
func Sweeper(opts ...Option) integration.ContainerSweeper {
	var all sweepers
	if rt, err := NewRunc(opts...); err == nil {
		all = append(all, rt)
	}
	if os.Getenv("DOCKER_HOST") != "" {
		if d, err := NewDocker(opts...); err == nil {
			all = append(all, d)
		}
	}
	if len(all) == 0 {
		return nil
	}
	return all
}

// sweepers sweeps a run in each of its runtimes.
type sweepers []integration.ContainerSweeper

// SweepRun removes what runID left in every runtime, and returns every line they return.
func (s sweepers) SweepRun(runID string) ([]string, error) {
	var removed []string
	var errs []error
	for _, sw := range s {
		r, err := sw.SweepRun(runID)
		removed = append(removed, r...)
		errs = append(errs, err)
	}
	return removed, errors.Join(errs...)
}
