package filekind

import (
	"net"
	"os"
	"path/filepath"
	"syscall"
	"testing"
)

// TestOf names real files of each kind.
func TestOf(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	sock := filepath.Join(dir, "sock")
	l, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	for path, want := range map[string]string{dir: "directory", fifo: "named pipe", "/dev/null": "device", sock: "socket"} {
		st, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		if got := Of(st.Mode()); got != want {
			t.Errorf("Of(%s) = %q, want %q", path, got, want)
		}
	}
}
