package local

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
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
	var keep []string
	if err := json.Unmarshal([]byte(os.Getenv(keepEnv)), &keep); err != nil {
		fmt.Fprintf(os.Stderr, "convoy: reading %s: %v\n", keepEnv, err)
		os.Exit(127)
	}
	if err := hideHostSockets(keep); err != nil {
		fmt.Fprintf(os.Stderr, "convoy: hiding the host's sockets from the stage: %v\n", err)
		os.Exit(127)
	}
	env := make([]string, 0, len(os.Environ()))
	for _, kv := range os.Environ() {
		if strings.HasPrefix(kv, netnsHelperEnv+"=") || strings.HasPrefix(kv, keepEnv+"=") {
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

// keepEnv carries to the helper, as a JSON list, the paths under the hidden directories that
// the stage keeps: its service, repository, virtualenv, caches and home.
const keepEnv = "CONVOY_NETNS_KEEP"

// hiddenDirs are where a host keeps the unix sockets of its daemons and users (a listener under
// /tmp, PostgreSQL's /run/postgresql, /run/docker.sock; /var/run is /run): offline stages see
// each as an empty tmpfs, but for the paths they keep.
var hiddenDirs = []string{"/tmp", "/var/tmp", "/run"}

// hideHostSockets runs in the helper, in its own mount namespace: it stops mounts propagating to
// the host, then mounts an empty tmpfs over each of hiddenDirs and binds back the kept paths
// under it (opened before the tmpfs hides them). A hidden directory that a kept path contains or
// equals is left as it is.
func hideHostSockets(keep []string) error {
	if err := unix.Mount("", "/", "", unix.MS_REC|unix.MS_SLAVE, ""); err != nil {
		return fmt.Errorf("making the mount namespace private: %w", err)
	}
	for _, dir := range hiddenDirs {
		if err := hideDir(dir, keep); err != nil {
			return err
		}
	}
	return nil
}

// hideDir mounts an empty tmpfs over dir, then binds back every path of keep under it.
func hideDir(dir string, keep []string) error {
	real, err := filepath.EvalSymlinks(dir)
	if err != nil || real != dir {
		return nil // missing, or a link to another hidden directory (/var/run → /run)
	}
	var under []string
	for _, k := range keep {
		if within(dir, k) {
			return nil // the stage's own files are dir itself, or above it
		}
		if within(k, dir) {
			under = append(under, k)
		}
	}
	fds := make([]int, 0, len(under))
	defer func() {
		for _, fd := range fds {
			unix.Close(fd)
		}
	}()
	var kept []string
	for _, k := range outermost(under) {
		fd, err := unix.Open(k, unix.O_PATH|unix.O_CLOEXEC, 0)
		if err != nil {
			continue // not there: nothing to keep
		}
		fds, kept = append(fds, fd), append(kept, k)
	}
	if err := unix.Mount("tmpfs", dir, "tmpfs", unix.MS_NOSUID|unix.MS_NODEV, "mode=1777"); err != nil {
		return fmt.Errorf("mounting a tmpfs over %s: %w", dir, err)
	}
	for i, k := range kept {
		if err := bindBack(fds[i], k); err != nil {
			return err
		}
	}
	return nil
}

// bindBack makes the mount point path (a directory, or a file for a file) and binds the file fd
// refers to onto it.
func bindBack(fd int, path string) error {
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return fmt.Errorf("keeping %s: %w", path, err)
	}
	if st.Mode&unix.S_IFMT == unix.S_IFDIR {
		if err := os.MkdirAll(path, 0o755); err != nil {
			return fmt.Errorf("keeping %s: %w", path, err)
		}
	} else {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			return fmt.Errorf("keeping %s: %w", path, err)
		}
		if err := os.WriteFile(path, nil, 0o644); err != nil {
			return fmt.Errorf("keeping %s: %w", path, err)
		}
	}
	src := fmt.Sprintf("/proc/self/fd/%d", fd)
	if err := unix.Mount(src, path, "", unix.MS_BIND|unix.MS_REC, ""); err != nil {
		return fmt.Errorf("keeping %s: binding it back: %w", path, err)
	}
	return nil
}

// within reports whether path is dir or under it.
func within(path, dir string) bool {
	return path == dir || strings.HasPrefix(path, strings.TrimSuffix(dir, "/")+"/")
}

// outermost returns paths without those under another of them, sorted.
func outermost(paths []string) []string {
	sorted := append([]string(nil), paths...)
	sort.Strings(sorted)
	var out []string
	for _, p := range sorted {
		if len(out) > 0 && within(p, out[len(out)-1]) {
			continue
		}
		out = append(out, p)
	}
	return out
}

// keepPaths makes paths absolute for keepEnv, each as given and, when a symlink leads
// elsewhere, as resolved too (the stage may use either); missing ones are dropped.
func keepPaths(paths []string) []string {
	var out []string
	for _, p := range paths {
		if p == "" {
			continue
		}
		abs, err := filepath.Abs(p)
		if err != nil {
			continue
		}
		if real, err := filepath.EvalSymlinks(abs); err == nil {
			out = append(out, abs)
			if real != abs {
				out = append(out, real)
			}
		}
	}
	return out
}

// isolate rewrites cmd to start through the helper in new network and mount namespaces (and,
// when not root, a user namespace of its own): only loopback, and none of the host's unix
// sockets under hiddenDirs — but the paths of keep stay reachable.
func isolate(cmd *exec.Cmd, keep []string) {
	self, err := os.Executable()
	if err != nil {
		return
	}
	// The program itself stays reachable: the helper execs it once the mounts are made.
	data, err := json.Marshal(keepPaths(append(keep, filepath.Dir(cmd.Path))))
	if err != nil {
		return
	}
	cmd.Args = append([]string{self, cmd.Path}, cmd.Args[1:]...)
	cmd.Path = self
	cmd.Env = append(cmd.Env, netnsHelperEnv+"=1", keepEnv+"="+string(data))
	cmd.SysProcAttr.Cloneflags |= syscall.CLONE_NEWNET | syscall.CLONE_NEWNS
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
			e.notify(fmt.Sprintf("network isolation is not available here (%v): unit and populate stages run with the host's network and unix sockets", e.netErr))
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
	isolate(cmd, nil)
	if cmd.Path == "/bin/true" {
		return fmt.Errorf("cannot find convoy's own executable")
	}
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("%v %s", err, out)
	}
	return nil
}
