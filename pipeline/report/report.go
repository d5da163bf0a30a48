// Package report renders convoy's event stream: NDJSON for machines, plain lines for CI logs,
// a live view for terminals, and the summary table and failure reports for people.
package report

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/convoy-ci/convoy/engine"
	"github.com/convoy-ci/convoy/pipeline"
)

// JSON writes one JSON object per line per event; the summary event is written last, as
// {"type":"summary","services":[…]}.
type JSON struct {
	enc *json.Encoder
}

// NewJSON returns an NDJSON renderer writing to w.
func NewJSON(w io.Writer) *JSON { return &JSON{enc: json.NewEncoder(w)} }

// Emit writes the event as one line.
func (j *JSON) Emit(e pipeline.Event) {
	if e.Type == pipeline.EventSummary && e.Summary != nil {
		s := *e.Summary
		s.Type = pipeline.EventSummary
		_ = j.enc.Encode(s)
		return
	}
	_ = j.enc.Encode(e)
}

// Plain writes one line per event, for logs that are not terminals (CI).
type Plain struct {
	w     io.Writer
	start time.Time
	fails Failures
}

// NewPlain returns a plain-line renderer writing to w.
func NewPlain(w io.Writer) *Plain { return &Plain{w: w} }

// Emit writes one line for stage starts and finishes, notices and the summary.
func (p *Plain) Emit(e pipeline.Event) {
	if p.start.IsZero() {
		p.start = e.Time
	}
	p.fails.Emit(e)
	at := fmtDur(e.Time.Sub(p.start))
	switch e.Type {
	case pipeline.EventRunStart:
		fmt.Fprintf(p.w, "convoy %s: %d services, %d jobs, engine %s\n", e.Run.Command, len(e.Run.Services), e.Run.Jobs, e.Run.Engine)
	case pipeline.EventStageStart:
		fmt.Fprintf(p.w, "[%6s] %-16s %-11s started\n", at, e.Service, e.Stage)
	case pipeline.EventStageFinish:
		extra := ""
		switch {
		case (e.Status == pipeline.StatusPassed || e.Status == pipeline.StatusCached) && e.Message != "":
			extra = " (" + e.Message + ")"
		case e.Status == pipeline.StatusSkipped || e.Status == pipeline.StatusCancelled:
			extra = " (" + e.Message + ")"
		case e.ExitCode != nil:
			extra = fmt.Sprintf(" (exit code %d)", *e.ExitCode)
		}
		if e.Tests != nil {
			extra += " (tests: " + e.Tests.String() + ")"
		}
		took := " in " + fmtDur(time.Duration(e.Duration*float64(time.Second)))
		if e.Status == pipeline.StatusSkipped || e.Status == pipeline.StatusCancelled || (e.Status == pipeline.StatusCached && e.Duration == 0) {
			took = ""
		}
		if e.Shadow && e.Status.Failed() {
			extra += " — SHADOW FAILURE (does not fail the run)"
		}
		fmt.Fprintf(p.w, "[%6s] %-16s %-11s %s%s%s\n", at, e.Service, e.Stage, e.Status, took, extra)
	case pipeline.EventNotice:
		fmt.Fprintf(p.w, "[%6s] note: %s\n", at, e.Message)
	case pipeline.EventTest:
		if e.Status.Failed() {
			fmt.Fprintf(p.w, "[%6s] %-16s %-11s %s: %s\n", at, "integration", e.Stage, e.Status, e.Message)
		}
	case pipeline.EventSummary:
		if e.Summary != nil {
			WriteSummary(p.w, *e.Summary, p.fails.List())
		}
	}
}

// Failure is a stage that did not pass, with what a report says about it.
type Failure struct {
	Service, Stage string
	Status         pipeline.Status
	ExitCode       *int
	Message        string
	Log            string
	Tail           []string
}

// Failures collects stage.finish events that did not pass, for the end-of-run report.
type Failures struct {
	list []Failure
}

// Emit records failed stages.
func (f *Failures) Emit(e pipeline.Event) {
	if e.Type == pipeline.EventStageFinish && e.Status.Failed() {
		f.list = append(f.list, Failure{Service: e.Service, Stage: e.Stage, Status: e.Status,
			ExitCode: e.ExitCode, Message: e.Message, Log: e.Log, Tail: e.Tail})
	}
}

// List returns the failures in the order they happened.
func (f *Failures) List() []Failure { return f.list }

