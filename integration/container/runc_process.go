package container

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strconv"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/convoy-ci/convoy/internal/procgroup"
)

// killWait bounds the wait for a container to exit after SIGKILL.
const killWait = 10 * time.Second

// runcProcess is a command running in a container under a foreground `runc run`.
type runcProcess struct {
	rt         *Runc
	id         string
	bundle     string
	guard      *guard
	cliProcess            // runc run
	mu         sync.Mutex // serialises Stop
}

// Stop sends sig to the container (`runc kill`), waits up to grace for it and runc run to exit,
// then kills what is left (`runc kill --all KILL`, and SIGKILL to runc's process group), deletes
// the container (`runc delete --force`) and removes its bundle. It returns an error only when
// something of the container remains. It may be called more than once.
func (p *runcProcess) Stop(sig syscall.Signal, grace time.Duration) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if sig == 0 {
		sig = syscall.SIGTERM
	}
	if !p.exited(0) {
		p.signal(sig)
		if !p.exited(grace) {
			_, _ = p.rt.run("kill", "--all", p.id, "KILL")
			p.exited(killWait)
		}
	}
	var errs []error
	if err := p.pg.Stop(syscall.SIGKILL, 0); err != nil {
		errs = append(errs, fmt.Errorf("stopping runc run of %s: %w", p.id, err))
	}
	if _, err := p.rt.run("delete", "--force", p.id); err != nil {
		errs = append(errs, err)
	}
	if st, ok := p.rt.state(p.id); ok {
		errs = append(errs, fmt.Errorf("container %s is still %s (pid %d)", p.id, st.Status, st.Pid))
	}
	if _, err := os.Lstat(p.rt.stateEntry(p.id)); !errors.Is(err, fs.ErrNotExist) {
		errs = append(errs, fmt.Errorf("runc's state of %s is still in %s", p.id, p.rt.stateEntry(p.id)))
	}
	if err := os.RemoveAll(p.bundle); err != nil {
		errs = append(errs, fmt.Errorf("removing the bundle of %s: %w", p.id, err))
	}
	p.guard.release()
	return errors.Join(errs...)
}

// signal sends sig to the container's init process. Before runc has created the container, runc
// run itself gets it: it forwards signals to the container once it has started it.
func (p *runcProcess) signal(sig syscall.Signal) {
	if _, err := p.rt.run("kill", p.id, strconv.Itoa(int(sig))); err != nil {
		_ = p.pg.SignalLeader(sig)
	}
}

// exited waits up to timeout for runc run to exit and then for the container's init process
// (which outlives runc when runc was killed), and reports whether both have.
func (p *runcProcess) exited(timeout time.Duration) bool {
	deadline := time.Now().Add(timeout)
	select {
	case <-p.pg.Done():
	default:
		t := time.NewTimer(timeout)
		defer t.Stop()
		select {
		case <-p.pg.Done():
		case <-t.C:
			return false
		}
	}
	st, ok := p.rt.state(p.id)
	if !ok || st.Status == "stopped" || st.Pid <= 0 {
		return true
	}
	return waitPID(st.Pid, time.Until(deadline))
}

// waitPID waits up to timeout for process pid (not a child of convoy's) to exit, through a
// pidfd, and reports whether it has.
func waitPID(pid int, timeout time.Duration) bool {
	fd, err := unix.PidfdOpen(pid, 0)
	if errors.Is(err, unix.ESRCH) {
		return true
	}
	if err != nil { // no pidfds (Linux < 5.3): tell only whether it is alive now
		return !procgroup.ProcessAlive(pid)
	}
	defer unix.Close(fd)
	deadline := time.Now().Add(timeout)
	for {
		ms := max(int(time.Until(deadline).Milliseconds()), 0)
		n, err := unix.Poll([]unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}, ms)
		if errors.Is(err, unix.EINTR) {
			continue
		}
		return err == nil && n > 0
	}
}
