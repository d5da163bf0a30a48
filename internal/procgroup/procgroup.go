// Package procgroup starts commands in process groups of their own and takes those groups down again.
//
// Every process convoy starts for integration (a service, the suite, a PostgreSQL server) is the leader
// of a new process group, so that the whole tree it forks (gunicorn workers, pytest's subprocesses) can be
// signalled at once, and so that a SIGINT typed at the terminal reaches convoy only, which then tears
// everything down in order.
package procgroup

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Process is a started command leading its own process group. Its zero value is not usable; create one
// with Start.
type Process struct {
	cmd  *exec.Cmd
	done chan struct{}
	err  error // the result of Wait; read only after done is closed
}

// Start starts cmd as the leader of a new process group that gets SIGKILL when convoy exits, even
// by kill -9 (its parent-death signal; members it forks do not inherit it). cmd.SysProcAttr is
// created if nil, and its Setpgid and Pdeathsig are set; other fields (Credential, for instance)
// are kept.
func Start(cmd *exec.Cmd) (*Process, error) {
	if cmd.SysProcAttr == nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{}
	}
	cmd.SysProcAttr.Setpgid = true
	cmd.SysProcAttr.Pgid = 0
	if err := StartDying(cmd); err != nil {
		return nil, err
	}
	p := &Process{cmd: cmd, done: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		close(p.done)
	}()
	return p, nil
}

// PID returns the process ID of the group leader, which is also the process group ID.
func (p *Process) PID() int { return p.cmd.Process.Pid }

// Done returns a channel that is closed once the group leader has exited and been reaped.
func (p *Process) Done() <-chan struct{} { return p.done }

// Err returns the result of waiting for the group leader (nil for exit status 0). It is meaningful only
// after Done is closed.
func (p *Process) Err() error {
	select {
	case <-p.done:
		return p.err
	default:
		return nil
	}
}

// ExitCode returns the leader's exit code, -1 if it was killed by a signal or has not exited.
func (p *Process) ExitCode() int {
	select {
	case <-p.done:
		return p.cmd.ProcessState.ExitCode()
	default:
		return -1
	}
}

// Signal sends sig to every process of the group.
func (p *Process) Signal(sig syscall.Signal) error {
	err := syscall.Kill(-p.PID(), sig)
	if errors.Is(err, syscall.ESRCH) {
		return nil
	}
	return err
}

// Stop takes the whole group down: it sends sig (SIGTERM when zero) to the group, waits up to grace for
// the leader to exit, then sends SIGKILL to the group (which also removes members that outlived their
// leader) and waits, at most another grace period plus five seconds, until no live member is left. It
// returns an error only if processes of the group are still alive at the end. Stop may be called more
// than once.
func (p *Process) Stop(sig syscall.Signal, grace time.Duration) error {
	if sig == 0 {
		sig = syscall.SIGTERM
	}
	select {
	case <-p.done:
	default:
		_ = p.Signal(sig)
		t := time.NewTimer(grace)
		select {
		case <-p.done:
		case <-t.C:
		}
		t.Stop()
	}
	// The group ID stays reserved while any member lives, so this reaches only our processes.
	_ = p.Signal(syscall.SIGKILL)
	<-p.done
	return Kill(p.PID(), grace+5*time.Second)
}

// Kill sends SIGKILL to the process group pgid, whose leader has been reaped, until no live
// member is left, for at most timeout. It returns an error only if processes of the group are
// still alive at the end.
func Kill(pgid int, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		if err := syscall.Kill(-pgid, syscall.SIGKILL); err != nil && !errors.Is(err, syscall.ESRCH) {
			return fmt.Errorf("killing process group %d: %w", pgid, err)
		}
		alive, err := Alive(pgid)
		if err != nil {
			return fmt.Errorf("checking process group %d: %w", pgid, err)
		}
		if len(alive) == 0 {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("process group %d: processes %v still alive after SIGKILL", pgid, alive)
		}
		time.Sleep(20 * time.Millisecond) // polling /proc for a condition, bounded by deadline
	}
}

// Alive returns the IDs of the live (not zombie) processes whose process group is pgid, read from /proc.
// An empty result means the group is gone.
func Alive(pgid int) ([]int, error) {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return nil, fmt.Errorf("reading /proc: %w", err)
	}
	var pids []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		state, group, ok := stat(pid)
		if !ok || group != pgid || state == 'Z' || state == 'X' {
			continue
		}
		pids = append(pids, pid)
	}
	return pids, nil
}

// ProcessAlive reports whether pid names a live (not zombie) process.
func ProcessAlive(pid int) bool {
	state, _, ok := stat(pid)
	return ok && state != 'Z' && state != 'X'
}

// stat reads the state and process group of pid from /proc/PID/stat.
func stat(pid int) (state byte, pgid int, ok bool) {
	b, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "stat"))
	if err != nil {
		return 0, 0, false
	}
	// The command name is in parentheses and may contain spaces; fields follow the last ')'.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, 0, false
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 3 {
		return 0, 0, false
	}
	pgid, err = strconv.Atoi(f[2])
	if err != nil {
		return 0, 0, false
	}
	return f[0][0], pgid, true
}
