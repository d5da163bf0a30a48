package stages

import (
	"bufio"
	"bytes"
	"path"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"

	"github.com/convoy-ci/convoy/pipeline/config"
)

// lint runs flake8 (pycodestyle included) in the service's directory, so that flake8 finds the
// service's own configuration or, when it has none, the one of a directory above it up to the
// repository root (flake8's own search: setup.cfg, tox.ini, .flake8 with a [flake8] section).
// flake8 prints its violations in its default format whatever a configuration's "format"
// says, so that they can be read as findings (annotations in CI). With lint_mode: warn the
// violations are reported and counted, and do not fail the gate.
var lint = Definition{Name: Lint, For: func(svc *config.Service) Stage {
	dir := svc.Path
	if dir == "" {
		dir = "."
	}
	return Stage{
		Name: Lint, Commands: command(svc.Lint, "python", "-m", "flake8", "--format=default"),
		Timeout: svc.Timeout, Needs: []string{Deps}, Expected: expectLint,
		Findings: &Findings{ExitCode: flake8Found, Warn: svc.LintMode == config.LintWarn,
			Parse: func(out []byte) []Finding { return parseFlake8(out, dir, svc.Dir) }},
	}
}}

// flake8Found is flake8's exit code when it reports violations.
const flake8Found = 1

// Findings says how a stage's output is read for the problems it found (each with a file and
// line, for annotations) and whether they fail it: with Warn, a command that exits with
// ExitCode and whose output has findings passes, and the findings are counted and listed.
type Findings struct {
	// ExitCode is the code the tool exits with when it found something.
	ExitCode int
	// Warn lets the stage pass with its findings (lint_mode: warn).
	Warn bool
	// Parse reads the findings from the stage's output, paths relative to the repository root.
	Parse func(output []byte) []Finding
}

// Finding is one problem a stage reported at a place in a file: a linter's violation or a
// failing test.
type Finding struct {
	// File is relative to the repository root, slash-separated.
	File string `json:"file"`
	// Line and Col are 1-based; 0 when the tool did not say.
	Line int `json:"line"`
	Col  int `json:"col,omitempty"`
	// Code is the linter's code (E501), or empty for a test; Text the message.
	Code string `json:"code,omitempty"`
	Text string `json:"text"`
	// Title names what found it ("flake8 E501", "test tests/test_a.py::test_b failed").
	Title string `json:"title,omitempty"`
}

// String formats the finding as FILE:LINE:COL: CODE text, the shape editors and CI annotate
// (without the column or code when there is none).
func (f Finding) String() string {
	s := f.File + ":" + strconv.Itoa(f.Line)
	if f.Col > 0 {
		s += ":" + strconv.Itoa(f.Col)
	}
	s += ": "
	if f.Code != "" {
		s += f.Code + " "
	}
	return s + f.Text
}

// flake8Line is a line of flake8's default format, %(path)s:%(row)d:%(col)d: %(code)s %(text)s.
var flake8Line = regexp.MustCompile(`^(.+?):(\d+):(\d+): ([A-Z]+[0-9]+) (.*)$`)

// parseFlake8 reads flake8's default output, run in the service directory dir (relative to the
// repository root; absDir on the host), into findings with repository-relative paths.
func parseFlake8(out []byte, dir, absDir string) []Finding {
	var found []Finding
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(make([]byte, 0, 64*1024), 1<<20)
	for sc.Scan() {
		m := flake8Line.FindStringSubmatch(strings.TrimRight(sc.Text(), "\r"))
		if m == nil {
			continue
		}
		line, _ := strconv.Atoi(m[2])
		col, _ := strconv.Atoi(m[3])
		found = append(found, Finding{File: repoRelative(m[1], dir, absDir), Line: line, Col: col, Code: m[4], Text: m[5],
			Title: "flake8 " + m[4]})
	}
	return found
}

// repoRelative is the path p flake8 printed (relative to the service directory dir, or
// absolute) relative to the repository root.
func repoRelative(p, dir, absDir string) string {
	if filepath.IsAbs(p) && absDir != "" {
		if r, err := filepath.Rel(absDir, p); err == nil {
			return path.Join(dir, filepath.ToSlash(r))
		}
		return p
	}
	return path.Join(dir, filepath.ToSlash(p))
}
