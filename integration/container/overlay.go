package container

import (
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"
)

// maxMountData is the longest overlay option string mount(2) takes: the kernel copies one page
// (4096 bytes, with its terminating NUL). A variable so that tests can force the fallback.
var maxMountData = 4095

// overlayOptions returns the mount data of an overlay of lowers (topmost first) under upper,
// with work as its work directory, volatile; an error when a path cannot be written in it or the
// whole does not fit one page.
func overlayOptions(lowers []string, upper, work string) (string, error) {
	for _, p := range append([]string{upper, work}, lowers...) {
		if strings.ContainsAny(p, ":,\\=") {
			return "", fmt.Errorf("path %q has a character overlay options reserve", p)
		}
	}
	data := "lowerdir=" + strings.Join(lowers, ":") + ",upperdir=" + upper + ",workdir=" + work + volatile
	if len(data) > maxMountData {
		return "", fmt.Errorf("%d layers make overlay options of %d bytes, over the %d mount(2) takes",
			len(lowers), len(data), maxMountData)
	}
	return data, nil
}

// volatile is the overlay option that spares a container's root filesystem every sync of its
// upper directory (Linux 5.10): what a container writes is thrown away with it, and unmounting
// a plain overlay syncs the whole file system under the upper directory — every dirty page of
// the run, 0.4 s at the end of an integration run here. A volatile upper directory is not to be
// mounted again after a crash; convoy never does (each Prepare starts from an empty one).
const volatile = ",volatile"

// volatileRefused is set once a kernel refused the volatile option (older than 5.10).
var volatileRefused atomic.Bool

// mountOverlay mounts an overlay with data (overlayOptions) at target; without the volatile
// option when the kernel does not know it.
func mountOverlay(target, data string) error {
	if volatileRefused.Load() {
		data = strings.TrimSuffix(data, volatile)
	}
	err := unix.Mount("overlay", target, "overlay", 0, data)
	if errors.Is(err, unix.EINVAL) && strings.HasSuffix(data, volatile) {
		if err = unix.Mount("overlay", target, "overlay", 0, strings.TrimSuffix(data, volatile)); err == nil {
			volatileRefused.Store(true)
		}
	}
	if err != nil {
		return fmt.Errorf("mounting an overlay at %s: %w", target, err)
	}
	return nil
}

// unmountOverlay unmounts target; nothing when it is not a mount point. A busy mount is tried
// again for a second, then detached (MNT_DETACH: gone from the tree now, freed when its last user
// lets go).
func unmountOverlay(target string) error {
	deadline := time.Now().Add(time.Second)
	for {
		err := unix.Unmount(target, unix.UMOUNT_NOFOLLOW)
		switch {
		case err == nil:
			return nil
		case errors.Is(err, unix.EINVAL), errors.Is(err, unix.ENOENT): // not (or no longer) mounted
			return nil
		case !errors.Is(err, unix.EBUSY):
			return fmt.Errorf("unmounting %s: %w", target, err)
		case time.Now().After(deadline):
			if err := unix.Unmount(target, unix.MNT_DETACH|unix.UMOUNT_NOFOLLOW); err != nil && !errors.Is(err, unix.EINVAL) {
				return fmt.Errorf("detaching %s: %w", target, err)
			}
			return nil
		}
		time.Sleep(50 * time.Millisecond)
	}
}
