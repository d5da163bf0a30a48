package container

import (
	"fmt"
	"os"
	"os/exec"
	"syscall"
)

// guardScript waits for end of file on its standard input, then deletes the container: "$0" is
// runc, "$1" the state root, "$2" the container's id.
const guardScript = `cat >/dev/null; exec "$0" --root "$1" delete --force "$2"`

// guard deletes a container once convoy lets go of it, even when convoy was killed: `runc run`
// dies with convoy (its parent-death signal), but the container's init is a process runc
// leaves behind, re-parented, when it dies. The guard is a shell in a session of its own that
// reads a pipe only convoy holds open; when convoy closes it (Stop) or exits, however it exits,
// the shell runs `runc delete --force`, which kills the container's processes.
type guard struct {
	w   *os.File
	cmd *exec.Cmd
}

// startGuard starts the guard of container id.
func (r *Runc) startGuard(id string) (*guard, error) {
	rd, w, err := os.Pipe()
	if err != nil {
		return nil, fmt.Errorf("creating the guard pipe of %s: %w", id, err)
	}
	defer rd.Close()
	cmd := exec.Command("/bin/sh", "-c", guardScript, r.path, r.stateRoot, id)
	cmd.Stdin = rd
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		w.Close()
		return nil, fmt.Errorf("starting the guard of %s: %w", id, err)
	}
	return &guard{w: w, cmd: cmd}, nil
}

// release lets the guard delete the container (a no-op once Stop has) and exit, and reaps it.
func (g *guard) release() {
	if g == nil || g.w == nil {
		return
	}
	_ = g.w.Close()
	g.w = nil
	_ = g.cmd.Wait()
}
