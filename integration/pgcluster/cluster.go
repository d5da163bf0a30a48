// Package pgcluster runs a throwaway PostgreSQL cluster: initdb into a temporary directory (in
// memory when the machine has room, see DefaultParentDir), a postgres server listening only on
// 127.0.0.1 on a free port, and, when done, the server stopped and the directory removed.
//
// The server runs in the foreground as a child of the calling process (in a process group of its own),
// not daemonised by pg_ctl, so that its PID is known and its log goes to a file the caller chooses.
// Stop sends it SIGQUIT, which is what `pg_ctl stop -m immediate` does: nothing of the cluster is
// kept, so there is nothing to write out first. Its dynamic shared memory lives in the cluster
// directory (dynamic_shared_memory_type=mmap), so that it goes with the directory: in /dev/shm,
// where PostgreSQL keeps it by default, a postmaster killed with its owner (SIGKILL) left it
// behind for good, a megabyte each time.
//
// PostgreSQL refuses to run as root. When the caller is root, initdb and postgres run as the
// "postgres" user (see WithOSUser), which owns the cluster directory.
package pgcluster

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/convoy-ci/convoy/integration/internal/freeport"
	"github.com/convoy-ci/convoy/internal/procgroup"
)

// Superuser is the name of the cluster's superuser role, whatever OS user runs the server.
const Superuser = "postgres"

// Defaults used when no option overrides them.
const (
	DefaultOSUser       = "postgres"
	DefaultStartTimeout = 60 * time.Second
	DefaultStopTimeout  = 30 * time.Second
)

// maxPortAttempts bounds how often Start picks another port when the chosen one was taken meanwhile.
const maxPortAttempts = 5

// Option configures Start.
type Option func(*options)

type options struct {
	binDir       string
	parentDir    string
	logPath      string
	osUser       string
	startTimeout time.Duration
	pickPort     func() (int, error)
}

// WithBinDir uses the PostgreSQL programs in dir instead of searching for them with FindBinDir.
func WithBinDir(dir string) Option { return func(o *options) { o.binDir = dir } }

// WithParentDir creates the cluster's temporary directory inside dir instead of
// DefaultParentDir(). When running as root, dir must be traversable by the OS user that runs the
// server.
func WithParentDir(dir string) Option { return func(o *options) { o.parentDir = dir } }

// WithLogFile writes the server's log (and initdb's output) to path, which survives Stop. By default
// the log is kept inside the cluster directory and removed with it.
func WithLogFile(path string) Option { return func(o *options) { o.logPath = path } }

// WithOSUser names the OS user that runs initdb and postgres when the caller is root (DefaultOSUser by
// default). It is ignored when the caller is not root.
func WithOSUser(name string) Option { return func(o *options) { o.osUser = name } }

// WithStartTimeout bounds how long Start waits for the server to accept connections
// (DefaultStartTimeout by default).
func WithStartTimeout(d time.Duration) Option { return func(o *options) { o.startTimeout = d } }

// Cluster is a running throwaway cluster. Its methods are safe for concurrent use.
type Cluster struct {
	dir      string
	binDir   string
	port     int
	password string
	logPath  string
	logFile  *os.File
	proc     *procgroup.Process

	stopOnce sync.Once
	stopErr  error
}

