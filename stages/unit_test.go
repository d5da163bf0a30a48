package stages

import "testing"

// TestParseUnittest: the summary unittest and Django's manage.py test print, in each verdict's
// shape; output without one gives no counts.
func TestParseUnittest(t *testing.T) {
	for _, tc := range []struct {
		name, out string
		want      string // TestCounts.String(); "" = no counts
	}{
		{"ok", "....\n----------------------------------------------------------------------\nRan 4 tests in 0.012s\n\nOK\n", "4 passed"},
		{"ok skipped", "Ran 5 tests in 0.1s\n\nOK (skipped=2)\nDestroying test database for alias 'default'...\n", "3 passed, 2 skipped"},
		{"failed", "Ran 6 tests in 0.001s\n\nFAILED (failures=1, errors=2, skipped=1, expected failures=1)\n", "2 passed, 1 failed, 2 errors, 1 skipped"},
		{"last run wins", "Ran 9 tests in 1s\n\nOK\nRan 2 tests in 1s\n\nOK\n", "2 passed"},
		{"no summary", "collected 0 items\n", ""},
		{"no verdict", "Ran 3 tests in 0.1s\n", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, ok := parseUnittest([]byte(tc.out))
			got := ""
			if ok {
				got = c.String()
			}
			if got != tc.want {
				t.Errorf("parseUnittest = %q, want %q", got, tc.want)
			}
		})
	}
	if s := (TestCounts{}).String(); s != "counts unavailable" {
		t.Errorf("unavailable counts = %q", s)
	}
}

// TestShellQuote: the JUnit path survives PYTEST_ADDOPTS' shlex split.
func TestShellQuote(t *testing.T) {
	for in, want := range map[string]string{"/a/b.xml": "/a/b.xml", "/a b/c.xml": "'/a b/c.xml'", "/it's": `'/it'\''s'`} {
		if got := shellQuote(in); got != want {
			t.Errorf("shellQuote(%q) = %q, want %q", in, got, want)
		}
	}
}
