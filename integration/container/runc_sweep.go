package container

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/convoy-ci/convoy/integration"
)

var _ integration.ContainerSweeper = (*Runc)(nil)

// SweepRun removes what run runID, whose convoy was killed, left: its containers (`runc delete
// --force`, which kills what still runs in them), their bundles, and its services' root
// filesystems (overlay mounts unmounted first) and overlay directories. It returns one line per
// thing removed.
func (r *Runc) SweepRun(runID string) ([]string, error) {
	var removed []string
	var errs []error
	containers := sanitize("convoy-" + runID + "-")
	for _, id := range entries(r.stateRoot, containers, &errs) {
		if _, err := r.run("delete", "--force", id); err != nil {
			errs = append(errs, err)
			continue
		}
		removed = append(removed, "removed leftover container "+id)
	}
	for _, id := range entries(r.bundleDir, containers, &errs) {
		path := filepath.Join(r.bundleDir, id)
		if err := os.RemoveAll(path); err != nil {
			errs = append(errs, err)
			continue
		}
		removed = append(removed, "removed leftover bundle "+path)
	}
	services := sanitize(runID + "-")
	for _, name := range entries(r.rootfsDir, services, &errs) {
		msg, err := removeRootfs(filepath.Join(r.rootfsDir, name))
		if err != nil {
			errs = append(errs, err)
			continue
		}
		removed = append(removed, msg)
	}
	for _, name := range entries(r.upperDir, services, &errs) {
		path := filepath.Join(r.upperDir, name)
		if err := os.RemoveAll(path); err != nil {
			errs = append(errs, err)
			continue
		}
		removed = append(removed, "removed leftover overlay directory "+path)
	}
	return removed, errors.Join(errs...)
}

// entries returns the names in dir that start with prefix; a listing error is added to errs.
func entries(dir, prefix string, errs *[]error) []string {
	list, err := os.ReadDir(dir)
	if err != nil {
		if !errors.Is(err, fs.ErrNotExist) {
			*errs = append(*errs, fmt.Errorf("listing %s: %w", dir, err))
		}
		return nil
	}
	var names []string
	for _, e := range list {
		if strings.HasPrefix(e.Name(), prefix) {
			names = append(names, e.Name())
		}
	}
	return names
}

// removeRootfs unmounts the root filesystem at path if it is a mount point, removes it, and
// says what it did.
func removeRootfs(path string) (string, error) {
	msg := "removed leftover root filesystem " + path
	if mounted(path) {
		if err := unmountOverlay(path); err != nil {
			return "", err
		}
		msg = "unmounted and " + msg
	}
	if err := os.RemoveAll(path); err != nil {
		return "", fmt.Errorf("removing root filesystem %s: %w", path, err)
	}
	return msg, nil
}

// mounted reports whether path is on another file system than its parent directory.
func mounted(path string) bool {
	var st, parent unix.Stat_t
	if unix.Lstat(path, &st) != nil || unix.Lstat(filepath.Dir(path), &parent) != nil {
		return false
	}
	return st.Dev != parent.Dev
}
