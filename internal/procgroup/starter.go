package procgroup

import (
	"os/exec"
	"runtime"
	"sync"
	"syscall"
)

// The kernel sends a child its parent-death signal when the *thread* that forked it exits, not
// the process (prctl(2); golang/go#27505). Go ends a thread when a goroutine locked to it exits,
// so a child started from an arbitrary goroutine could be killed while convoy still runs. Every
// child with a parent-death signal is therefore started from one goroutine locked, for the life
// of the process, to a thread of its own.
var starter struct {
	once sync.Once
	reqs chan startRequest
}

type startRequest struct {
	cmd  *exec.Cmd
	done chan error
}

// StartDying starts cmd (cmd.Start: the caller waits for it) so that it gets SIGKILL when
// convoy exits, however it exits (kill -9 included). cmd.SysProcAttr must not be nil.
func StartDying(cmd *exec.Cmd) error {
	cmd.SysProcAttr.Pdeathsig = syscall.SIGKILL
	starter.once.Do(func() {
		starter.reqs = make(chan startRequest)
		go serveStarts(starter.reqs)
	})
	done := make(chan error, 1)
	starter.reqs <- startRequest{cmd: cmd, done: done}
	return <-done
}

// serveStarts starts every requested command from the thread it locks and never unlocks.
func serveStarts(reqs <-chan startRequest) {
	runtime.LockOSThread()
	for r := range reqs {
		r.done <- r.cmd.Start()
	}
}
