package pgcluster

import (
	"context"
	"errors"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/convoy-ci/convoy/integration/internal/freeport"
	"github.com/convoy-ci/convoy/integration/internal/pgtest"
	"github.com/convoy-ci/convoy/internal/procgroup"
)

func TestStartStop(t *testing.T) {
	bin := testBinDir(t)
	ctx := context.Background()
	logPath := t.TempDir() + "/postgres.log"
	c, err := Start(ctx, WithBinDir(bin), WithLogFile(logPath))
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(func() { _ = c.Stop(ctx) })

	conn, err := pgx.Connect(ctx, c.URL())
	if err != nil {
		t.Fatalf("connecting to %s: %v", c.URL(), err)
	}
	var addr string
	if err := conn.QueryRow(ctx, "select inet_server_addr()::text").Scan(&addr); err != nil {
		t.Fatal(err)
	}
	if addr != "127.0.0.1/32" {
		t.Errorf("server address = %q, want 127.0.0.1/32", addr)
	}
	_ = conn.Close(ctx)

	pid, dir := c.PID(), c.Dir()
	if want := DefaultParentDir(); filepath.Dir(dir) != want {
		t.Errorf("cluster directory %q, want one in %q", dir, want)
	}
	if err := c.Stop(ctx); err != nil {
		t.Fatalf("Stop: %v", err)
	}
	if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("cluster directory %q still there after Stop (stat: %v)", dir, err)
	}
	if procgroup.ProcessAlive(pid) {
		t.Errorf("postmaster %d still alive after Stop", pid)
	}
	if alive, _ := procgroup.Alive(pid); len(alive) > 0 {
		t.Errorf("postmaster's process group %d still has processes %v", pid, alive)
	}
	if fi, err := os.Stat(logPath); err != nil || fi.Size() == 0 {
		t.Errorf("log %q not kept after Stop (%v)", logPath, err)
	}
	if err := c.Stop(ctx); err != nil {
		t.Errorf("second Stop: %v", err)
	}
}

func TestInMemory(t *testing.T) {
	if !inMemory(MemoryDir, 0) {
		t.Skipf("%s is not a tmpfs here: clusters go to %s", MemoryDir, os.TempDir())
	}
	if inMemory(MemoryDir, 1<<62) {
		t.Errorf("inMemory(%s, 4 EiB) = true: a tmpfs without the room asked for must not be used", MemoryDir)
	}
	if inMemory("/nonexistent-convoy-dir", 0) {
		t.Error("inMemory of a missing directory = true")
	}
}

func TestStartSkipsTakenPort(t *testing.T) {
	bin := testBinDir(t)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	taken := l.Addr().(*net.TCPAddr).Port
	calls := 0
	pick := func(o *options) {
		o.pickPort = func() (int, error) {
			calls++
			if calls == 1 {
				return taken, nil
			}
			return freeport.Pick()
		}
	}
	ctx := context.Background()
	c, err := Start(ctx, WithBinDir(bin), pick)
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	defer c.Stop(ctx)
	if c.Port() == taken || calls < 2 {
		t.Errorf("cluster on port %d after %d picks; port %d was taken", c.Port(), calls, taken)
	}
	conn, err := pgx.Connect(ctx, c.URL())
	if err != nil {
		t.Fatalf("connecting on port %s: %v", strconv.Itoa(c.Port()), err)
	}
	_ = conn.Close(ctx)
}

func TestStartNoBinaries(t *testing.T) {
	_, err := Start(context.Background(), WithBinDir(t.TempDir()))
	if !errors.Is(err, ErrNoBinaries) {
		t.Fatalf("Start with an empty bin dir: err = %v, want ErrNoBinaries", err)
	}
}

func TestStartCancelled(t *testing.T) {
	bin := testBinDir(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	parent := searchableTempDir(t)
	start := time.Now()
	_, err := Start(ctx, WithBinDir(bin), WithParentDir(parent))
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("Start with a cancelled context: err = %v, want context.Canceled", err)
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("Start took %s to give up", d)
	}
	if entries, _ := os.ReadDir(parent); len(entries) != 0 {
		t.Errorf("cancelled Start left %d entries in %q", len(entries), parent)
	}
}

// testBinDir returns the PostgreSQL programs' directory, or skips (fails under CI) without them.
func testBinDir(t *testing.T) string {
	t.Helper()
	dir, err := FindBinDir()
	if err != nil {
		if !errors.Is(err, ErrNoBinaries) {
			t.Fatal(err)
		}
		pgtest.Missing(t, err)
	}
	return dir
}

// searchableTempDir returns a t.TempDir() that every user can search, so that a cluster run as another
// user (when the test runs as root) can be created inside it.
func searchableTempDir(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	for _, d := range []string{filepath.Dir(dir), dir} {
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func TestStartParentNotReachable(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("only root runs PostgreSQL as another user")
	}
	bin := testBinDir(t)
	parent := t.TempDir() // mode 0700, owned by root
	_, err := Start(context.Background(), WithBinDir(bin), WithParentDir(parent))
	if err == nil || !strings.Contains(err.Error(), "cannot reach it") {
		t.Fatalf("Start in a root-only directory: err = %v, want one saying the postgres user cannot reach it", err)
	}
}