// WriteSummary writes the service × stage table, the total wall time, and a report of every
// failure: service, stage, exit code, the log's last lines and its path.
func WriteSummary(w io.Writer, s pipeline.Summary, fails []Failure) {
	names := stageNames(s)
	fmt.Fprintln(w)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	withTests := hasTests(s)
	testsHead := ""
	if withTests {
		testsHead = "TESTS\t"
	}
	fmt.Fprintf(tw, "SERVICE\tSTATUS\t%s\t%sREF\n", strings.ToUpper(strings.Join(names, "\t")), testsHead)
	for _, svc := range s.Services {
		cells := make([]string, len(names))
		for i, name := range names {
			cells[i] = stageCell(svc, name)
		}
		img := svc.Image
		if img == "" {
			img = "-"
		}
		tests := ""
		if withTests {
			tests = testsCell(svc) + "\t"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s%s\n", serviceLabel(svc), svc.Status, strings.Join(cells, "\t"), tests, img)
	}
	_ = tw.Flush()
	writeFindings(w, s)
	if in := s.Integration; in != nil {
		fmt.Fprintf(w, "\nintegration: %s — %d passed, %d failed, %d skipped, %d errors", in.Status, in.Passed, in.Failed, in.Skipped, in.Errors)
		if in.Log != "" {
			fmt.Fprintf(w, " (log: %s)", in.Log)
		}
		fmt.Fprintf(w, "\n%s\n", provenance(*in))
	}
	shadows := map[string]bool{}
	for _, svc := range s.Services {
		shadows[svc.Name] = svc.Shadow
	}
	for _, f := range fails {
		code := "none (did not exit by itself)"
		if f.ExitCode != nil {
			code = fmt.Sprint(*f.ExitCode)
		}
		who := f.Service
		if shadows[f.Service] {
			who += " (shadow)"
		}
		fmt.Fprintf(w, "\n--- %s: stage %s %s, exit code %s\n", who, f.Stage, f.Status, code)
		if f.Message != "" {
			fmt.Fprintf(w, "    %s\n", f.Message)
		}
		if len(f.Tail) > 0 {
			fmt.Fprintf(w, "    last %d lines of its log:\n", len(f.Tail))
			for _, l := range f.Tail {
				fmt.Fprintf(w, "    | %s\n", l)
			}
		}
		if f.Log != "" {
			fmt.Fprintf(w, "    full log: %s\n", f.Log)
		}
	}
	if len(s.ShadowFailed) > 0 {
		fmt.Fprintf(w, "\n!!! SHADOW FAILURE: %s did not pass — reported, but shadow services never fail the run\n",
			strings.Join(s.ShadowFailed, ", "))
	}
	if cp := criticalPath(s.CriticalPath); cp != "" {
		fmt.Fprintf(w, "\ncritical path: %s\n", cp)
	}
	fmt.Fprintf(w, "\n%s in %s\n", s.Status, fmtDur(time.Duration(s.Duration*float64(time.Second))))
}

// criticalPath is "auth deps 4.1s → auth unit 2.0s → … = 15.3s", or "" for none.
func criticalPath(cp *pipeline.CriticalPath) string {
	if cp == nil || len(cp.Stages) == 0 {
		return ""
	}
	parts := make([]string, len(cp.Stages))
	for i, st := range cp.Stages {
		parts[i] = fmt.Sprintf("%s %s %s", st.Service, st.Stage, fmtSeconds(st.Duration))
	}
	return strings.Join(parts, " → ") + " = " + fmtSeconds(cp.Duration)
}

// fmtSeconds formats a duration in seconds as fmtDur does.
func fmtSeconds(s float64) string { return fmtDur(time.Duration(s * float64(time.Second))) }

// serviceLabel is a service's name in the summary table: "NAME (shadow)" for a shadow service.
func serviceLabel(svc pipeline.ServiceSummary) string {
	if svc.Shadow {
		return svc.Name + " (shadow)"
	}
	return svc.Name
}

// hasTests reports whether a stage of the summary counted tests (even as unavailable).
func hasTests(s pipeline.Summary) bool {
	for _, svc := range s.Services {
		for _, st := range svc.Stages {
			if st.Tests != nil {
				return true
			}
		}
	}
	return false
}

// testsCell is a service's TESTS cell: "unit 42 passed", "unit counts unavailable", or "-".
func testsCell(svc pipeline.ServiceSummary) string {
	var cells []string
	for _, st := range svc.Stages {
		if st.Tests != nil {
			cells = append(cells, st.Name+" "+st.Tests.String())
		}
	}
	if len(cells) == 0 {
		return "-"
	}
	return strings.Join(cells, "; ")
}

// writeFindings lists the stages that passed with findings (lint_mode: warn) and their total.
func writeFindings(w io.Writer, s pipeline.Summary) {
	total := 0
	for _, svc := range s.Services {
		for _, st := range svc.Stages {
			if st.Findings > 0 {
				if total == 0 {
					fmt.Fprintln(w)
				}
				total += st.Findings
				fmt.Fprintf(w, "%s %s: %d findings, not failing (warn mode; every one in %s)\n", svc.Name, st.Name, st.Findings, st.Log)
			}
		}
	}
	if total > 0 {
		fmt.Fprintf(w, "findings: %d in all\n", total)
	}
}

// provenance says what the integration stage started the services from.
func provenance(in pipeline.IntegrationSummary) string {
	switch {
	case in.From == engine.FromVenv:
		return "services ran from the environments that passed their gates, not from their images: the images were not proven"
	case in.ImagesProven:
		return fmt.Sprintf("every service ran from its image (%s): the images are proven", in.Runtime)
	}
	return fmt.Sprintf("services ran from their images (%s)", in.Runtime)
}

func fmtDur(d time.Duration) string {
	switch {
	case d < time.Second:
		return fmt.Sprintf("%dms", d.Milliseconds())
	case d < time.Minute:
		return fmt.Sprintf("%.1fs", d.Seconds())
	}
	return d.Round(time.Second).String()
}
