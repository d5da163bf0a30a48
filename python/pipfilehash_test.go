package python

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// TestPipfileHashMatchesPipenv: the sample's Pipfile.lock files were written by pipenv
// (2026.10.3); the hash convoy computes of each Pipfile is the one pipenv recorded, and an
// edited Pipfile hashes otherwise.
func TestPipfileHashMatchesPipenv(t *testing.T) {
	for _, svc := range []string{"auth", "payments"} {
		dir := filepath.Join("..", "services", svc)
		pipfile, err := os.ReadFile(filepath.Join(dir, "Pipfile"))
		if err != nil {
			t.Fatal(err)
		}
		lock, err := os.ReadFile(filepath.Join(dir, "Pipfile.lock"))
		if err != nil {
			t.Fatal(err)
		}
		var l struct {
			Meta struct {
				Hash struct {
					SHA256 string `json:"sha256"`
				} `json:"hash"`
			} `json:"_meta"`
		}
		if err := json.Unmarshal(lock, &l); err != nil {
			t.Fatal(err)
		}
		got, err := PipfileHashes(pipfile)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Contains(got, l.Meta.Hash.SHA256) {
			t.Errorf("%s: pipenv recorded %s, convoy computes %v", svc, l.Meta.Hash.SHA256, got)
		}
		edited, err := PipfileHashes(append(pipfile, []byte("\n[scripts]\nx = \"y\"\n[extra]\nrequests = \"*\"\n")...))
		if err != nil {
			t.Fatal(err)
		}
		if slices.Contains(edited, l.Meta.Hash.SHA256) {
			t.Errorf("%s: an edited Pipfile hashes as the locked one", svc)
		}
	}
}

// TestPyJSON: strings and nesting are serialised as Python's json.dumps(sort_keys=True,
// separators=(",", ":")) does (ensure_ascii).
func TestPyJSON(t *testing.T) {
	v := map[string]any{"b": []any{int64(1), true, "é\"\\\n𝄞"}, "a": map[string]any{}}
	var b strings.Builder
	if err := pyJSON(&b, v); err != nil {
		t.Fatal(err)
	}
	// python3 -c 'import json; print(json.dumps({"b":[1,True,"é\"\\\n𝄞"],"a":{}}, sort_keys=True, separators=(",",":")))'
	want := `{"a":{},"b":[1,true,"\u00e9\"\\\n\ud834\udd1e"]}`
	if b.String() != want {
		t.Errorf("got  %s\nwant %s", b.String(), want)
	}
}
