package python

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// markerSpec is a requirements.txt whose closure depends on the patch level of the Python it is
// resolved for.
const markerSpec = "six==1.16.0 ; python_full_version < '3.11.3'\n" +
	"idna==3.7 ; python_full_version >= '3.11.3'\n" +
	"asgiref\n"

// TestCompileMarkers resolves one spec for two patch levels of 3.11: each gets the package its
// markers select, whatever the host's interpreter; the constraints hold asgiref to the version
// "the gates installed".
func TestCompileMarkers(t *testing.T) {
	uv, python := testUVPython(t)
	ctx := context.Background()
	dir := t.TempDir()
	write(t, dir, "requirements.txt", markerSpec)
	constraints := write(t, dir, "constraints.txt", "asgiref==3.8.1\nDjango==5.0.4\n")
	tests := []struct {
		version string
		want    []string
	}{
		{"3.11.2", []string{"asgiref==3.8.1", "six==1.16.0"}},
		{"3.11.7", []string{"asgiref==3.8.1", "idna==3.7"}},
	}
	for _, tt := range tests {
		t.Run(tt.version, func(t *testing.T) {
			target, err := LinuxTarget(tt.version, "amd64", "2.36")
			if err != nil {
				t.Fatal(err)
			}
			var log bytes.Buffer
			got, err := uv.Compile(ctx, Compile{Spec: "requirements.txt", Constraints: constraints, Target: target, Python: python},
				Exec{Dir: dir, Log: &log})
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("pins %q, want %q", got, tt.want)
			}
			if !strings.HasPrefix(log.String(), "$ "+uv.Path+" pip compile --no-config") {
				t.Errorf("log does not open with the command: %q", log.String())
			}
		})
	}
}

// TestCompileConflict: a spec the constraints forbid fails with uv's explanation.
func TestCompileConflict(t *testing.T) {
	uv := testUV(t)
	dir := t.TempDir()
	write(t, dir, "requirements.txt", "six==1.16.0\n")
	constraints := write(t, dir, "constraints.txt", "six==1.17.0\n")
	target, _ := LinuxTarget("3.11.2", "amd64", "2.36")
	_, err := uv.Compile(context.Background(), Compile{Spec: "requirements.txt", Constraints: constraints, Target: target}, Exec{Dir: dir})
	var te *ToolError
	if err == nil || !strings.Contains(err.Error(), "unsatisfiable") || !errors.As(err, &te) || te.ExitCode() != 1 {
		t.Fatalf("error = %v, want uv's unsatisfiable requirements and its exit code", err)
	}
	if !strings.Contains(err.Error(), "for CPython 3.11.2 (x86_64-manylinux_2_36)") {
		t.Errorf("error does not name the target: %v", err)
	}
}

// TestInstallForTarget installs a wheel with a compiled extension for a target that is not the
// host (another Python, another architecture): the extension is the target's, and uv leaves
// nothing of its own behind.
func TestInstallForTarget(t *testing.T) {
	uv, python := testUVPython(t)
	ctx := context.Background()
	dir := t.TempDir()
	reqs := write(t, dir, "pins.txt", "markupsafe==2.1.5\nsix==1.16.0\n")
	tests := []struct {
		version, arch string
		ext           string
	}{
		{"3.11.2", "amd64", "_speedups.cpython-311-x86_64-linux-gnu.so"},
		{"3.12.3", "arm64", "_speedups.cpython-312-aarch64-linux-gnu.so"},
	}
	for _, tt := range tests {
		t.Run(tt.version+"/"+tt.arch, func(t *testing.T) {
			target, err := LinuxTarget(tt.version, tt.arch, "2.36")
			if err != nil {
				t.Fatal(err)
			}
			site := filepath.Join(t.TempDir(), "site-packages")
			if err := uv.Install(ctx, Install{Requirements: reqs, Dir: site, Target: target, Python: python}, Exec{}); err != nil {
				t.Fatal(err)
			}
			for _, f := range []string{"six.py", "markupsafe/" + tt.ext} {
				if _, err := os.Stat(filepath.Join(site, f)); err != nil {
					t.Errorf("%s is not installed: %v", f, err)
				}
			}
			if _, err := os.Stat(filepath.Join(site, ".lock")); !os.IsNotExist(err) {
				t.Errorf("uv's lock is left in the target: %v", err)
			}
		})
	}
}

