package python

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestDetect: each tool is recognised by its files, a uv workspace member by its root's lock, and
// a uv.lock wins over the specs a project may also carry.
func TestDetect(t *testing.T) {
	for _, c := range []struct {
		name     string
		files    map[string]string
		dir      string
		tool, is string // is: a part of the evidence; tool "" for none
	}{
		{"uv project", map[string]string{"svc/pyproject.toml": "[project]\nname = \"svc\"\n", "svc/uv.lock": "", "svc/requirements.txt": ""}, "svc", "uv", "uv.lock"},
		{"uv workspace member", map[string]string{
			"pyproject.toml":            "[tool.uv.workspace]\nmembers = [\"services/*\"]\n",
			"uv.lock":                   "",
			"services/a/pyproject.toml": "[project]\nname = \"a\"\n",
		}, "services/a", "uv", "uv workspace, ."},
		{"poetry lock", map[string]string{"svc/pyproject.toml": "", "svc/poetry.lock": ""}, "svc", "poetry", "poetry.lock"},
		{"poetry project", map[string]string{"svc/pyproject.toml": "[tool.poetry]\nname = \"svc\"\n"}, "svc", "poetry", "[tool.poetry]"},
		{"pipenv", map[string]string{"svc/Pipfile": "", "svc/requirements.txt": ""}, "svc", "pipenv", "Pipfile"},
		{"pip", map[string]string{"svc/requirements.txt": ""}, "svc", Pip, "requirements.txt"},
		{"a pyproject.toml of no tool", map[string]string{"svc/pyproject.toml": "[project]\nname = \"svc\"\n"}, "svc", "", ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			root := t.TempDir()
			for name, body := range c.files {
				p := filepath.Join(root, name)
				if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			tool, why, ok := Detect(root, c.dir)
			if ok != (c.tool != "") || tool != c.tool || !strings.Contains(why, c.is) {
				t.Errorf("Detect = %q, %q, %v; want %q, evidence with %q", tool, why, ok, c.tool, c.is)
			}
		})
	}
}
