package procgroup

import (
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// TestChildOutlivesStartingThread: a child started from a goroutine whose thread then ends (Go
// ends the thread of a goroutine that exits locked to it) keeps running, because Start ties its
// parent-death signal to a thread that lives as long as the process. The control, a plain
// exec.Cmd with Pdeathsig started from such a thread, is killed when the thread ends: that is
// what the test would see without the locked starter.
func TestChildOutlivesStartingThread(t *testing.T) {
	for _, tc := range []struct {
		name      string
		start     func(t *testing.T, cmd *exec.Cmd) int
		wantAlive bool
	}{
		{"procgroup.Start", func(t *testing.T, cmd *exec.Cmd) int {
			p, err := Start(cmd)
			if err != nil {
				t.Error(err)
				return 0
			}
			t.Cleanup(func() { _ = p.Stop(syscall.SIGKILL, 0) })
			return p.PID()
		}, true},
		{"plain Pdeathsig (control)", func(t *testing.T, cmd *exec.Cmd) int {
			cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
			if err := cmd.Start(); err != nil {
				t.Error(err)
				return 0
			}
			t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
			return cmd.Process.Pid
		}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := startFromEndingThread(t, tc.start)
			waitFor(t, "the starting thread to end", func() bool { return !exists("/proc/self/task/" + strconv.Itoa(s.tid)) })
			if !tc.wantAlive {
				waitFor(t, "the child to be killed", func() bool { return !ProcessAlive(s.pid) })
				return
			}
			if !ProcessAlive(s.pid) || killPending(t, s.pid) {
				t.Fatalf("child %d was killed when the thread that asked for it ended", s.pid)
			}
		})
	}
}

type started struct{ pid, tid int }

// startFromEndingThread runs start on a thread that ends once it returns, and returns the child's
// PID and the thread's ID.
func startFromEndingThread(t *testing.T, start func(*testing.T, *exec.Cmd) int) started {
	for {
		ch := make(chan started, 1)
		go func() {
			runtime.LockOSThread() // never unlocked: the thread ends with the goroutine
			if tid := unix.Gettid(); tid == os.Getpid() {
				// The main thread never ends (Go wedges it instead); exiting locked to it keeps
				// the next goroutine off it.
				ch <- started{tid: tid}
				return
			}
			ch <- started{start(t, exec.Command("sleep", "300")), unix.Gettid()}
		}()
		s := <-ch
		if s.tid == os.Getpid() {
			continue
		}
		if s.pid == 0 {
			t.FailNow()
		}
		return s
	}
}

// waitFor polls cond until it holds, failing the test after 10 seconds.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond) // polling a condition, bounded by deadline
	}
}

func exists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

// killPending reports whether SIGKILL is pending for pid (sent, not yet acted on).
func killPending(t *testing.T, pid int) bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return true // gone meanwhile
	}
	for _, line := range strings.Split(string(b), "\n") {
		k, v, _ := strings.Cut(line, ":")
		if k != "SigPnd" && k != "ShdPnd" {
			continue
		}
		mask, err := strconv.ParseUint(strings.TrimSpace(v), 16, 64)
		if err != nil {
			t.Fatalf("parsing %q: %v", line, err)
		}
		if mask&(1<<(uint(syscall.SIGKILL)-1)) != 0 {
			return true
		}
	}
	return false
}

// TestChildDiesWithParent: kill -9 of a process that started children with Start (from a
// goroutine whose thread has ended, and from one that lives on) kills those children.
func TestChildDiesWithParent(t *testing.T) {
	parent := exec.Command(os.Args[0], "-test.run=^TestHelperStartChildren$")
	parent.Env = append(os.Environ(), "PROCGROUP_HELPER=1")
	out, err := parent.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := parent.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = parent.Process.Kill(); _ = parent.Wait() })
	var pids []int
	for range 2 {
		var pid int
		if _, err := fmt.Fscan(out, &pid); err != nil {
			t.Fatalf("reading the helper's children: %v", err)
		}
		pids = append(pids, pid)
	}
	for _, pid := range pids {
		if !ProcessAlive(pid) {
			t.Fatalf("child %d is not running", pid)
		}
	}
	if err := parent.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	for _, pid := range pids {
		waitFor(t, fmt.Sprintf("child %d to die with its parent", pid), func() bool { return !ProcessAlive(pid) })
	}
}

// TestHelperStartChildren is the parent of TestChildDiesWithParent: it starts two children,
// prints their PIDs and waits to be killed.
func TestHelperStartChildren(t *testing.T) {
	if os.Getenv("PROCGROUP_HELPER") != "1" {
		t.Skip("helper process of TestChildDiesWithParent")
	}
	start := func(_ *testing.T, cmd *exec.Cmd) int {
		p, err := Start(cmd)
		if err != nil {
			panic(err)
		}
		return p.PID()
	}
	a := startFromEndingThread(t, start)
	b := start(t, exec.Command("sleep", "300"))
	fmt.Println(a.pid, b)
	select {}
}
