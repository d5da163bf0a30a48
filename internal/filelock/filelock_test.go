package filelock

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestLock: a held lock keeps a second locker waiting until its context ends, and is free again
// once released.
func TestLock(t *testing.T) {
	path := filepath.Join(t.TempDir(), "x.lock")
	unlock, err := Lock(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		u, err := Lock(ctx, path)
		if err == nil {
			u()
		}
		done <- err
	}()
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("second Lock while held = %v, want context.Canceled", err)
	}
	unlock()
	again, err := Lock(context.Background(), path)
	if err != nil {
		t.Fatalf("Lock after release: %v", err)
	}
	again()
}

// TestShared: shared locks are held together and keep TryLock out; a Shared waiting while the
// exclusive holder removes the file locks the file created at the path afterwards, so that the
// next TryLock sees it held (on the removed file it would not, and would remove what it guards).
func TestShared(t *testing.T) {
	path := filepath.Join(t.TempDir(), "layer.used")
	a, err := Shared(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	b, err := Shared(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok, err := TryLock(path); ok || err != nil {
		t.Fatalf("TryLock with two shared holders = %v, %v; want not free", ok, err)
	}
	a()
	b()
	unlock, ok, err := TryLock(path)
	if !ok || err != nil {
		t.Fatalf("TryLock once released = %v, %v", ok, err)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	got := make(chan func(), 1)
	go func() {
		u, err := Shared(context.Background(), path)
		if err != nil {
			t.Error(err)
		}
		got <- u
	}()
	waitBlocked(t, fi.Sys().(*syscall.Stat_t).Ino)
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	unlock()
	shared := <-got
	if shared == nil {
		t.FailNow()
	}
	defer shared()
	if _, ok, err := TryLock(path); ok || err != nil {
		t.Errorf("TryLock after the waiter got its lock = %v, %v; want not free (the waiter locked the removed file)", ok, err)
	}
}

// waitBlocked waits until /proc/locks shows a process blocked on a lock of the inode ino.
func waitBlocked(t *testing.T, ino uint64) {
	t.Helper()
	want := ":" + strconv.FormatUint(ino, 10) + " "
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(time.Millisecond) {
		b, err := os.ReadFile("/proc/locks")
		if err != nil {
			t.Skipf("no /proc/locks: %v", err)
		}
		for _, line := range strings.Split(string(b), "\n") {
			if strings.Contains(line, "->") && strings.Contains(line, want) {
				return
			}
		}
	}
	t.Fatal("no waiter blocked on the lock after 10 s")
}