// Start creates and starts a throwaway cluster and returns once it accepts connections. On error,
// everything Start created is removed again. ctx bounds the whole start; cancelling it afterwards has
// no effect on the running cluster (call Stop).
func Start(ctx context.Context, opts ...Option) (_ *Cluster, err error) {
	o := options{
		osUser:       DefaultOSUser,
		startTimeout: DefaultStartTimeout,
		pickPort:     freeport.Pick,
	}
	for _, opt := range opts {
		opt(&o)
	}
	if o.parentDir == "" {
		o.parentDir = DefaultParentDir()
	}
	if o.binDir == "" {
		if o.binDir, err = FindBinDir(); err != nil {
			return nil, err
		}
	} else if !hasAll(o.binDir) {
		return nil, fmt.Errorf("PostgreSQL directory %q lacks one of %s: %w", o.binDir, strings.Join(binaries, ", "), ErrNoBinaries)
	}

	if err := context.Cause(ctx); err != nil {
		return nil, fmt.Errorf("starting a throwaway PostgreSQL cluster: %w", err)
	}
	cred, err := credential(o.osUser)
	if err != nil {
		return nil, err
	}
	if cred != nil {
		if err := traversable(o.parentDir, cred); err != nil {
			return nil, fmt.Errorf("cluster directory parent %q: user %q, which runs PostgreSQL, cannot reach it: %w", o.parentDir, o.osUser, err)
		}
	}
	dir, err := os.MkdirTemp(o.parentDir, "convoy-pg-")
	if err != nil {
		return nil, fmt.Errorf("creating cluster directory in %q: %w", o.parentDir, err)
	}
	c := &Cluster{dir: dir, binDir: o.binDir}
	defer func() {
		if err != nil {
			if serr := c.Stop(context.WithoutCancel(ctx)); serr != nil {
				err = errors.Join(err, serr)
			}
		}
	}()
	if err := writeOwner(dir); err != nil {
		return c, err
	}
	if cred != nil {
		if err := os.Chown(dir, int(cred.Uid), int(cred.Gid)); err != nil {
			return c, fmt.Errorf("giving cluster directory %q to user %q: %w", dir, o.osUser, err)
		}
	}
	c.logPath = o.logPath
	if c.logPath == "" {
		c.logPath = filepath.Join(dir, "postgres.log")
	}
	if c.logFile, err = os.OpenFile(c.logPath, os.O_CREATE|os.O_TRUNC|os.O_WRONLY|os.O_APPEND, 0o644); err != nil {
		return c, fmt.Errorf("creating PostgreSQL log %q: %w", c.logPath, err)
	}

	c.password, err = randomHex(16)
	if err != nil {
		return c, err
	}
	pwfile := filepath.Join(dir, "pwfile")
	if err := os.WriteFile(pwfile, []byte(c.password+"\n"), 0o600); err != nil {
		return c, fmt.Errorf("writing password file %q: %w", pwfile, err)
	}
	if cred != nil {
		if err := os.Chown(pwfile, int(cred.Uid), int(cred.Gid)); err != nil {
			return c, fmt.Errorf("giving %q to user %q: %w", pwfile, o.osUser, err)
		}
	}

	initdb := c.command(cred, "initdb",
		"-D", c.DataDir(), "-U", Superuser, "--pwfile", pwfile,
		"--auth-local", "trust", "--auth-host", "scram-sha-256",
		"-E", "UTF8", "--locale", "C", "--no-sync")
	var out bytes.Buffer
	initdb.Stdout, initdb.Stderr = &out, &out
	_, err = procgroup.Run(ctx, initdb, 5*time.Second)
	_, _ = c.logFile.Write(out.Bytes())
	if err != nil {
		return c, fmt.Errorf("initdb -D %q: %w\n%s", c.DataDir(), err, indent(tail(out.String(), 20)))
	}
	_ = os.Remove(pwfile)

	ctx, cancel := context.WithTimeout(ctx, o.startTimeout)
	defer cancel()
	for attempt := 1; ; attempt++ {
		if c.port, err = o.pickPort(); err != nil {
			return c, err
		}
		portTaken, err := c.startServer(ctx, cred, o.startTimeout)
		if err == nil {
			return c, nil
		}
		if !portTaken || attempt == maxPortAttempts {
			return c, err
		}
		// Another process bound the port between picking and starting: pick another one.
	}
}

// startServer starts postgres on c.port and waits until it accepts connections. portTaken reports
// that it failed because the port was bound by someone else.
func (c *Cluster) startServer(ctx context.Context, cred *syscall.Credential, timeout time.Duration) (portTaken bool, err error) {
	logStart, _ := c.logFile.Seek(0, 1)
	cmd := c.command(cred, "postgres",
		"-D", c.DataDir(),
		"-p", strconv.Itoa(c.port),
		"-c", "listen_addresses="+freeport.Host,
		"-c", "unix_socket_directories="+c.dir,
		"-c", "logging_collector=off",
		"-c", "fsync=off",
		"-c", "synchronous_commit=off",
		"-c", "full_page_writes=off",
		"-c", "dynamic_shared_memory_type=mmap",
		"-c", "max_connections=200")
	cmd.Stdout, cmd.Stderr = c.logFile, c.logFile
	p, err := procgroup.Start(cmd)
	if err != nil {
		return false, fmt.Errorf("starting %q: %w", cmd.Path, err)
	}
	c.proc = p

	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	var lastErr error
	for {
		if lastErr = c.ping(ctx, p.Done()); lastErr == nil {
			return false, nil
		}
		select {
		case <-p.Done():
			c.proc = nil
			log := c.logSince(logStart)
			taken := strings.Contains(log, "already in use") || !freeport.Free(c.port)
			return taken, fmt.Errorf("postgres on port %d exited (%v) before accepting connections; its log %q ends:\n%s",
				c.port, p.Err(), c.logPath, indent(tail(log, 20)))
		case <-ctx.Done():
			if context.Cause(ctx) == context.DeadlineExceeded {
				return false, fmt.Errorf("postgres on port %d did not accept connections within %s (last error: %v); its log %q ends:\n%s",
					c.port, timeout, lastErr, c.logPath, indent(tail(c.logSince(logStart), 20)))
			}
			return false, fmt.Errorf("starting postgres: %w", context.Cause(ctx))
		case <-tick.C:
		}
	}
}

// ping opens and closes one real connection to the server, giving up when exited is closed.
func (c *Cluster) ping(ctx context.Context, exited <-chan struct{}) error {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	go func() {
		select {
		case <-exited:
			cancel()
		case <-ctx.Done():
		}
	}()
	conn, err := pgx.Connect(ctx, c.URL())
	if err != nil {
		return err
	}
	return conn.Close(ctx)
}

