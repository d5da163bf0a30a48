package main

import (
	"encoding/json"
	"strings"
	"testing"
)

// TestDoctorExitCodes runs convoy doctor on manifests: a Python that is not installed is a failed
// check (exit 1) with its fix, in text and as JSON lines ending with the summary; a manifest with
// a problem, or an argument, is refused (exit 2) before any check.
func TestDoctorExitCodes(t *testing.T) {
	files := pyServices("  python: \"3.99\"\n", map[string]map[string]string{"a": {}})
	root := writeRepo(t, files)
	text := convoy(t, root, nil, "doctor")
	if text.code != exitFailed || !strings.Contains(text.stdout, "fail  python 3.99") ||
		!strings.Contains(text.stdout, "fix: apt-get install -y python3.99") {
		t.Errorf("doctor: exit %d\n%s%s\nwant 1, python 3.99 failed with its apt-get install", text.code, text.stdout, text.stderr)
	}
	js := convoy(t, root, nil, "doctor", "--output", "json")
	lines := strings.Split(strings.TrimSpace(js.stdout), "\n")
	var sum struct {
		Type string `json:"type"`
		Fail int    `json:"fail"`
	}
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &sum); err != nil || js.code != exitFailed || sum.Type != "summary" || sum.Fail < 1 {
		t.Errorf("doctor --output json: exit %d, last line %s (%v); want 1 and a summary counting the failure", js.code, lines[len(lines)-1], err)
	}

	files["services.yaml"] = strings.Replace(files["services.yaml"], "3.99", "three", 1)
	bad := writeRepo(t, files)
	if res := convoy(t, bad, nil, "doctor"); res.code != exitUsage || res.stdout != "" || !strings.Contains(res.stderr, "services.yaml:4:") {
		t.Errorf("doctor on a bad manifest: exit %d, stdout %q, stderr %q; want 2, no check, the problem's line", res.code, res.stdout, res.stderr)
	}
	if res := convoy(t, root, nil, "doctor", "extra"); res.code != exitUsage {
		t.Errorf("doctor extra: exit %d, want 2", res.code)
	}
}
