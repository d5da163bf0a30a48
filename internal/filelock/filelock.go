// Package filelock serialises work between convoy processes with flock(2) on a file: one
// virtualenv installed, one tool provisioned, however many convoy processes want it at once.
package filelock

import (
	"context"
	"errors"
	"fmt"
	"os"
	"syscall"
)

// Lock takes an exclusive flock on path (created when missing) and returns the function that
// releases it. It gives up when ctx ends; the lock is then never held.
func Lock(ctx context.Context, path string) (unlock func(), err error) {
	f, err := lock(ctx, path, syscall.LOCK_EX)
	if err != nil {
		return nil, err
	}
	return release(f), nil
}

// Shared takes a shared flock on path (created when missing), as Lock does: any number of
// holders at once, none while an exclusive lock is held. The holder of an exclusive lock may
// remove path (and what it guards) before releasing it: Shared then locks the file at path
// afterwards, created anew, not the removed one.
func Shared(ctx context.Context, path string) (unlock func(), err error) {
	for {
		f, err := lock(ctx, path, syscall.LOCK_SH)
		if err != nil {
			return nil, err
		}
		if current(path, f) {
			return release(f), nil
		}
		release(f)() // removed while this waited: lock its successor
	}
}

// TryLock takes an exclusive flock on path (created when missing) when nobody holds one, shared
// or exclusive, and returns the function that releases it; ok is false, and nothing is held,
// when somebody does.
func TryLock(path string) (unlock func(), ok bool, err error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, false, fmt.Errorf("opening lock %s: %w", path, err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, false, nil
		}
		return nil, false, fmt.Errorf("locking %s: %w", path, err)
	}
	if !current(path, f) { // removed by the holder this raced with
		release(f)()
		return nil, false, nil
	}
	return release(f), true, nil
}

// lock opens path (created when missing) and takes the flock how on it, giving up when ctx ends;
// the lock is then never held.
func lock(ctx context.Context, path string, how int) (*os.File, error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, fmt.Errorf("opening lock %s: %w", path, err)
	}
	got := make(chan error, 1)
	go func() { got <- syscall.Flock(int(f.Fd()), how) }()
	select {
	case err := <-got:
		if err != nil {
			f.Close()
			return nil, fmt.Errorf("locking %s: %w", path, err)
		}
		return f, nil
	case <-ctx.Done():
		// Closing the file releases the lock should the flock call still succeed.
		go func() { <-got; f.Close() }()
		return nil, fmt.Errorf("waiting for lock %s: %w", path, ctx.Err())
	}
}

// release returns the function that unlocks and closes f.
func release(f *os.File) func() {
	return func() { _ = syscall.Flock(int(f.Fd()), syscall.LOCK_UN); f.Close() }
}

// current reports whether f is still the file at path (not removed, nor replaced, since it was
// opened).
func current(path string, f *os.File) bool {
	held, err := f.Stat()
	if err != nil {
		return false
	}
	now, err := os.Stat(path)
	return err == nil && os.SameFile(held, now)
}
