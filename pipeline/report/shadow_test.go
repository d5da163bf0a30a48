package report

import (
	"bytes"
	"encoding/xml"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/convoy-ci/convoy/pipeline"
)

// shadowEvents is events() with events a shadow service: the run passed, events is named a
// shadow failure.
func shadowEvents() []pipeline.Event {
	evs := events()
	last := &evs[len(evs)-1]
	sum := *last.Summary
	sum.Services = append([]pipeline.ServiceSummary(nil), sum.Services...)
	sum.Services[1].Shadow = true
	sum.Status, sum.ShadowFailed = pipeline.StatusPassed, []string{"events"}
	last.Summary = &sum
	for i := range evs {
		if evs[i].Service == "events" {
			evs[i].Shadow = true
		}
	}
	return evs
}

// TestShadowFailureReported: the failed stage's line says SHADOW FAILURE; the text summary labels the shadow service in its table and its
// failure report and names it in a SHADOW FAILURE line above a passed run; the JUnit report
// names its suite "events (shadow)", with the property shadow=true and its failure's message
// starting with ShadowNote. Without the shadow flag none of it appears.
func TestShadowFailureReported(t *testing.T) {
	for _, shadow := range []bool{true, false} {
		evs := events()
		if shadow {
			evs = shadowEvents()
		}
		var out bytes.Buffer
		r := NewPlain(&out)
		path := filepath.Join(t.TempDir(), "junit.xml")
		j := NewJUnit(path)
		for _, e := range evs {
			r.Emit(e)
			j.Emit(e)
		}
		if j.Err() != nil {
			t.Fatal(j.Err())
		}
		text := out.String()
		for _, want := range []string{
			"failed in 500ms (exit code 3) — SHADOW FAILURE (does not fail the run)",
			"events (shadow)  failed",
			"--- events (shadow): stage unit failed, exit code 3",
			"!!! SHADOW FAILURE: events did not pass — reported, but shadow services never fail the run",
			"passed in 2.5s",
		} {
			if strings.Contains(text, want) != shadow {
				t.Errorf("shadow %v: text has %q: %v\n%s", shadow, want, !shadow, text)
			}
		}
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		var got struct {
			Suites []struct {
				Name  string `xml:"name,attr"`
				Props []struct {
					Name  string `xml:"name,attr"`
					Value string `xml:"value,attr"`
				} `xml:"properties>property"`
				Cases []struct {
					Failure *struct {
						Message string `xml:"message,attr"`
					} `xml:"failure"`
				} `xml:"testcase"`
			} `xml:"testsuite"`
		}
		if err := xml.Unmarshal(data, &got); err != nil {
			t.Fatalf("%v\n%s", err, data)
		}
		s := got.Suites[0] // events finished first
		marked := s.Name == "events (shadow)" && len(s.Props) == 1 && s.Props[0].Name == "shadow" && s.Props[0].Value == "true" &&
			s.Cases[0].Failure != nil && strings.HasPrefix(s.Cases[0].Failure.Message, ShadowNote+"exit code 3")
		if marked != shadow || got.Suites[1].Name != "auth" {
			t.Errorf("shadow %v: JUnit suites = %+v", shadow, got.Suites)
		}
	}
}
