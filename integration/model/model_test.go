package model

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestParseJUnit(t *testing.T) {
	tests := []struct {
		file string
		want []TestResult
	}{
		{"pytest.xml", []TestResult{
			{Name: "test_mix::test_ok", Classname: "test_mix", Case: "test_ok", Status: TestPassed},
			{Name: "test_mix::test_bad", Classname: "test_mix", Case: "test_bad", Status: TestFailed,
				Message: "AssertionError: numbers differ\nassert 1 == 2"},
			{Name: "test_mix::test_skipped", Classname: "test_mix", Case: "test_skipped", Status: TestSkipped, Message: "not today"},
			{Name: "test_mix::test_error", Classname: "test_mix", Case: "test_error", Status: TestError,
				Message: `failed on setup with "RuntimeError: fixture exploded"`},
		}},
		{"nested.xml", []TestResult{
			{Name: "TestTop", Case: "TestTop", Status: TestSkipped},
			{Name: "pkg.Inner::TestA", Classname: "pkg.Inner", Case: "TestA", Status: TestPassed, Duration: 500 * time.Millisecond},
			{Name: "pkg.Inner::TestB", Classname: "pkg.Inner", Case: "TestB", Status: TestFailed, Duration: 1250 * time.Millisecond,
				Message: "expected 3, got 4"},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			got, err := ParseJUnitFile(filepath.Join("testdata", "junit", tt.file))
			if err != nil {
				t.Fatal(err)
			}
			for i := range got {
				got[i].Details = "" // tracebacks: checked below
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("ParseJUnit:\n got %+v\nwant %+v", got, tt.want)
			}
		})
	}
	got, _ := ParseJUnitFile(filepath.Join("testdata", "junit", "pytest.xml"))
	if !strings.Contains(got[1].Details, "assert 1 == 2") {
		t.Errorf("failure details = %q, want the traceback", got[1].Details)
	}
	if _, err := ParseJUnit(strings.NewReader("<testsuites><testsuite>")); err == nil {
		t.Error("ParseJUnit accepted truncated XML")
	}
}

// TestSuiteVerdict: a suite passes only when it exited 0 with no failed or errored test and its
// JUnit XML could be read; otherwise the error wraps ErrSuiteFailed, says why, lists the failures
// and names the log.
func TestSuiteVerdict(t *testing.T) {
	ok := TestResult{Name: "t::ok", Status: TestPassed}
	bad := TestResult{Name: "t::bad", Status: TestFailed, Message: "assert 1 == 2\nmore"}
	broken := TestResult{Name: "t::broken", Status: TestError, Message: "ConnectionError"}
	for _, tc := range []struct {
		name     string
		exit     int
		tests    []TestResult
		timedOut string
		junitErr error
		want     []string // nil: passed
	}{
		{"passed", 0, []TestResult{ok, ok}, "", nil, nil},
		{"exit 1", 1, []TestResult{ok, ok, bad}, "", nil, []string{"2 passed, 1 failed, 0 skipped, 0 errors (exit status 1)", "\n  FAILED t::bad: assert 1 == 2\n"}},
		{"exit 0 with an error", 0, []TestResult{ok, broken}, "", nil, []string{"1 passed, 0 failed, 0 skipped, 1 errors (exit status 0)", "ERROR t::broken: ConnectionError"}},
		{"no tests", 5, nil, "", nil, []string{"no tests were collected (exit status 5)"}},
		{"timed out", -1, []TestResult{ok}, "timed out after 1m0s", nil, []string{"timed out after 1m0s (1 passed, 0 failed, 0 skipped, 0 errors so far)"}},
		{"killed", -1, nil, "", nil, []string{"it did not exit by itself"}},
		{"unreadable JUnit XML", 0, nil, "", errors.New("XML syntax error"), []string{"reading its JUnit XML: XML syntax error"}},
		{"failures before the unreadable XML", 1, nil, "", errors.New("XML syntax error"), []string{"(exit status 1)"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rep := &SuiteReport{LogPath: "/logs/suite.log", ExitCode: tc.exit, Tests: tc.tests}
			rep.Tally()
			err := SuiteVerdict(rep, tc.timedOut, tc.junitErr)
			if tc.want == nil {
				if err != nil {
					t.Fatalf("SuiteVerdict = %v, want nil", err)
				}
				return
			}
			if !errors.Is(err, ErrSuiteFailed) {
				t.Fatalf("SuiteVerdict = %v, want one wrapping ErrSuiteFailed", err)
			}
			for _, w := range append(tc.want, "integration suite failed: ", "\nsee /logs/suite.log") {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
		})
	}
}

// TestRedact: a URL's password never shows; a URL that does not parse shows nothing of itself.
func TestRedact(t *testing.T) {
	for in, want := range map[string]string{
		"postgres://convoy:hunter2@db:5432/x": "postgres://convoy:xxxxx@db:5432/x",
		"postgres://convoy@db/x":              "postgres://convoy@db/x",
		"postgres://a:hunter2@db:port/x":      "(unparsable URL)",
	} {
		if got := Redact(in); got != want {
			t.Errorf("Redact(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestLogTail: the last n lines of a log, none of a missing or empty one.
func TestLogTail(t *testing.T) {
	dir := t.TempDir()
	log := filepath.Join(dir, "web.log")
	var lines []string
	for i := 1; i <= 30; i++ {
		lines = append(lines, fmt.Sprintf("line %d", i))
	}
	if err := os.WriteFile(log, []byte(strings.Join(lines, "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if got := LogTail(log, LogTailLines); !reflect.DeepEqual(got, lines[30-LogTailLines:]) {
		t.Errorf("LogTail = %q", got)
	}
	empty := filepath.Join(dir, "empty.log")
	if err := os.WriteFile(empty, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{empty, filepath.Join(dir, "none.log")} {
		if got := LogTail(p, 5); got != nil {
			t.Errorf("LogTail(%s) = %q, want nothing", p, got)
		}
	}
}

// TestServiceErrorMessage: a step names its command when it has one, and never an empty one.
func TestServiceErrorMessage(t *testing.T) {
	for _, tc := range []struct {
		err  ServiceError
		want string
	}{
		{ServiceError{Service: "web", Step: "populate", Argv: []string{"python", "manage.py", "populate"}, Waited: 2 * time.Second, Err: errors.New("exit status 2")},
			`service "web": populate (python manage.py populate) failed after 2s: exit status 2`},
		{ServiceError{Service: "web", Step: "migrate", Waited: time.Second, Err: errors.New("pulling the image: no such host")},
			`service "web": migrate failed after 1s: pulling the image: no such host`},
		{ServiceError{Service: "web", Step: "migrate", Argv: []string{"migrate"}, Waited: time.Minute, TimedOut: true},
			`service "web": migrate (migrate) timed out after 1m0s`},
	} {
		if got := tc.err.Error(); got != tc.want {
			t.Errorf("Error() = %q, want %q", got, tc.want)
		}
	}
}
