package stages

import (
	"os"
	"path"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"

	"github.com/convoy-ci/convoy/integration/model"
	"github.com/convoy-ci/convoy/pipeline/config"
)

// unitAddopts keeps pytest's cache out of the source tree, where it would change the image's
// input hash.
const unitAddopts = "-p no:cacheprovider"

// unit runs the service's unit tests, offline: unit tests make no calls outside the service.
// They get a fresh SQLite database of their own unless the service says database.unit: none.
// Its test counts come from the JUnit XML pytest writes where the engine says, else from the
// summary unittest (Django's manage.py test) prints. pytest writes the JUnit family xunit1, whose
// test cases carry their file and line, so that failing tests can be annotated.
var unit = Definition{Name: Unit, For: func(svc *config.Service) Stage {
	return Stage{
		Name: Unit, Commands: command(svc.Unit, "python", "-m", "pytest", "-q"),
		Timeout: svc.Timeout, Needs: []string{Deps}, Offline: true, FreshDB: svc.Database.Unit != config.DatabaseNone, Expected: expectUnit,
		Env: map[string]string{"PYTEST_ADDOPTS": unitAddopts},
		Counts: &Counts{
			JUnitEnv: func(path string) map[string]string {
				return map[string]string{"PYTEST_ADDOPTS": unitAddopts + " -o junit_family=xunit1 --junitxml=" + shellQuote(path)}
			},
			Parse:    parseUnittest,
			Failures: func(tests []model.TestResult) []Finding { return failedTests(tests, svc) },
		},
	}
}}

// Counts says how a stage's test counts are read. An engine that can give the runner a file
// applies JUnitEnv; when no JUnit XML appears, Parse reads the stage's output; when neither
// gives counts, they are unavailable (never zero).
type Counts struct {
	// JUnitEnv is the stage environment (over Env) that makes the test runner write JUnit XML
	// to path, a file the engine owns.
	JUnitEnv func(path string) map[string]string
	// Parse reads the counts from what the stage printed; ok is false when it printed none.
	Parse func(output []byte) (c TestCounts, ok bool)
	// Failures, when set, turns the JUnit report's failed and errored tests into findings at
	// their files and lines, relative to the repository root.
	Failures func(tests []model.TestResult) []Finding
}

// Sources of TestCounts.
const (
	CountsJUnit    = "junit"
	CountsUnittest = "unittest output"
)

// TestCounts is how many tests a stage ran and how they ended. When Available is false the
// stage's runner reported nothing convoy can read: the counts are unknown, not zero.
type TestCounts struct {
	Available bool `json:"available"`
	// Source says where they come from: CountsJUnit (the runner's JUnit XML) or CountsUnittest
	// (the "Ran N tests" summary unittest and Django print).
	Source  string `json:"source,omitempty"`
	Passed  int    `json:"passed"`
	Failed  int    `json:"failed"`
	Errors  int    `json:"errors"`
	Skipped int    `json:"skipped"`
}

// String is "42 passed", "40 passed, 1 failed, 1 error, 3 skipped" or "counts unavailable".
func (c TestCounts) String() string {
	if !c.Available {
		return "counts unavailable"
	}
	parts := []string{strconv.Itoa(c.Passed) + " passed"}
	for _, p := range []struct {
		n    int
		what string
	}{{c.Failed, "failed"}, {c.Errors, "errors"}, {c.Skipped, "skipped"}} {
		if p.n > 0 {
			parts = append(parts, strconv.Itoa(p.n)+" "+p.what)
		}
	}
	return strings.Join(parts, ", ")
}

var (
	// unittestRan is unittest's "Ran 12 tests in 0.034s" line.
	unittestRan = regexp.MustCompile(`(?m)^Ran (\d+) tests? in `)
	// unittestEnd is the verdict after it: "OK", "OK (skipped=2)", "FAILED (failures=1, errors=2)".
	unittestEnd = regexp.MustCompile(`(?m)^(OK|FAILED)(?: \(([^)]*)\))?\s*$`)
	// unittestKV is one "failures=1" of the verdict.
	unittestKV = regexp.MustCompile(`([a-z ]+)=(\d+)`)
)

// parseUnittest reads the last "Ran N tests" summary unittest (and Django's manage.py test)
// printed, with the verdict after it.
func parseUnittest(out []byte) (TestCounts, bool) {
	runs := unittestRan.FindAllSubmatchIndex(out, -1)
	if len(runs) == 0 {
		return TestCounts{}, false
	}
	last := runs[len(runs)-1]
	ran, _ := strconv.Atoi(string(out[last[2]:last[3]]))
	end := unittestEnd.FindSubmatch(out[last[1]:])
	if end == nil {
		return TestCounts{}, false
	}
	c := TestCounts{Available: true, Source: CountsUnittest}
	for _, kv := range unittestKV.FindAllSubmatch(end[2], -1) {
		n, _ := strconv.Atoi(string(kv[2]))
		switch strings.TrimSpace(string(kv[1])) {
		case "failures", "unexpected successes":
			c.Failed += n
		case "errors":
			c.Errors = n
		case "skipped":
			c.Skipped = n
		}
	}
	c.Passed = max(ran-c.Failed-c.Errors-c.Skipped, 0)
	return c, true
}

// shellQuote quotes s for shlex.split, as pytest splits PYTEST_ADDOPTS.
func shellQuote(s string) string {
	if s != "" && !strings.ContainsAny(s, " \t\n'\"\\$`") {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// tracebackAt is the "path:line: ExceptionType" line that ends each of pytest's tracebacks.
var tracebackAt = regexp.MustCompile(`(?m)^(\S[^:\n]*\.py):(\d+): `)

// failedTests are the findings of the failed and errored tests of svc's JUnit report: each at
// the first line of its traceback in the test's own file (the test's line that failed, or that
// called what failed), else at its def.
func failedTests(tests []model.TestResult, svc *config.Service) []Finding {
	var out []Finding
	for _, t := range tests {
		if t.Status != model.TestFailed && t.Status != model.TestError || t.File == "" {
			continue
		}
		f := Finding{File: testFile(t.File, svc), Line: t.Line + 1, Text: t.Message,
			Title: "test " + t.Name + " " + string(t.Status)}
		for _, m := range tracebackAt.FindAllStringSubmatch(t.Details, -1) {
			if strings.HasSuffix(filepath.ToSlash(m[1]), t.File) || strings.HasSuffix(t.File, strings.TrimPrefix(m[1], "./")) {
				f.Line, _ = strconv.Atoi(m[2])
				break
			}
		}
		if f.Text == "" {
			f.Text = f.Title
		}
		out = append(out, f)
	}
	return out
}

// testFile is the repository-relative path of file, which pytest gives relative to its rootdir:
// the service's directory or one above it (where an ini file is), up to the repository root.
func testFile(file string, svc *config.Service) string {
	rel, dir := path.Clean(filepath.ToSlash(svc.Path)), svc.Dir
	for {
		if _, err := os.Stat(filepath.Join(dir, filepath.FromSlash(file))); err == nil {
			return path.Join(rel, file)
		}
		if rel == "." {
			return path.Join(filepath.ToSlash(svc.Path), file) // not on this host: as the service's
		}
		rel, dir = path.Dir(rel), filepath.Dir(dir)
	}
}
