package pgcluster

import (
	"os"

	"golang.org/x/sys/unix"
)

// MemoryDir is where Start puts a cluster when no WithParentDir is given and it is a memory file
// system (tmpfs) with MemoryFree bytes available: a throwaway cluster, run with fsync off, has
// nothing to keep on a disk, and creating, writing and removing its few thousand files there
// costs the run time (removing one took 0.6 s at the end of every integration run, on the
// critical path). Elsewhere — a container's 64 MB /dev/shm, a system without one — the cluster
// goes to os.TempDir().
const MemoryDir = "/dev/shm"

// MemoryFree is the room MemoryDir must have for a cluster to go there: an empty cluster takes
// about 60 MB; the services' databases and populator scenarios take the rest.
const MemoryFree = 1 << 30

// DefaultParentDir is where Start creates a cluster's directory when no WithParentDir is given:
// MemoryDir when inMemory(MemoryDir, MemoryFree), else os.TempDir().
func DefaultParentDir() string {
	if inMemory(MemoryDir, MemoryFree) {
		return MemoryDir
	}
	return os.TempDir()
}

// inMemory reports whether dir is on a tmpfs with at least free bytes available to unprivileged
// users.
func inMemory(dir string, free uint64) bool {
	var st unix.Statfs_t
	if err := unix.Statfs(dir, &st); err != nil {
		return false
	}
	return st.Type == unix.TMPFS_MAGIC && st.Bavail*uint64(st.Bsize) >= free
}
