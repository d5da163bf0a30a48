package model

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"
)

// ErrInterrupted is wrapped by the error of an integration run (integration.Run, an engine's
// Integrate) whose context was cancelled (SIGINT, SIGTERM, a caller's timeout) before it
// finished. The error also wraps context.Cause of the context.
var ErrInterrupted = errors.New("integration interrupted")

// ErrSuiteFailed is wrapped by the error of an integration run whose suite ran and did not pass (a
// failing test, a non-zero exit, a timeout, no test at all): see SuiteVerdict.
var ErrSuiteFailed = errors.New("integration suite failed")

// ErrInvalidSpec is wrapped by the error of an integration run that was asked for something it
// cannot do (integration.Run's Spec, an engine's request); nothing was started.
var ErrInvalidSpec = errors.New("invalid integration spec")

// LogTailLines is the number of log lines a ServiceError carries.
const LogTailLines = 20

// ServiceError reports a service that failed to come up: a failed or timed-out migrate or populate
// step, a serve command that exited, or one that never answered its health check.
type ServiceError struct {
	Service string
	// Step is "migrate", "populate", "serve" (the command exited before it was healthy) or "health"
	// (it kept running but never answered 2xx in time).
	Step string
	Argv []string
	// URL is the health check's URL (serve and health steps of a service checked on HTTP).
	URL string
	// Awaited says what the readiness check waited for ("GET URL to answer 2xx", "a TCP
	// connection to ADDR", "CMD to exit 0", "a line of the log matching RE").
	Awaited string
	// Waited is how long convoy waited: the step's duration, or the time from start until the serve
	// command exited or the health timeout ran out.
	Waited time.Duration
	// TimedOut reports that the step's timeout or the health timeout ran out.
	TimedOut bool
	// ExitCode is the command's exit code, -1 if it did not exit by itself.
	ExitCode int
	// LastProbe is the last health check's answer or error (health step).
	LastProbe string
	LogPath   string
	// LogTail holds the last LogTailLines lines of the service's log.
	LogTail []string
	// Err is the underlying error.
	Err error
}

// Error says which service failed at what, how long convoy waited, and ends with its log's last lines.
func (e *ServiceError) Error() string {
	var b strings.Builder
	wait := e.Waited.Round(10 * time.Millisecond)
	switch e.Step {
	case "health":
		fmt.Fprintf(&b, "service %q never became healthy: waited %s for %s (last answer: %s)", e.Service, wait, e.awaited(), e.LastProbe)
	case "serve":
		fmt.Fprintf(&b, "service %q exited (%v) %s after it was started with %q, before %s", e.Service, e.Err, wait, strings.Join(e.Argv, " "), e.awaited())
	default:
		step := e.Step
		if len(e.Argv) > 0 {
			step += " (" + strings.Join(e.Argv, " ") + ")"
		}
		if e.TimedOut {
			fmt.Fprintf(&b, "service %q: %s timed out after %s", e.Service, step, wait)
		} else {
			fmt.Fprintf(&b, "service %q: %s failed after %s: %v", e.Service, step, wait, e.Err)
		}
	}
	if len(e.LogTail) > 0 {
		fmt.Fprintf(&b, "\nlast %d lines of %s:\n    %s", len(e.LogTail), e.LogPath, strings.Join(e.LogTail, "\n    "))
	} else if e.LogPath != "" {
		fmt.Fprintf(&b, "\n(%s is empty)", e.LogPath)
	}
	return b.String()
}

// awaited is what the readiness check waited for.
func (e *ServiceError) awaited() string {
	if e.Awaited != "" {
		return e.Awaited
	}
	return "GET " + e.URL + " to answer 2xx"
}

// Unwrap returns the underlying error.
func (e *ServiceError) Unwrap() error { return e.Err }

// LogTail returns the last n lines of the file at path (reading at most its last 256 KiB).
func LogTail(path string, n int) []string {
	f, err := os.Open(path)
	if err != nil {
		return nil
	}
	defer f.Close()
	const max = 256 << 10
	if fi, err := f.Stat(); err == nil && fi.Size() > max {
		_, _ = f.Seek(fi.Size()-max, 0)
	}
	b, _ := io.ReadAll(io.LimitReader(f, max))
	s := strings.TrimRight(string(b), "\n")
	if s == "" {
		return nil
	}
	lines := strings.Split(s, "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return lines
}
