package model

import (
	"fmt"
	"strings"
)

// maxListedFailures bounds the failures named in the suite's error.
const maxListedFailures = 10

// SuiteVerdict is the error of the suite s describes, which ran, nil if it passed: it exited 0
// with no failed or errored test and its JUnit XML, if any, could be read. timedOut, when not
// "", says what ran out ("timed out after 10m0s"); junitErr is why the JUnit XML could not be
// read. The error wraps ErrSuiteFailed, lists the failed tests (the first few) and names the suite's log.
func SuiteVerdict(s *SuiteReport, timedOut string, junitErr error) error {
	counts := fmt.Sprintf("%d passed, %d failed, %d skipped, %d errors", s.Passed, s.Failed, s.Skipped, s.Errors)
	var why string
	switch {
	case timedOut != "":
		why = fmt.Sprintf("%s (%s so far)", timedOut, counts)
	case s.ExitCode == 5 && s.Total() == 0:
		why = "no tests were collected (exit status 5)"
	case s.ExitCode < 0:
		why = "it did not exit by itself"
	case s.ExitCode != 0:
		why = fmt.Sprintf("%s (exit status %d)", counts, s.ExitCode)
	case s.Failed+s.Errors > 0:
		why = fmt.Sprintf("%s (exit status 0)", counts)
	case junitErr != nil:
		why = fmt.Sprintf("reading its JUnit XML: %v", junitErr)
	default:
		return nil
	}
	return suiteFailure(s, why)
}

// suiteFailure is the error of a suite that did not pass for the reason why: it wraps
// ErrSuiteFailed and lists the failed tests (the first few) and the suite's log.
func suiteFailure(rep *SuiteReport, why string) error {
	var b strings.Builder
	fmt.Fprintf(&b, "%s: %s", ErrSuiteFailed.Error(), why)
	for i, t := range rep.Failures() {
		if i == maxListedFailures {
			fmt.Fprintf(&b, "\n  … and %d more", len(rep.Failures())-i)
			break
		}
		fmt.Fprintf(&b, "\n  %s %s", strings.ToUpper(string(t.Status)), t.Name)
		if t.Message != "" {
			fmt.Fprintf(&b, ": %s", firstLine(t.Message))
		}
	}
	fmt.Fprintf(&b, "\nsee %s", rep.LogPath)
	return &suiteErr{msg: b.String()}
}

// suiteErr is an error whose message is prepared and that wraps ErrSuiteFailed.
type suiteErr struct{ msg string }

func (e *suiteErr) Error() string { return e.msg }
func (e *suiteErr) Unwrap() error { return ErrSuiteFailed }
