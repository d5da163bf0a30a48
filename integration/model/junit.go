package model

import (
	"encoding/xml"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"
)

// junitNode is a <testsuites> or <testsuite> element: both may hold test suites, and a test suite
// holds test cases.
type junitNode struct {
	Suites []junitNode `xml:"testsuite"`
	Cases  []junitCase `xml:"testcase"`
}

type junitCase struct {
	Name      string     `xml:"name,attr"`
	Classname string     `xml:"classname,attr"`
	File      string     `xml:"file,attr"`
	Line      string     `xml:"line,attr"`
	Time      string     `xml:"time,attr"`
	Failures  []junitMsg `xml:"failure"`
	Errors    []junitMsg `xml:"error"`
	Skipped   []junitMsg `xml:"skipped"`
}

type junitMsg struct {
	Message string `xml:"message,attr"`
	Type    string `xml:"type,attr"`
	Text    string `xml:",chardata"`
}

// ParseJUnitFile reads the test results from a JUnit XML file (see ParseJUnit).
func ParseJUnitFile(path string) ([]TestResult, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	tests, err := ParseJUnit(f)
	if err != nil {
		return nil, fmt.Errorf("parsing JUnit XML %q: %w", path, err)
	}
	return tests, nil
}

// ParseJUnit reads the test results from JUnit XML (a <testsuites> or <testsuite> root, as pytest,
// Go's and Java's tools write it). A test case with a <failure> failed; otherwise with an <error>, it
// errored; otherwise with <skipped>, it was skipped; otherwise it passed.
func ParseJUnit(r io.Reader) ([]TestResult, error) {
	var root junitNode
	if err := xml.NewDecoder(r).Decode(&root); err != nil {
		return nil, err
	}
	var out []TestResult
	var walk func(n junitNode)
	walk = func(n junitNode) {
		for _, c := range n.Cases {
			out = append(out, c.result())
		}
		for _, s := range n.Suites {
			walk(s)
		}
	}
	walk(root)
	return out, nil
}

func (c junitCase) result() TestResult {
	t := TestResult{
		Name:      c.Name,
		Classname: c.Classname,
		Case:      c.Name,
		File:      c.File,
		Status:    TestPassed,
	}
	if c.Classname != "" {
		t.Name = c.Classname + "::" + c.Name
	}
	if line, err := strconv.Atoi(c.Line); err == nil {
		t.Line = line
	}
	if secs, err := strconv.ParseFloat(c.Time, 64); err == nil {
		t.Duration = time.Duration(secs * float64(time.Second))
	}
	var msgs []junitMsg
	switch {
	case len(c.Failures) > 0:
		t.Status, msgs = TestFailed, c.Failures
	case len(c.Errors) > 0:
		t.Status, msgs = TestError, c.Errors
	case len(c.Skipped) > 0:
		t.Status, msgs = TestSkipped, c.Skipped
	}
	var messages, details []string
	for _, m := range msgs {
		if s := strings.TrimSpace(m.Message); s != "" {
			messages = append(messages, s)
		}
		if s := strings.TrimSpace(m.Text); s != "" {
			details = append(details, s)
		}
	}
	t.Message = strings.Join(messages, "; ")
	t.Details = strings.Join(details, "\n\n")
	if t.Message == "" && len(details) > 0 {
		t.Message = firstLine(details[0])
	}
	return t
}

func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}
