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
// With lint_mode: warn the violations are reported and counted, and do not fail the gate.
var lint = Definition{Name: Lint, For: func(svc *config.Service) Stage {
	st := Stage{
		Name: Lint, Commands: command(svc.Lint, "python", "-m", "flake8"),
		Timeout: svc.Timeout, Needs: []string{Deps}, Expected: expectLint,
	}
	if svc.LintMode == config.LintWarn {
		dir := svc.Path
		if dir == "" {
			dir = "."
		}
		st.Findings = &Findings{ExitCode: flake8Found, Parse: func(out []byte) []Finding { return parseFlake8(out, dir, svc.Dir) }}
	}
	return st
}}

// flake8Found is flake8's exit code when it reports violations.
const flake8Found = 1

// Findings says how a stage reports problems it found without failing: a command that exits
// with ExitCode and whose output has findings passes, and the findings are counted and listed.
type Findings struct {
	// ExitCode is the code the tool exits with when it found something.
	ExitCode int
	// Parse reads the findings from the stage's output, paths relative to the repository root.
	Parse func(output []byte) []Finding
}

// Finding is one problem a linter reported.
type Finding struct {
	// File is relative to the repository root, slash-separated.
	File      string
	Line, Col int
	// Code is the linter's code (E501) and Text its message.
	Code, Text string
}

// String formats the finding as FILE:LINE:COL: CODE text, the shape editors and CI annotate.
func (f Finding) String() string {
	return f.File + ":" + strconv.Itoa(f.Line) + ":" + strconv.Itoa(f.Col) + ": " + f.Code + " " + f.Text
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
		found = append(found, Finding{File: repoRelative(m[1], dir, absDir), Line: line, Col: col, Code: m[4], Text: m[5]})
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
