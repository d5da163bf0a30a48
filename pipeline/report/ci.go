package report

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/convoy-ci/convoy/integration/model"
	"github.com/convoy-ci/convoy/pipeline"
	"github.com/convoy-ci/convoy/stages"
)

// CI systems convoy renders for natively (--ci).
const (
	CIGitHub = "github"
	CIGitLab = "gitlab"
	CINone   = "none"
	CIAuto   = "auto"
)

// DetectCI is the CI system the environment says convoy runs under (getenv is os.Getenv):
// CIGitHub when GITHUB_ACTIONS is true, CIGitLab when GITLAB_CI is, else CINone.
func DetectCI(getenv func(string) string) string {
	switch {
	case getenv("GITHUB_ACTIONS") == "true":
		return CIGitHub
	case getenv("GITLAB_CI") == "true":
		return CIGitLab
	}
	return CINone
}

// LogLines bounds how many of a failed stage's last log lines (at most its last 256 KiB) the CI
// renderers fold into the job log; the whole log stays in .convoy/logs.
const LogLines = 5000

// GitHub renders a run for GitHub Actions with workflow commands: every failed stage's log in a
// ::group:: block (with workflow commands stopped inside it, so that a log cannot issue any), an
// ::error annotation per problem a failed stage found (a flake8 violation, a failing test: file,
// line and column relative to the repository root) or one for the stage itself (warnings for a
// shadow service, whose failures never fail the run), a ::warning per
// finding of a stage that passed with them (lint_mode: warn), an ::error per failed integration
// test; and at the summary, the summary as Markdown appended to the step summary file.
type GitHub struct {
	w       io.Writer
	summary string
	fails   Failures
	err     error
}

// NewGitHub returns a GitHub Actions renderer writing workflow commands to w and appending the
// Markdown summary to the file summary ($GITHUB_STEP_SUMMARY; none when empty).
func NewGitHub(w io.Writer, summary string) *GitHub { return &GitHub{w: w, summary: summary} }

// Err reports a failure to append the step summary.
func (g *GitHub) Err() error { return g.err }

// Emit writes the workflow commands of the event.
func (g *GitHub) Emit(e pipeline.Event) {
	g.fails.Emit(e)
	switch e.Type {
	case pipeline.EventStageFinish:
		if e.Status.Failed() {
			g.group(e)
			g.annotate(failureKind(e), e)
		} else if len(e.Problems) > 0 {
			g.annotate("warning", e)
		}
	case pipeline.EventTest:
		if e.Status.Failed() {
			g.command("error", map[string]string{"title": "integration test " + e.Stage + " " + string(e.Status)}, e.Message)
		}
	case pipeline.EventSummary:
		if e.Summary != nil && g.summary != "" {
			g.err = appendFile(g.summary, func(w io.Writer) { WriteMarkdown(w, *e.Summary, g.fails.List()) })
		}
	}
}

// failureKind is the annotation of a failed stage: an error, or a warning for a shadow service,
// whose failures never fail the run.
func failureKind(e pipeline.Event) string {
	if e.Shadow {
		return "warning"
	}
	return "error"
}

// group folds the failed stage's log into a group, workflow commands stopped inside it.
func (g *GitHub) group(e pipeline.Event) {
	fmt.Fprintf(g.w, "::group::%s\n", escapeData(stageHeadline(e)))
	token := stopToken()
	fmt.Fprintf(g.w, "::stop-commands::%s\n", token)
	for _, l := range model.LogTail(e.Log, LogLines) {
		fmt.Fprintln(g.w, l)
	}
	fmt.Fprintf(g.w, "::%s::\n::endgroup::\n", token)
}

// annotate writes one annotation of kind per problem of the stage, or one for the stage itself.
func (g *GitHub) annotate(kind string, e pipeline.Event) {
	for _, p := range e.Problems {
		props := map[string]string{"file": p.File, "line": strconv.Itoa(p.Line), "title": e.Service + " " + e.Stage + ": " + p.Title}
		if p.Col > 0 {
			props["col"] = strconv.Itoa(p.Col)
		}
		g.command(kind, props, problemText(p))
	}
	if len(e.Problems) == 0 {
		g.command(kind, map[string]string{"title": stageHeadline(e)}, stageMessage(e))
	}
}

