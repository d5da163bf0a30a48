package container

import (
	"errors"
	"fmt"
	"strings"

	"github.com/convoy-ci/convoy/integration"
)

var _ integration.ContainerSweeper = (*Docker)(nil)

// SweepRun removes what run runID, whose convoy was killed, left in the daemon: its containers
// (named convoy-<runID>-…; `docker rm --force` kills one still running — a killed `docker run`
// leaves its container running) and its images' tags (convoy-integration/<service>:<runID>).
// It returns one line per thing removed.
func (d *Docker) SweepRun(runID string) ([]string, error) {
	var removed []string
	var errs []error
	prefix := containerID(runID, "", "")
	prefix = prefix[:len(prefix)-1] // convoy-<runID>-
	out, err := d.run("ps", "--all", "--filter", "name="+prefix, "--format", "{{.Names}}")
	if err != nil {
		return nil, fmt.Errorf("listing the containers of run %s: %w", runID, err)
	}
	for _, name := range strings.Fields(string(out)) {
		if !strings.HasPrefix(name, prefix) {
			continue // the filter matches anywhere in the name
		}
		if _, err := d.run("rm", "--force", name); err != nil && !notFound(err) {
			errs = append(errs, fmt.Errorf("removing leftover container %s: %w", name, err))
			continue
		}
		removed = append(removed, "removed leftover container "+name)
	}
	tag := imageTag("x", runID)
	tag = tag[strings.LastIndexByte(tag, ':'):] // :<runID>, as imageTag makes it
	out, err = d.run("images", "--filter", "reference=convoy-integration/*"+tag, "--format", "{{.Repository}}:{{.Tag}}")
	if err != nil {
		return removed, errors.Join(append(errs, fmt.Errorf("listing the images of run %s: %w", runID, err))...)
	}
	for _, ref := range strings.Fields(string(out)) {
		if !strings.HasSuffix(ref, tag) {
			continue
		}
		if _, err := d.run("rmi", ref); err != nil && !notFound(err) {
			errs = append(errs, fmt.Errorf("removing leftover image tag %s: %w", ref, err))
			continue
		}
		removed = append(removed, "removed leftover image tag "+ref)
	}
	return removed, errors.Join(errs...)
}
