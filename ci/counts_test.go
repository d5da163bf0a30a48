package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/convoy-ci/convoy/stages"
)

// TestUnitCounts: real runners' counts reach the JSON summary, the text summary and --junit:
// pytest through the JUnit XML convoy has it write, unittest (the summary Django's manage.py
// test prints too) from its output, and a runner that reports nothing as "counts unavailable",
// never "0 passed".
func TestUnitCounts(t *testing.T) {
	files := pyServices("", map[string]map[string]string{
		"pyt":   {"unit": "[python, -m, pytest, -q]"},
		"ut":    {"unit": "[python, -m, unittest]"},
		"other": {"unit": py("print('tested, trust me')")},
	})
	files["svc/pyt/requirements-dev.txt"] = "-r requirements.txt\npytest\n"
	files["svc/pyt/test_pyt.py"] = "import pytest\n\ndef test_a(): pass\n\ndef test_b(): pass\n\n" +
		"def test_c(): assert 1 == 2\n\n@pytest.mark.skip\ndef test_d(): pass\n"
	files["svc/ut/test_ut.py"] = "import unittest\n\nclass T(unittest.TestCase):\n" +
		"    def test_a(self): pass\n    def test_b(self): self.fail('no')\n" +
		"    @unittest.skip('later')\n    def test_c(self): pass\n"
	root := writeRepo(t, files)
	junit := filepath.Join(t.TempDir(), "report.xml")
	res := convoy(t, root, nil, "gate", "--output", "json", "--junit", junit)
	want := map[string]stages.TestCounts{
		"pyt":   {Available: true, Source: stages.CountsJUnit, Passed: 2, Failed: 1, Skipped: 1},
		"ut":    {Available: true, Source: stages.CountsUnittest, Passed: 1, Failed: 1, Skipped: 1},
		"other": {},
	}
	for name, w := range want {
		var got *stages.TestCounts
		for _, st := range res.service(t, name).Stages {
			if st.Name == stages.Unit {
				got = st.Tests
			}
		}
		if got == nil || *got != w {
			t.Errorf("%s: unit tests = %+v, want %+v\n%s", name, got, w, res.stderr)
		}
	}
	report, err := os.ReadFile(junit)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{`<property name="unit.tests.passed" value="2">`, `<property name="unit.tests.failed" value="1">`,
		`<property name="unit.tests" value="unavailable">`, "tests: 1 passed, 1 failed, 1 skipped (from the unittest output)"} {
		if !strings.Contains(string(report), s) {
			t.Errorf("--junit report lacks %q:\n%s", s, report)
		}
	}
	text := convoy(t, root, nil, "gate", "--progress", "plain")
	for _, s := range []string{"unit 2 passed, 1 failed, 1 skipped", "unit counts unavailable"} {
		if !strings.Contains(text.stdout, s) {
			t.Errorf("text summary lacks %q:\n%s", s, text.stdout)
		}
	}
	if strings.Contains(text.stdout, "0 passed") {
		t.Errorf("text summary claims 0 passed:\n%s", text.stdout)
	}
}