// command builds an exec.Cmd for one of the cluster's programs with a minimal environment, run as cred
// when it is not nil.
func (c *Cluster) command(cred *syscall.Credential, name string, args ...string) *exec.Cmd {
	cmd := exec.Command(filepath.Join(c.binDir, name), args...)
	cmd.Dir = c.dir
	cmd.Env = []string{"PATH=" + c.binDir + ":/usr/bin:/bin", "LC_ALL=C", "LANG=C", "TZ=UTC"}
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
	return cmd
}

// URL returns a connection URL for the superuser to the "postgres" database over TCP on 127.0.0.1.
func (c *Cluster) URL() string {
	u := url.URL{
		Scheme: "postgresql",
		User:   url.UserPassword(Superuser, c.password),
		Host:   net.JoinHostPort(freeport.Host, strconv.Itoa(c.port)),
		Path:   "/postgres",
	}
	return u.String()
}

// Port returns the TCP port the server listens on (127.0.0.1 only).
func (c *Cluster) Port() int { return c.port }

// Dir returns the cluster's temporary directory (data directory, Unix socket), removed by Stop.
func (c *Cluster) Dir() string { return c.dir }

// DataDir returns the data directory inside Dir.
func (c *Cluster) DataDir() string { return filepath.Join(c.dir, "data") }

// BinDir returns the directory of the PostgreSQL programs in use (psql is usually there too).
func (c *Cluster) BinDir() string { return c.binDir }

// LogPath returns the path of the server's log.
func (c *Cluster) LogPath() string { return c.logPath }

// PID returns the postmaster's process ID (also its process group ID), 0 when it is not running.
func (c *Cluster) PID() int {
	if c.proc == nil {
		return 0
	}
	return c.proc.PID()
}

// Stop shuts the server down (an immediate shutdown: SIGQUIT, like `pg_ctl stop -m immediate`,
// with no shutdown checkpoint — the cluster directory is removed right after; SIGKILL to its
// process group if it has not exited when ctx is done or after DefaultStopTimeout) and removes
// the cluster directory. Only the first call does anything; later calls return its result.
func (c *Cluster) Stop(ctx context.Context) error {
	c.stopOnce.Do(func() {
		var errs []error
		if p := c.proc; p != nil {
			_ = p.SignalLeader(syscall.SIGQUIT)
			t := time.NewTimer(DefaultStopTimeout)
			select {
			case <-p.Done():
			case <-ctx.Done():
			case <-t.C:
			}
			t.Stop()
			if err := p.Stop(syscall.SIGKILL, 0); err != nil {
				errs = append(errs, fmt.Errorf("stopping postgres (pid %d): %w", p.PID(), err))
			}
		}
		if c.logFile != nil {
			_ = c.logFile.Close()
		}
		if err := os.RemoveAll(c.dir); err != nil {
			errs = append(errs, fmt.Errorf("removing cluster directory %q: %w", c.dir, err))
		}
		c.stopErr = errors.Join(errs...)
	})
	return c.stopErr
}

// credential returns the credential to run PostgreSQL with: nil unless the caller is root, in which
// case that of the OS user name.
func credential(name string) (*syscall.Credential, error) {
	if os.Geteuid() != 0 {
		return nil, nil
	}
	u, err := user.Lookup(name)
	if err != nil {
		return nil, fmt.Errorf("running as root, PostgreSQL must run as another user, and user %q cannot be used: %w "+
			"(installing Debian's postgresql package creates it; or pass --postgres URL)", name, err)
	}
	uid, err1 := strconv.ParseUint(u.Uid, 10, 32)
	gid, err2 := strconv.ParseUint(u.Gid, 10, 32)
	if err := errors.Join(err1, err2); err != nil {
		return nil, fmt.Errorf("user %q: %w", name, err)
	}
	return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid), NoSetGroups: true}, nil
}

// traversable checks that every directory from dir up to the root can be searched by cred's user
// (by owner, group or other permission bits).
func traversable(dir string, cred *syscall.Credential) error {
	dir, err := filepath.Abs(dir)
	if err != nil {
		return err
	}
	for {
		var st syscall.Stat_t
		if err := syscall.Stat(dir, &st); err != nil {
			return err
		}
		var ok bool
		switch {
		case st.Uid == cred.Uid:
			ok = st.Mode&0o100 != 0
		case st.Gid == cred.Gid:
			ok = st.Mode&0o010 != 0
		default:
			ok = st.Mode&0o001 != 0
		}
		if !ok {
			return fmt.Errorf("no search permission on %q (mode %o, owner %d:%d)", dir, st.Mode&0o7777, st.Uid, st.Gid)
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return nil
		}
		dir = parent
	}
}

// logSince returns the log written after offset.
func (c *Cluster) logSince(offset int64) string {
	b, err := os.ReadFile(c.logPath)
	if err != nil || offset > int64(len(b)) {
		return ""
	}
	return string(b[offset:])
}

func randomHex(n int) (string, error) {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("generating password: %w", err)
	}
	return hex.EncodeToString(b), nil
}

// tail returns the last n lines of s.
func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

func indent(s string) string {
	if s == "" {
		return "  (empty)"
	}
	return "  " + strings.ReplaceAll(s, "\n", "\n  ")
}
