package python

import (
	"slices"
	"strings"
	"testing"
)

func TestPipenvLockRequirements(t *testing.T) {
	meta := `"_meta": {"sources": [{"name": "pypi", "url": "https://pypi.org/simple", "verify_ssl": true}]}`
	tests := []struct {
		name    string
		lock    string
		want    []string
		ok      bool
		wantErr string
	}{
		{"index packages, markers kept", `{` + meta + `, "default": {
			"six": {"hashes": ["sha256:1"], "markers": "python_full_version < '3.11.3'", "version": "==1.16.0"},
			"asgiref": {"hashes": [], "index": "pypi", "markers": "python_version >= '3.8'", "version": "==3.8.1"},
			"psycopg": {"extras": ["binary", "pool"], "version": "==3.2.1"},
			"anything": {"version": "*"}},
			"develop": {"pytest": {"version": "==8.2.0"}}}`,
			[]string{"-i https://pypi.org/simple", "anything", "asgiref==3.8.1; python_version >= '3.8'",
				"psycopg[binary,pool]==3.2.1", "six==1.16.0; python_full_version < '3.11.3'"}, true, ""},
		{"extra index", `{"_meta": {"sources": [{"url": "https://a.example/simple"}, {"url": "https://b.example/simple"}]}, "default": {}}`,
			[]string{"-i https://a.example/simple", "--extra-index-url https://b.example/simple"}, true, ""},
		{"a git package is pipenv's to render", `{` + meta + `, "default": {"lib": {"git": "https://example.com/lib.git", "ref": "abc"}}}`, nil, false, ""},
		{"a path package too", `{` + meta + `, "default": {"lib": {"path": "../lib", "editable": true}}}`, nil, false, ""},
		{"and os_markers", `{` + meta + `, "default": {"x": {"version": "==1", "os_markers": "os_name == 'nt'"}}}`, nil, false, ""},
		{"an index with variables", `{"_meta": {"sources": [{"url": "https://${TOKEN}@example.com/simple"}]}, "default": {}}`, nil, false, ""},
		{"not json", `{`, nil, false, "reading Pipfile.lock"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok, err := PipenvLockRequirements([]byte(tt.lock))
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil || ok != tt.ok || !slices.Equal(got, tt.want) {
				t.Errorf("= %q, %v, %v; want %q, %v", got, ok, err, tt.want, tt.ok)
			}
		})
	}
}
