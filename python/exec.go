package python

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"time"

	"github.com/convoy-ci/convoy/internal/procgroup"
)

// WaitDelay is how long a tool gets between SIGTERM (its context ended) and SIGKILL, and how
// long convoy then waits for its output pipes to close.
const WaitDelay = 5 * time.Second

// Exec says how a tool's process runs.
type Exec struct {
	// Dir is its working directory; "" means convoy's.
	Dir string
	// Env is its whole environment; nil means convoy's own.
	Env []string
	// Log receives a "$ argv" line and the tool's standard error (and, unless it is captured,
	// its standard output); nil discards them.
	Log io.Writer
}

// ToolError is a tool that did not pass: the command, how it ended and the end of what it
// printed on standard error.
type ToolError struct {
	// Argv is the command.
	Argv []string
	// Err is how it ended: an *exec.ExitError when it exited non-zero.
	Err error
	// Stderr is the last lines of its standard error.
	Stderr string
}

// Error names the command, how it ended and what it said last.
func (e *ToolError) Error() string {
	msg := fmt.Sprintf("%s: %v", QuoteArgv(e.Argv), e.Err)
	if e.Stderr != "" {
		msg += ":\n" + e.Stderr
	}
	return msg
}

// Unwrap returns how the command ended.
func (e *ToolError) Unwrap() error { return e.Err }

// ExitCode is the command's exit code, or -1 when it did not exit by itself.
func (e *ToolError) ExitCode() int {
	var ee *exec.ExitError
	if errors.As(e.Err, &ee) {
		return ee.ExitCode()
	}
	return -1
}

// run runs argv as x says, its standard output to stdout (nil: to x.Log), in a process group of
// its own that gets SIGTERM when ctx ends and SIGKILL WaitDelay later. A command that does not
// pass is a *ToolError.
func run(ctx context.Context, argv []string, x Exec, stdout io.Writer) error {
	log := x.Log
	if log == nil {
		log = io.Discard
	}
	fmt.Fprintf(log, "$ %s\n", QuoteArgv(argv))
	if stdout == nil {
		stdout = log
	}
	var tail bytes.Buffer
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Dir, cmd.Env = x.Dir, x.Env
	cmd.Stdout, cmd.Stderr = stdout, io.MultiWriter(log, &tail)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM) }
	cmd.WaitDelay = WaitDelay
	err := procgroup.StartDying(cmd)
	if err == nil {
		err = cmd.Wait()
	}
	if cmd.Process != nil {
		// What the tool left running belongs to it.
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	}
	if err != nil {
		if ctx.Err() != nil {
			err = fmt.Errorf("%w (%w)", ctx.Err(), err)
		}
		return &ToolError{Argv: argv, Err: err, Stderr: lastLines(tail.String(), 10)}
	}
	return nil
}

// environ returns env, or convoy's own environment when env is nil.
func environ(env []string) []string {
	if env == nil {
		return os.Environ()
	}
	return env
}

// lookupEnv finds key in env (KEY=VALUE, the last one wins).
func lookupEnv(env []string, key string) (string, bool) {
	v, found := "", false
	for _, kv := range env {
		if k, val, ok := strings.Cut(kv, "="); ok && k == key {
			v, found = val, true
		}
	}
	return v, found
}

// QuoteArgv renders argv for the "$ ..." line that opens each command in a log (a stage's, a
// tool's), quoting only the arguments that need it.
func QuoteArgv(argv []string) string {
	parts := make([]string, len(argv))
	for i, a := range argv {
		if a == "" || strings.ContainsAny(a, " \t\"'$\\;<>") {
			parts[i] = fmt.Sprintf("%q", a)
		} else {
			parts[i] = a
		}
	}
	return strings.Join(parts, " ")
}

// lastLines returns the last n lines of s.
func lastLines(s string, n int) string {
	var lines []string
	sc := bufio.NewScanner(strings.NewReader(s))
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	for sc.Scan() {
		lines = append(lines, sc.Text())
	}
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// HostNetVars are the host variables a stage that downloads packages may inherit: proxies,
// CA bundles, the resolver's options (glibc's RES_OPTIONS, LOCALDOMAIN) and package-index
// settings. Nothing else from the host reaches a stage.
var HostNetVars = []string{
	"http_proxy", "https_proxy", "no_proxy", "HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY",
	"SSL_CERT_FILE", "SSL_CERT_DIR", "REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE",
	"RES_OPTIONS", "LOCALDOMAIN",
}
