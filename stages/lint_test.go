package stages

import (
	"reflect"
	"testing"
)

// TestParseFlake8: lines in flake8's default format become findings with paths relative to the
// repository root, whether flake8 printed them relative to the service or absolute; other
// lines (a traceback, a summary) are not findings.
func TestParseFlake8(t *testing.T) {
	out := "./app/m.py:3:1: F401 'os' imported but unused\n" +
		"app/views.py:12:80: E501 line too long (88 > 79 characters)\r\n" +
		"/repo/services/auth/x.py:1:1: W391 blank line at end of file\n" +
		"Traceback (most recent call last):\n" +
		"2     F401 'os' imported but unused\n"
	got := parseFlake8([]byte(out), "services/auth", "/repo/services/auth")
	want := []Finding{
		{File: "services/auth/app/m.py", Line: 3, Col: 1, Code: "F401", Text: "'os' imported but unused", Title: "flake8 F401"},
		{File: "services/auth/app/views.py", Line: 12, Col: 80, Code: "E501", Text: "line too long (88 > 79 characters)", Title: "flake8 E501"},
		{File: "services/auth/x.py", Line: 1, Col: 1, Code: "W391", Text: "blank line at end of file", Title: "flake8 W391"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got  %+v\nwant %+v", got, want)
	}
	if s := got[0].String(); s != "services/auth/app/m.py:3:1: F401 'os' imported but unused" {
		t.Errorf("String() = %q", s)
	}
}
