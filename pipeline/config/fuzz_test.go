package config

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// FuzzParse feeds arbitrary bytes to the loader: it must never panic, and it must either
// return a config or an *Error whose every problem has a position.
func FuzzParse(f *testing.F) {
	seeds, _ := filepath.Glob(filepath.Join("testdata", "fuzz-seeds", "*.yaml"))
	for _, s := range seeds {
		data, err := os.ReadFile(s)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Add([]byte("version: 1\nservices:\n  - name: a\n    path: services/a\n    depends_on: [a]\n"))
	f.Add([]byte("&x [*x, *x]"))
	f.Add([]byte("version: 1\nservices: &s\n  - name: a\n    path: services/a\n    depends_on: *s\n"))
	root := repo(f, baseFiles)
	f.Fuzz(func(t *testing.T, data []byte) {
		cfg, err := Parse(data, "services.yaml", root)
		if err == nil {
			if cfg == nil {
				t.Fatal("Parse returned neither a config nor an error")
			}
			return
		}
		var ce *Error
		if !errors.As(err, &ce) || len(ce.Problems) == 0 {
			t.Fatalf("Parse error %v is not a non-empty *Error", err)
		}
		for _, p := range ce.Problems {
			if p.Line < 1 || p.Col < 1 || p.File != "services.yaml" || strings.TrimSpace(p.Msg) == "" {
				t.Fatalf("problem without a position or message: %+v", p)
			}
		}
	})
}
