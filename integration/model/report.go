package model

import "time"

// Report is the outcome of an integration run. Each engine returns one even when the run fails,
// filled as far as the run got.
type Report struct {
	RunID string
	// Postgres is the URL of the server used, password redacted.
	Postgres string
	// Throwaway reports whether the server was started (and removed) by the run.
	Throwaway bool
	LogDir    string
	// Services are in start order; a service that was never reached has only its name, database and URL.
	Services []ServiceReport
	// Backing are the backing servers started, in the order they became ready.
	Backing  []BackingReport
	Suite    SuiteReport
	Duration time.Duration
}

// ServiceReport describes one service of the run.
type ServiceReport struct {
	Name     string
	Database string
	URL      string // http://127.0.0.1:PORT on the host, http://HOSTNAME:PORT on Dagger
	Port     int
	PID      int // of the serve command, 0 if it was never started or is no host process
	LogPath  string
	Healthy  bool
	// Startup is the time from starting the serve command until it answered its health check.
	Startup time.Duration
	// Processes are the service's processes besides serve, in start order (those started).
	Processes []ProcessReport
}

// ProcessReport describes a process of a service besides its serve command.
type ProcessReport struct {
	Name    string // <service>/<process>
	PID     int
	LogPath string
	Ready   bool
	// Startup is the time from its start until it was ready.
	Startup time.Duration
}

// BackingReport describes a backing server of the run.
type BackingReport struct {
	Kind    string // redis, rabbitmq
	URL     string
	Port    int
	LogPath string
}

// SuiteReport describes the suite's run and its tests' results.
type SuiteReport struct {
	Ran       bool
	Argv      []string // as run, with --junitxml if it was appended
	PID       int
	ExitCode  int // -1 if it was killed or never ran
	Duration  time.Duration
	LogPath   string
	JUnitPath string // empty when no JUnit XML was produced
	Passed    int
	Failed    int
	Skipped   int
	Errors    int
	Tests     []TestResult
}

// Tally sets the passed, failed, skipped and error counts from Tests.
func (s *SuiteReport) Tally() {
	s.Passed, s.Failed, s.Skipped, s.Errors = 0, 0, 0, 0
	for _, t := range s.Tests {
		switch t.Status {
		case TestPassed:
			s.Passed++
		case TestFailed:
			s.Failed++
		case TestSkipped:
			s.Skipped++
		case TestError:
			s.Errors++
		}
	}
}

// Total returns the number of tests reported.
func (s SuiteReport) Total() int { return s.Passed + s.Failed + s.Skipped + s.Errors }

// Failures returns the tests that failed or errored, in report order.
func (s SuiteReport) Failures() []TestResult {
	var out []TestResult
	for _, t := range s.Tests {
		if t.Status == TestFailed || t.Status == TestError {
			out = append(out, t)
		}
	}
	return out
}

// TestStatus is the outcome of one test.
type TestStatus string

// Test outcomes, as JUnit XML reports them.
const (
	TestPassed  TestStatus = "passed"
	TestFailed  TestStatus = "failed"
	TestSkipped TestStatus = "skipped"
	TestError   TestStatus = "error"
)

// TestResult is one test case's result.
type TestResult struct {
	// Name is the test's full name, "classname::name" (pytest: "tests.integration.test_flow::test_login").
	Name      string
	Classname string
	Case      string
	// File and Line are the test's file and its line attribute, when the runner wrote them
	// (pytest with junit_family=xunit1: the file relative to its rootdir, the 0-based line of
	// the test's def).
	File     string
	Line     int
	Status   TestStatus
	Duration time.Duration
	// Message is the failure, error or skip message; Details the longer text (traceback) when there is one.
	Message string
	Details string
}
