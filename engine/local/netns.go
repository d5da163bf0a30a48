package local

import (
	"fmt"
	"os"
	"os/exec"
	"syscall"

	"golang.org/x/sys/unix"
)

// netnsHelperEnv marks a convoy process started in a fresh network namespace whose only job is
// to bring the loopback interface up and exec the stage's program.
const netnsHelperEnv = "CONVOY_NETNS_EXEC"

// RunNetnsHelper must be called first thing in main (and TestMain): when this process was
// started as the network-namespace helper, it brings loopback up and execs the stage's
// program, never returning. Otherwise it returns at once.
func RunNetnsHelper() {
	if os.Getenv(netnsHelperEnv) != "1" {
		return
	}
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "convoy: network helper started without a program")
		os.Exit(127)
	}
	if err := loopbackUp(); err != nil {
		fmt.Fprintf(os.Stderr, "convoy: bringing loopback up in the stage's network namespace: %v\n", err)
		os.Exit(127)
	}
	env := make([]string, 0, len(os.Environ()))
	for _, kv := range os.Environ() {
		if len(kv) > len(netnsHelperEnv) && kv[:len(netnsHelperEnv)+1] == netnsHelperEnv+"=" {
			continue
		}
		env = append(env, kv)
	}
	err := syscall.Exec(os.Args[1], os.Args[1:], env)
	fmt.Fprintf(os.Stderr, "convoy: exec %s: %v\n", os.Args[1], err)
	os.Exit(127)
}

// loopbackUp sets the IFF_UP flag on "lo" in the current network namespace.
func loopbackUp() error {
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	ifr, err := unix.NewIfreq("lo")
	if err != nil {
		return err
	}
	if err := unix.IoctlIfreq(fd, unix.SIOCGIFFLAGS, ifr); err != nil {
		return err
	}
	ifr.SetUint16(ifr.Uint16() | unix.IFF_UP)
	return unix.IoctlIfreq(fd, unix.SIOCSIFFLAGS, ifr)
}

// isolate rewrites cmd to start through the helper in a new network namespace (and, when not
// root, a user namespace of its own).
func isolate(cmd *exec.Cmd) {
	self, err := os.Executable()
	if err != nil {
		return
	}
	cmd.Args = append([]string{self, cmd.Path}, cmd.Args[1:]...)
	cmd.Path = self
	cmd.Env = append(cmd.Env, netnsHelperEnv+"=1")
	cmd.SysProcAttr.Cloneflags |= syscall.CLONE_NEWNET
	if os.Geteuid() != 0 {
		cmd.SysProcAttr.Cloneflags |= syscall.CLONE_NEWUSER
		// Like unshare -rn: the caller is root inside its own user namespace, which lets the
		// helper configure the namespace's loopback.
		cmd.SysProcAttr.UidMappings = []syscall.SysProcIDMap{{ContainerID: 0, HostID: os.Geteuid(), Size: 1}}
		cmd.SysProcAttr.GidMappings = []syscall.SysProcIDMap{{ContainerID: 0, HostID: os.Getegid(), Size: 1}}
		cmd.SysProcAttr.GidMappingsEnableSetgroups = false
	}
}

// offlineSupported reports whether stages can get a network namespace here, probing once by
// running the helper with /bin/true. When they cannot, it says so once through the notifier.
func (e *Engine) offlineSupported() bool {
	e.netOnce.Do(func() {
		e.netErr = ProbeNetns()
		if e.netErr != nil {
			e.notify(fmt.Sprintf("network isolation is not available here (%v): unit and populate stages run with the host's network", e.netErr))
		}
	})
	return e.netErr == nil
}

// OfflineSupported reports whether unit and populate stages run without network here.
func (e *Engine) OfflineSupported() bool { return e.offlineSupported() }

// ProbeNetns reports why stages cannot get a network namespace of their own here (nil when they
// can), by running the helper (RunNetnsHelper, in this executable) with /bin/true in one.
func ProbeNetns() error {
	cmd := exec.Command("/bin/true")
	cmd.SysProcAttr = &syscall.SysProcAttr{}
	isolate(cmd)
	if cmd.Path == "/bin/true" {
		return fmt.Errorf("cannot find convoy's own executable")
	}
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("%v %s", err, out)
	}
	return nil
}
