package report

import (
	"fmt"
	"os"
	"strconv"
	"strings"

	"github.com/jstemmer/go-junit-report/v2/junit"

	"github.com/convoy-ci/convoy/pipeline"
)

// JUnit collects a run's events into a JUnit XML report, written to a file when the summary
// arrives: one test suite per service with one test case per stage, and one suite for the
// integration tests. CI systems show it as test results.
type JUnit struct {
	path   string
	suites map[string]*junit.Testsuite
	order  []string
	err    error
}

// NewJUnit returns a renderer that writes its report to path.
func NewJUnit(path string) *JUnit {
	return &JUnit{path: path, suites: map[string]*junit.Testsuite{}}
}

// Err reports a failure to write the report.
func (j *JUnit) Err() error { return j.err }

func (j *JUnit) suite(name string) *junit.Testsuite {
	s, ok := j.suites[name]
	if !ok {
		s = &junit.Testsuite{Name: name, ID: len(j.order)}
		j.suites[name] = s
		j.order = append(j.order, name)
	}
	return s
}

// Emit records finished stages and test results, and writes the report at the summary.
func (j *JUnit) Emit(e pipeline.Event) {
	switch e.Type {
	case pipeline.EventStageFinish:
		tc := junit.Testcase{Name: e.Stage, Classname: e.Service, Time: fmt.Sprintf("%.3f", e.Duration)}
		switch {
		case e.Status.Failed():
			msg := e.Message
			if e.ExitCode != nil {
				msg = fmt.Sprintf("exit code %d: %s", *e.ExitCode, msg)
			}
			tc.Failure = &junit.Result{Message: msg, Type: string(e.Status),
				Data: strings.Join(e.Tail, "\n") + "\n\nlog: " + e.Log}
		case e.Status == pipeline.StatusSkipped || e.Status == pipeline.StatusCancelled || e.Status == pipeline.StatusInterrupted:
			tc.Skipped = &junit.Result{Message: string(e.Status) + ": " + e.Message}
		}
		if e.Tests != nil {
			j.addCounts(e, &tc)
		}
		j.suite(e.Service).AddTestcase(tc)
	case pipeline.EventTest:
		tc := junit.Testcase{Name: e.Stage, Classname: pipeline.IntegrationService, Time: fmt.Sprintf("%.3f", e.Duration)}
		switch {
		case e.Status.Failed():
			tc.Failure = &junit.Result{Message: e.Message, Type: string(e.Status)}
		case e.Status == pipeline.StatusSkipped:
			tc.Skipped = &junit.Result{Message: e.Message}
		}
		j.suite(pipeline.IntegrationService + " tests").AddTestcase(tc)
	case pipeline.EventSummary:
		if e.Summary != nil {
			j.markShadows(e.Summary.Services)
		}
		j.err = j.write()
	}
}

// ShadowNote starts the message of every failure of a shadow service in the JUnit report.
const ShadowNote = "shadow service (reported, does not fail the run): "

// markShadows names each shadow service's suite "NAME (shadow)", gives it the property
// shadow=true and starts its failures' messages with ShadowNote, so that a CI dashboard shows a
// shadow failure as such.
func (j *JUnit) markShadows(services []pipeline.ServiceSummary) {
	for _, svc := range services {
		s, ok := j.suites[svc.Name]
		if !svc.Shadow || !ok {
			continue
		}
		s.Name = svc.Name + " (shadow)"
		s.AddProperty("shadow", "true")
		for i := range s.Testcases {
			if f := s.Testcases[i].Failure; f != nil {
				f.Message = ShadowNote + f.Message
			}
		}
	}
}

// addCounts puts a stage's test counts on its test case (system-out) and its service's suite
// (properties <stage>.tests.passed, …, or <stage>.tests = unavailable).
func (j *JUnit) addCounts(e pipeline.Event, tc *junit.Testcase) {
	c, s := *e.Tests, j.suite(e.Service)
	tc.SystemOut = &junit.Output{Data: "tests: " + c.String()}
	if !c.Available {
		s.AddProperty(e.Stage+".tests", "unavailable")
		return
	}
	tc.SystemOut.Data += " (from the " + c.Source + ")"
	for _, p := range []struct {
		name string
		n    int
	}{{"passed", c.Passed}, {"failed", c.Failed}, {"errors", c.Errors}, {"skipped", c.Skipped}} {
		s.AddProperty(e.Stage+".tests."+p.name, strconv.Itoa(p.n))
	}
	s.AddProperty(e.Stage+".tests.source", c.Source)
}

func (j *JUnit) write() error {
	var all junit.Testsuites
	all.Name = "convoy"
	for _, name := range j.order {
		all.AddSuite(*j.suites[name])
	}
	f, err := os.Create(j.path)
	if err != nil {
		return fmt.Errorf("writing JUnit report: %w", err)
	}
	if err := all.WriteXML(f); err != nil {
		f.Close()
		return fmt.Errorf("writing JUnit report %s: %w", j.path, err)
	}
	return f.Close()
}
