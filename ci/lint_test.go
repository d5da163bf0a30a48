package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/convoy-ci/convoy/pipeline"
)

// TestLintWarnMode runs real flake8 over a file with many violations, with the repository
// root's flake8 configuration (none in the services): in lint_mode: warn every violation is in
// the log with its path relative to the root, counted in the JSON summary and the text one, and
// the gate passes; the same file fails the gate of a service in the default mode.
func TestLintWarnMode(t *testing.T) {
	if testing.Short() {
		t.Skip("installs flake8 from PyPI; skipped with -short")
	}
	const unused = 40
	var src strings.Builder
	for i := range unused {
		fmt.Fprintf(&src, "import mod%d\n", i)
	}
	// E302 (one blank line) and a 100-character line: both allowed by the root's setup.cfg.
	src.WriteString("\ndef f():\n    return '" + strings.Repeat("x", 84) + "'\n")
	manifest := `version: 1
defaults:
  timeout: 5m
  tools: {packages: [flake8==7.1.1]}
  unit: [python, -c, pass]
  populate: [python, -c, pass]
services:
  - {name: loose, path: services/loose, lint_mode: warn}
  - {name: strict, path: services/strict}
`
	root := writeRepo(t, map[string]string{
		"services.yaml":                    manifest,
		"setup.cfg":                        "[flake8]\nmax-line-length = 120\nextend-ignore = E302\n",
		"services/loose/requirements.txt":  "",
		"services/loose/app/m.py":          src.String(),
		"services/strict/requirements.txt": "",
		"services/strict/app/m.py":         src.String(),
	})
	res := convoy(t, root, nil, "gate", "--output", "json")
	if res.code != exitFailed {
		t.Fatalf("exit %d, want %d (strict fails)\n%s\n%s", res.code, exitFailed, res.stdout, res.stderr)
	}
	if st := stageStatus(res.service(t, "strict"), "lint"); st != pipeline.StatusFailed {
		t.Errorf("strict lint %s, want failed", st)
	}
	loose := res.service(t, "loose")
	if loose.Status != pipeline.StatusPassed {
		t.Fatalf("loose %s, want passed: %+v", loose.Status, loose.Stages)
	}
	var lint pipeline.StageSummary
	for _, st := range loose.Stages {
		if st.Name == "lint" {
			lint = st
		}
	}
	if lint.Findings != unused {
		t.Errorf("lint findings %d, want %d (the root's setup.cfg allows the rest)", lint.Findings, unused)
	}
	log, err := os.ReadFile(lint.Log)
	if err != nil {
		t.Fatal(err)
	}
	for i := range unused {
		want := fmt.Sprintf("services/loose/app/m.py:%d:1: F401 'mod%d' imported but unused\n", i+1, i)
		if !strings.Contains(string(log), want) {
			t.Errorf("log lacks %q", want)
		}
	}
	if strings.Contains(string(log), "E501") || strings.Contains(string(log), "E302") {
		t.Errorf("the root's flake8 configuration was not honoured:\n%s", log)
	}

	text := convoy(t, root, nil, "gate", "--only", "loose", "--progress", "plain")
	if text.code != 0 {
		t.Fatalf("exit %d\n%s", text.code, text.stdout)
	}
	if want := fmt.Sprintf("loose lint: %d findings, not failing (warn mode; every one in %s)", unused, filepath.Join(latestLogs(t, root), "loose", "lint.log")); !strings.Contains(text.stdout, want) {
		t.Errorf("text summary lacks %q:\n%s", want, text.stdout)
	}
	if want := fmt.Sprintf("findings: %d in all", unused); !strings.Contains(text.stdout, want) {
		t.Errorf("text summary lacks %q", want)
	}
}
