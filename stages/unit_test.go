package stages

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/convoy-ci/convoy/integration/model"
	"github.com/convoy-ci/convoy/pipeline/config"
)

// TestParseUnittest: the summary unittest and Django's manage.py test print, in each verdict's
// shape; output without one gives no counts.
func TestParseUnittest(t *testing.T) {
	for _, tc := range []struct {
		name, out string
		want      string // TestCounts.String(); "" = no counts
	}{
		{"ok", "....\n----------------------------------------------------------------------\nRan 4 tests in 0.012s\n\nOK\n", "4 passed"},
		{"ok skipped", "Ran 5 tests in 0.1s\n\nOK (skipped=2)\nDestroying test database for alias 'default'...\n", "3 passed, 2 skipped"},
		{"failed", "Ran 6 tests in 0.001s\n\nFAILED (failures=1, errors=2, skipped=1, expected failures=1)\n", "2 passed, 1 failed, 2 errors, 1 skipped"},
		{"last run wins", "Ran 9 tests in 1s\n\nOK\nRan 2 tests in 1s\n\nOK\n", "2 passed"},
		{"no summary", "collected 0 items\n", ""},
		{"no verdict", "Ran 3 tests in 0.1s\n", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, ok := parseUnittest([]byte(tc.out))
			got := ""
			if ok {
				got = c.String()
			}
			if got != tc.want {
				t.Errorf("parseUnittest = %q, want %q", got, tc.want)
			}
		})
	}
	if s := (TestCounts{}).String(); s != "counts unavailable" {
		t.Errorf("unavailable counts = %q", s)
	}
}

// TestShellQuote: the JUnit path survives PYTEST_ADDOPTS' shlex split.
func TestShellQuote(t *testing.T) {
	for in, want := range map[string]string{"/a/b.xml": "/a/b.xml", "/a b/c.xml": "'/a b/c.xml'", "/it's": `'/it'\''s'`} {
		if got := shellQuote(in); got != want {
			t.Errorf("shellQuote(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestFailedTests: the failed tests of a JUnit report pytest wrote (xunit1) become findings at
// the repository-relative file and the test's own line of the traceback — the assertion in the
// test, or the test's call into a helper that failed — whether pytest's rootdir was the service
// or the repository root.
func TestFailedTests(t *testing.T) {
	f, err := os.Open(filepath.Join("testdata", "pytest-xunit1.xml"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	tests, err := model.ParseJUnit(f)
	if err != nil {
		t.Fatal(err)
	}
	root := t.TempDir()
	svc := &config.Service{Path: "services/x", Dir: filepath.Join(root, "services", "x")}
	if err := os.MkdirAll(filepath.Join(svc.Dir, "tests"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(svc.Dir, "tests", "test_a.py"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	want := []Finding{
		{File: "services/x/tests/test_a.py", Line: 7, Text: "assert 1 == 2", Title: "test tests.test_a::test_a failed"},
		{File: "services/x/tests/test_a.py", Line: 11, Text: "assert 1 == 2", Title: "test tests.test_a::test_b failed"},
	}
	if got := failedTests(tests, svc); !reflect.DeepEqual(got, want) {
		t.Errorf("got  %+v\nwant %+v", got, want)
	}
	// pytest's rootdir at the repository root (an ini file there): paths from the root.
	for i := range tests {
		tests[i].File = "services/x/" + tests[i].File
		tests[i].Details = strings.ReplaceAll(tests[i].Details, "tests/test_a.py:", "services/x/tests/test_a.py:")
	}
	if got := failedTests(tests, svc); !reflect.DeepEqual(got, want) {
		t.Errorf("rootdir at the root: got  %+v\nwant %+v", got, want)
	}
	// No traceback line in the test's file: the test's def (0-based line 4 → line 5).
	tests[0].Details = ""
	if got := failedTests(tests[:1], svc); len(got) != 1 || got[0].Line != 5 {
		t.Errorf("without a traceback: %+v, want line 5", got)
	}
}
