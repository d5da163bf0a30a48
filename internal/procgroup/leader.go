package procgroup

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"syscall"
	"time"
)

// SignalLeader sends sig to the group leader only (PostgreSQL's postmaster, for instance, wants SIGINT
// for a fast shutdown and handles its children itself).
func (p *Process) SignalLeader(sig syscall.Signal) error {
	select {
	case <-p.done:
		return nil
	default:
	}
	err := p.cmd.Process.Signal(sig)
	if errors.Is(err, syscall.ESRCH) || errors.Is(err, os.ErrProcessDone) {
		return nil
	}
	return err
}

// Run starts cmd in a process group of its own and waits for it. If ctx is done first, the whole group
// is stopped (SIGTERM, then SIGKILL after grace) and Run returns an error wrapping context.Cause(ctx).
func Run(ctx context.Context, cmd *exec.Cmd, grace time.Duration) (*Process, error) {
	p, err := Start(cmd)
	if err != nil {
		return nil, err
	}
	select {
	case <-p.Done():
		return p, p.Err()
	case <-ctx.Done():
		stopErr := p.Stop(syscall.SIGTERM, grace)
		return p, errors.Join(context.Cause(ctx), stopErr)
	}
}