// TestFreezeAgreesWithUV: what Freeze reads from a real virtualenv's files is what `uv pip
// freeze` (FreezeArgv, the Dagger engine's way) prints, up to the spelling of names.
func TestFreezeAgreesWithUV(t *testing.T) {
	if testing.Short() {
		t.Skip("makes a virtualenv and installs into it with pip (~10 s); skipped with -short")
	}
	uv, python := testUVPython(t)
	ctx := context.Background()
	venv := filepath.Join(t.TempDir(), "venv")
	if err := run(ctx, []string{python, "-m", "venv", venv}, Exec{}, nil); err != nil {
		t.Fatal(err)
	}
	install := []string{filepath.Join(venv, "bin", "python"), "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
		"--no-deps", "six==1.16.0", "Django==5.0.4"}
	if err := run(ctx, install, Exec{}, nil); err != nil {
		t.Fatal(err)
	}
	got, err := Freeze(venv)
	if err != nil {
		t.Fatal(err)
	}
	var out strings.Builder
	if err := run(ctx, FreezeArgv(uv.Path, filepath.Join(venv, "bin", "python")), Exec{Env: uv.Env(nil)}, &out); err != nil {
		t.Fatal(err)
	}
	want := Pins(out.String())
	lower := func(pins []string) []string {
		var l []string
		for _, p := range pins {
			l = append(l, strings.ToLower(p))
		}
		slices.Sort(l)
		return l
	}
	if !slices.Equal(lower(got), lower(want)) {
		t.Errorf("Freeze = %q, uv pip freeze = %q", got, want)
	}
	if !slices.Contains(got, "Django==5.0.4") || !slices.Contains(got, "six==1.16.0") {
		t.Errorf("Freeze = %q, want what was installed", got)
	}
}

// TestResolveOffline: Resolve takes uv's cache's answer only when the constraints and the
// spec's exact pins fix all of it, and otherwise asks the index — with the same answer as
// Compile either way.
func TestResolveOffline(t *testing.T) {
	uv, python := testUVPython(t)
	ctx := context.Background()
	dir := t.TempDir()
	write(t, dir, "pinned.txt", markerSpec)
	write(t, dir, "unpinned.txt", "six ; python_full_version < '3.11.3'\nasgiref\n")
	constraints := write(t, dir, "constraints.txt", "asgiref==3.8.1\nIDNA==3.7\n") // as the gates on 3.11.7 hold them
	tests := []struct {
		name       string
		spec       string
		version    string
		emptyCache bool // for Resolve
		log        string
	}{
		{"the constraints fix it", "pinned.txt", "3.11.7", false, "resolved from uv's cache"},
		{"a package only the target needs, pinned by the spec", "pinned.txt", "3.11.2", false, "resolved from uv's cache"},
		{"a package only the target needs, pinned by nothing", "unpinned.txt", "3.11.2", false,
			"resolving online: six==1.1"}, // whichever six is the newest
		{"an empty cache", "pinned.txt", "3.11.7", true, "resolving online: uv's cache cannot answer alone"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			target, _ := LinuxTarget(tt.version, "amd64", "2.36")
			c := Compile{Spec: tt.spec, Constraints: constraints, Target: target, Python: python}
			// Compile first: the cache then knows what the index said.
			online, err := uv.Compile(ctx, c, Exec{Dir: dir})
			if err != nil {
				t.Fatal(err)
			}
			u := *uv
			if tt.emptyCache {
				u.CacheDir = t.TempDir()
			}
			var log bytes.Buffer
			got, err := u.Resolve(ctx, c, Exec{Dir: dir, Log: &log})
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(got, online) || !slices.Contains(got, "asgiref==3.8.1") {
				t.Errorf("Resolve = %q, Compile = %q", got, online)
			}
			if !strings.Contains(log.String(), tt.log) {
				t.Errorf("log lacks %q:\n%s", tt.log, log.String())
			}
		})
	}
}

func TestExactPin(t *testing.T) {
	tests := []struct {
		line, want string
		ok         bool
	}{
		{"six==1.16.0 ; python_full_version < '3.11.3'", "six==1.16.0", true},
		{"Django[argon2,bcrypt] == 5.0.4", "django==5.0.4", true},
		{"asgiref==3.8.1; python_version >= '3.8'", "asgiref==3.8.1", true},
		{"zope.interface==6.4  # why", "zope-interface==6.4", true},
		{"django>=5", "", false},
		{"django==5.*", "", false},
		{"django==5.0,!=5.0.1", "", false},
		{"django", "", false},
		{"-i https://pypi.org/simple", "", false},
		{"pkg @ https://example.com/pkg.whl", "", false},
	}
	for _, tt := range tests {
		got, ok := exactPin(tt.line)
		if got != tt.want || ok != tt.ok {
			t.Errorf("exactPin(%q) = %q, %v; want %q, %v", tt.line, got, ok, tt.want, tt.ok)
		}
	}
}

func TestNormalizePin(t *testing.T) {
	tests := []struct{ in, want string }{
		{"Django==5.0.4", "django==5.0.4"},
		{"zope.interface==6.4", "zope-interface==6.4"},
		{"typing_extensions==4.12.2", "typing-extensions==4.12.2"},
		{"Foo__Bar-.baz == 1", "foo-bar-baz==1"},
		{"pkg @ https://example.com/p.whl", "pkg @ https://example.com/p.whl"},
	}
	for _, tt := range tests {
		if got := normalizePin(tt.in); got != tt.want {
			t.Errorf("normalizePin(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}
