// Package filelock serialises work between convoy processes with flock(2) on a file: one
// virtualenv installed, one tool provisioned, however many convoy processes want it at once.
package filelock

import (
	"context"
	"fmt"
	"os"
	"syscall"
)

// Lock takes an exclusive flock on path (created when missing) and returns the function that
// releases it. It gives up when ctx ends; the lock is then never held.
func Lock(ctx context.Context, path string) (unlock func(), err error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, fmt.Errorf("opening lock %s: %w", path, err)
	}
	got := make(chan error, 1)
	go func() { got <- syscall.Flock(int(f.Fd()), syscall.LOCK_EX) }()
	select {
	case err := <-got:
		if err != nil {
			f.Close()
			return nil, fmt.Errorf("locking %s: %w", path, err)
		}
		return func() { _ = syscall.Flock(int(f.Fd()), syscall.LOCK_UN); f.Close() }, nil
	case <-ctx.Done():
		// Closing the file releases the lock should the flock call still succeed.
		go func() { <-got; f.Close() }()
		return nil, fmt.Errorf("waiting for lock %s: %w", path, ctx.Err())
	}
}