// command writes ::kind props::message; properties in a fixed order (file, line, col, title).
func (g *GitHub) command(kind string, props map[string]string, msg string) {
	var ps []string
	for _, k := range []string{"file", "line", "col", "title"} {
		if v, ok := props[k]; ok {
			ps = append(ps, k+"="+escapeProperty(v))
		}
	}
	fmt.Fprintf(g.w, "::%s %s::%s\n", kind, strings.Join(ps, ","), escapeData(msg))
}

// escapeData escapes a workflow command's message as the runner unescapes it.
func escapeData(s string) string {
	return strings.NewReplacer("%", "%25", "\r", "%0D", "\n", "%0A").Replace(s)
}

// escapeProperty escapes a workflow command's property value: its data escapes, ':' and ','.
func escapeProperty(s string) string {
	return strings.NewReplacer("%", "%25", "\r", "%0D", "\n", "%0A", ":", "%3A", ",", "%2C").Replace(s)
}

// stopToken is a fresh token for ::stop-commands::, which a log cannot guess.
func stopToken() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return "convoy-" + hex.EncodeToString(b)
}

// GitLab renders a run for GitLab CI: every failed stage's log in a collapsed section of the job
// log, timed from the stage's start to its finish, its problems listed after it.
type GitLab struct {
	w io.Writer
}

// NewGitLab returns a GitLab CI renderer writing to w.
func NewGitLab(w io.Writer) *GitLab { return &GitLab{w: w} }

// Emit writes a section for a failed stage.
func (g *GitLab) Emit(e pipeline.Event) {
	if e.Type != pipeline.EventStageFinish || !e.Status.Failed() {
		return
	}
	name := sectionName(e.Service + "_" + e.Stage)
	start := e.Time.Add(-time.Duration(e.Duration * float64(time.Second)))
	fmt.Fprintf(g.w, "\x1b[0Ksection_start:%d:%s[collapsed=true]\r\x1b[0K%s\n", start.Unix(), name, oneLine(stageHeadline(e)))
	for _, l := range model.LogTail(e.Log, LogLines) {
		fmt.Fprintln(g.w, l)
	}
	fmt.Fprintf(g.w, "\x1b[0Ksection_end:%d:%s\r\x1b[0K\n", e.Time.Unix(), name)
	for _, p := range e.Problems {
		line := p.String()
		if p.Code == "" {
			line += " (" + p.Title + ")"
		}
		fmt.Fprintln(g.w, oneLine(line))
	}
}

// sectionUnsafe is what a GitLab section name may not hold.
var sectionUnsafe = regexp.MustCompile(`[^A-Za-z0-9_.-]`)

// sectionName is s as a GitLab section name: letters, digits, '_', '.', '-'.
func sectionName(s string) string { return "convoy_" + sectionUnsafe.ReplaceAllString(s, "_") }

// stageHeadline is "auth unit failed (exit code 1)".
func stageHeadline(e pipeline.Event) string {
	h := fmt.Sprintf("%s %s %s", e.Service, e.Stage, e.Status)
	if e.ExitCode != nil {
		h += fmt.Sprintf(" (exit code %d)", *e.ExitCode)
	}
	return h
}

// stageMessage is what an annotation of the stage itself says: its message and its log's path.
func stageMessage(e pipeline.Event) string {
	msg := e.Message
	if msg == "" {
		msg = stageHeadline(e)
	}
	if e.Log != "" {
		msg += "\nlog: " + e.Log
	}
	return msg
}

// problemText is a problem's message, with its code when it has one.
func problemText(p stages.Finding) string {
	if p.Code != "" {
		return p.Code + " " + p.Text
	}
	return p.Text
}

// oneLine keeps s on one line of a job log.
func oneLine(s string) string { return strings.NewReplacer("\r", " ", "\n", " ").Replace(s) }

// appendFile appends what write writes to the file at path, creating it.
func appendFile(path string, write func(io.Writer)) error {
	f, err := os.OpenFile(path, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		return fmt.Errorf("appending the step summary: %w", err)
	}
	write(f)
	if err := f.Close(); err != nil {
		return fmt.Errorf("appending the step summary %s: %w", path, err)
	}
	return nil
}
