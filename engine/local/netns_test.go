package local

import (
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// probeEnv makes the test binary a probe (see probe): what an offline stage would try.
const probeEnv = "CONVOY_TEST_SOCKET_PROBE"

func TestMain(m *testing.M) {
	RunNetnsHelper()
	if os.Getenv(probeEnv) == "1" {
		probe(os.Args[1], os.Args[2])
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// probe prints whether the unix socket host answers, what kept/own.txt holds, whether the
// socket kept/own.sock answers, and whether /tmp takes a new file.
func probe(host, kept string) {
	for _, s := range []string{host, filepath.Join(kept, "own.sock")} {
		if c, err := net.Dial("unix", s); err != nil {
			fmt.Printf("unreachable %s: %v\n", s, err)
		} else {
			c.Close()
			fmt.Printf("reached %s\n", s)
		}
	}
	data, err := os.ReadFile(filepath.Join(kept, "own.txt"))
	fmt.Printf("own.txt: %q %v\n", data, err)
	f, err := os.CreateTemp("/tmp", "probe-")
	if err == nil {
		f.Close()
		fmt.Println("tmp writable")
	}
}

// serveUnix listens on a unix socket at path, which anyone may connect to, until the test ends.
func serveUnix(t *testing.T, path string) {
	t.Helper()
	ln, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	if err := os.Chmod(path, 0o777); err != nil {
		t.Fatal(err)
	}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
}

// worldDir is a new directory under parent that every user may enter.
func worldDir(t *testing.T, parent string) string {
	t.Helper()
	dir, err := os.MkdirTemp(parent, "convoy-isolate-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

// TestIsolateHidesHostSockets: a process isolate starts cannot connect to a host listener under
// /tmp, but reaches the files and sockets of the directory it keeps (also under /tmp) and has a
// /tmp of its own to write to. As root, it also runs itself as nobody: the user-namespace path.
func TestIsolateHidesHostSockets(t *testing.T) {
	host, kept := worldDir(t, "/tmp"), worldDir(t, "/tmp")
	hostSock := filepath.Join(host, "host.sock")
	serveUnix(t, hostSock)
	serveUnix(t, filepath.Join(kept, "own.sock"))
	if err := os.WriteFile(filepath.Join(kept, "own.txt"), []byte("mine"), 0o644); err != nil {
		t.Fatal(err)
	}
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	if os.Getenv("CONVOY_TEST_AS_NOBODY") == "" && os.Geteuid() == 0 {
		t.Run("nobody", func(t *testing.T) { runAsNobody(t, self) })
	}
	cmd := exec.Command(self, hostSock, kept)
	cmd.Env = append(os.Environ(), probeEnv+"=1")
	cmd.SysProcAttr = &syscall.SysProcAttr{}
	isolate(cmd, []string{kept})
	out, err := cmd.CombinedOutput()
	if err != nil && strings.Contains(string(out), "convoy:") && os.Geteuid() != 0 {
		t.Skipf("no user namespaces here: %v %s", err, out)
	}
	if err != nil {
		t.Fatalf("isolated probe: %v\n%s", err, out)
	}
	for _, want := range []string{"unreachable " + hostSock, "reached " + filepath.Join(kept, "own.sock"), `own.txt: "mine" <nil>`, "tmp writable"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("isolated probe (euid %d) did not say %q:\n%s", os.Geteuid(), want, out)
		}
	}
	// The control: the same probe, not isolated, reaches the host's socket.
	ctl := exec.Command(self, hostSock, kept)
	ctl.Env = append(os.Environ(), probeEnv+"=1")
	if out, _ := ctl.CombinedOutput(); !strings.Contains(string(out), "reached "+hostSock) {
		t.Errorf("the probe does not reach the host socket even without isolation:\n%s", out)
	}
}

// runAsNobody runs this test again as user nobody, from a copy of the test binary that nobody
// can execute.
func runAsNobody(t *testing.T, self string) {
	bin := filepath.Join(worldDir(t, "/tmp"), "local.test")
	src, err := os.Open(self)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	dst, err := os.OpenFile(bin, os.O_CREATE|os.O_WRONLY, 0o755)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(dst, src); err != nil {
		t.Fatal(err)
	}
	if err := dst.Close(); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "-test.run", "^TestIsolateHidesHostSockets$", "-test.v")
	cmd.Dir = "/"
	cmd.Env = []string{"PATH=/usr/bin:/bin", "CONVOY_TEST_AS_NOBODY=1", "HOME=/"}
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("as nobody: %v\n%s", err, out)
	}
	if strings.Contains(string(out), "--- SKIP") {
		t.Skipf("as nobody:\n%s", out)
	}
	if !strings.Contains(string(out), "--- PASS: TestIsolateHidesHostSockets") {
		t.Errorf("as nobody, the test did not pass:\n%s", out)
	}
}
