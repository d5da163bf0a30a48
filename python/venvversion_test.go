package python

import (
	"os"
	"path/filepath"
	"testing"
)

// TestVenvVersion: the interpreter version a virtualenv records, as venv and uv write it, is what
// a lockfile names — not the version of whatever interpreter reads the virtualenv (an exported
// container virtualenv is read with the host's).
func TestVenvVersion(t *testing.T) {
	for _, tc := range []struct{ cfg, want string }{
		{"home = /usr/bin\ninclude-system-site-packages = false\nversion = 3.11.2\n", "3.11.2"},
		{"home = /usr/bin\nimplementation = CPython\nuv = 0.13.9\nversion_info = 3.11.2\n", "3.11.2"},
		{"home = /usr/bin\n", ""},
	} {
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, "pyvenv.cfg"), []byte(tc.cfg), 0o644); err != nil {
			t.Fatal(err)
		}
		if got := venvVersion(dir); got != tc.want {
			t.Errorf("pyvenv.cfg %q: version %q, want %q", tc.cfg, got, tc.want)
		}
	}
	if got := venvVersion(t.TempDir()); got != "" {
		t.Errorf("no pyvenv.cfg: version %q", got)
	}
}
