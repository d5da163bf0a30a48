package procgroup

import (
	"bufio"
	"context"
	"errors"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// startTree starts sh running script, which must print the PIDs of the children it starts, one per
// line, then "ready"; it returns the process and those PIDs.
func startTree(t *testing.T, script string) (*Process, []int) {
	t.Helper()
	cmd := exec.Command("sh", "-c", script)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	p, err := Start(cmd)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = p.Stop(syscall.SIGKILL, 0) })
	var pids []int
	sc := bufio.NewScanner(out)
	for sc.Scan() && sc.Text() != "ready" {
		pid, err := strconv.Atoi(strings.TrimSpace(sc.Text()))
		if err != nil {
			t.Fatalf("unexpected output %q", sc.Text())
		}
		pids = append(pids, pid)
	}
	return p, pids
}

func TestStop(t *testing.T) {
	tests := []struct {
		name   string
		script string
		grace  time.Duration
	}{
		{"leader and children exit on SIGTERM", "sleep 1000 & echo $!; sleep 1000 & echo $!; echo ready; wait", 5 * time.Second},
		{"a child ignoring SIGTERM outlives the leader", "(trap '' TERM; exec sleep 1000) & echo $!; echo ready; exec sleep 1000", 5 * time.Second},
		{"SIGTERM ignored: SIGKILL after the grace period", "trap '' TERM; sleep 1000 & echo $!; echo ready; while :; do wait; done", 200 * time.Millisecond},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, children := startTree(t, tt.script)
			if alive, _ := Alive(p.PID()); len(alive) < 1+len(children) {
				t.Fatalf("group %d has %v alive, want the leader and %v", p.PID(), alive, children)
			}
			if err := p.Stop(syscall.SIGTERM, tt.grace); err != nil {
				t.Fatalf("Stop: %v", err)
			}
			for _, pid := range append(children, p.PID()) {
				if ProcessAlive(pid) {
					t.Errorf("process %d alive after Stop", pid)
				}
			}
			if alive, _ := Alive(p.PID()); len(alive) > 0 {
				t.Errorf("group %d still has %v after Stop", p.PID(), alive)
			}
			if err := p.Stop(syscall.SIGTERM, tt.grace); err != nil {
				t.Errorf("second Stop: %v", err)
			}
		})
	}
}

func TestRun(t *testing.T) {
	p, err := Run(context.Background(), exec.Command("sh", "-c", "exit 7"), time.Second)
	if p == nil || p.ExitCode() != 7 || err == nil {
		t.Errorf("Run(exit 7) = exit code %d, %v", p.ExitCode(), err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	p, err = Run(ctx, exec.Command("sleep", "1000"), time.Second)
	if !errors.Is(err, context.Canceled) {
		t.Errorf("Run with a cancelled context: err = %v", err)
	}
	if ProcessAlive(p.PID()) {
		t.Errorf("process %d alive after Run returned", p.PID())
	}
}
