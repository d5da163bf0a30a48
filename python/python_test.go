package python

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// cacheDir is the tools' cache of every test: $CONVOY_TEST_CACHE, so that uv is provisioned
// once for all packages' tests, else a directory of this run.
var cacheDir string

func TestMain(m *testing.M) {
	cacheDir = os.Getenv("CONVOY_TEST_CACHE")
	tmp := ""
	if cacheDir == "" {
		var err error
		if tmp, err = os.MkdirTemp("", "convoy-python-test-"); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		cacheDir = tmp
	}
	code := m.Run()
	if poetryTemplate != "" {
		os.RemoveAll(poetryTemplate)
	}
	if tmp != "" {
		os.RemoveAll(tmp)
	}
	os.Exit(code)
}

// needPyPI skips a test that downloads from PyPI when it cannot be reached.
func needPyPI(t *testing.T) {
	t.Helper()
	c := http.Client{Timeout: 10 * time.Second}
	resp, err := c.Head("https://pypi.org/simple/six/")
	if err != nil {
		t.Skipf("SKIP: PyPI is unreachable (%v): this test downloads uv and wheels", err)
	}
	resp.Body.Close()
}

// testUV is uv UVVersion, provisioned (once) into the tests' cache.
func testUV(t *testing.T) *UV {
	t.Helper()
	needPyPI(t)
	uv, err := NewTools(cacheDir).UV(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return uv
}

// testUVPython is testUV and the interpreter Tools gives uv to resolve and install with.
func testUVPython(t *testing.T) (*UV, string) {
	t.Helper()
	uv := testUV(t)
	python, err := NewTools(cacheDir).Python(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return uv, python
}

// write writes content to dir/name and returns its path.
func write(t *testing.T, dir, name, content string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestLinuxTarget(t *testing.T) {
	tests := []struct {
		version, arch, glibc string
		want                 Target
		wantErr              string
	}{
		{"3.11.2", "amd64", "2.36", Target{"3.11.2", "x86_64-manylinux_2_36"}, ""},
		{"3.12.7", "arm64", "2.28", Target{"3.12.7", "aarch64-manylinux_2_28"}, ""},
		{"3.11.9", "amd64", "2.30", Target{"3.11.9", "x86_64-manylinux_2_28"}, ""}, // the newest uv knows below
		{"3.11.9", "amd64", "2.41", Target{"3.11.9", "x86_64-manylinux_2_40"}, ""},
		{"3.11.9", "amd64", "2.17", Target{"3.11.9", "x86_64-manylinux_2_17"}, ""},
		{"3.11", "amd64", "2.36", Target{}, "not a full version"},
		{"3.11.2rc1", "amd64", "2.36", Target{}, "not a full version"},
		{"3.11.2", "ppc64le", "2.36", Target{}, `not "ppc64le"`},
		{"3.11.2", "amd64", "musl", Target{}, `glibc version "musl"`},
		{"3.11.2", "amd64", "2.12", Target{}, "older than manylinux2014"},
	}
	for _, tt := range tests {
		t.Run(tt.version+"/"+tt.arch+"/"+tt.glibc, func(t *testing.T) {
			got, err := LinuxTarget(tt.version, tt.arch, tt.glibc)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("= %+v, %v; want %+v", got, err, tt.want)
			}
		})
	}
}

func TestUVEnv(t *testing.T) {
	tests := []struct {
		name string
		env  []string
		want map[string]string
	}{
		{"nothing", []string{"PATH=/bin"}, map[string]string{}},
		{"uv's cache is convoy's", []string{"UV_CACHE_DIR=/elsewhere"}, map[string]string{"UV_CACHE_DIR": "/cache/uv"}},
		{"index", []string{"PIP_INDEX_URL=https://mirror.example/simple", "PIP_CERT=/ca.pem"},
			map[string]string{"UV_INDEX_URL": "https://mirror.example/simple", "SSL_CERT_FILE": "/ca.pem"}},
		{"extra index picks the best match, as pip", []string{"PIP_EXTRA_INDEX_URL=https://a.example/simple https://b.example/simple"},
			map[string]string{"UV_EXTRA_INDEX_URL": "https://a.example/simple https://b.example/simple", "UV_INDEX_STRATEGY": "unsafe-best-match"}},
		{"uv's own settings win", []string{"PIP_INDEX_URL=https://pip.example/simple", "UV_INDEX_URL=https://uv.example/simple", "SSL_CERT_FILE=/mine.pem", "PIP_CERT=/ca.pem"},
			map[string]string{}},
		{"no index", []string{"PIP_NO_INDEX=yes", "PIP_FIND_LINKS=/wheels", "PIP_TRUSTED_HOST=mirror.example"},
			map[string]string{"UV_NO_INDEX": "1", "UV_FIND_LINKS": "/wheels", "UV_INSECURE_HOST": "mirror.example"}},
		{"no index off", []string{"PIP_NO_INDEX=0"}, map[string]string{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := UVEnv("/cache/uv", tt.env)
			want := map[string]string{"UV_PYTHON_DOWNLOADS": "never", "UV_NO_PROGRESS": "1", "UV_CACHE_DIR": "/cache/uv"}
			for k, v := range tt.want {
				want[k] = v
			}
			if fmt.Sprint(got) != fmt.Sprint(want) {
				t.Errorf("= %v, want %v", got, want)
			}
		})
	}
	if _, ok := UVEnv("", nil)["UV_CACHE_DIR"]; ok {
		t.Error("UV_CACHE_DIR is set without a cache directory")
	}
}

func TestUVEnvAddsCache(t *testing.T) {
	u := &UV{Path: "uv", Version: UVVersion, CacheDir: "/cache/uv"}
	env := u.Env([]string{"PATH=/bin", "UV_CACHE_DIR=/elsewhere"})
	// The last value is the one a process gets.
	if v, _ := lookupEnv(env, "UV_CACHE_DIR"); v != "/cache/uv" {
		t.Errorf("UV_CACHE_DIR = %q", v)
	}
	if v, _ := lookupEnv(env, "UV_PYTHON_DOWNLOADS"); v != "never" {
		t.Errorf("UV_PYTHON_DOWNLOADS = %q: uv could download a Python", v)
	}
}

func TestPins(t *testing.T) {
	tests := []struct {
		name, text string
		want       []string
	}{
		{"empty", "", nil},
		{"sorted, comments and options dropped",
			"# header\n--index-url https://pypi.org/simple\nsix==1.16.0\n\n  asgiref==3.8.1  \n# via x\n",
			[]string{"asgiref==3.8.1", "six==1.16.0"}},
		{"urls and editables kept", "pkg @ https://example.com/pkg-1.0-py3-none-any.whl\n-e ./local\n",
			[]string{"-e ./local", "pkg @ https://example.com/pkg-1.0-py3-none-any.whl"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Pins(tt.text); !slices.Equal(got, tt.want) {
				t.Errorf("= %q, want %q", got, tt.want)
			}
		})
	}
}

// TestFreeze reads a virtualenv's metadata as pip freeze --exclude-editable would print it.
func TestFreeze(t *testing.T) {
	venv := t.TempDir()
	site := filepath.Join(venv, "lib", "python3.11", "site-packages")
	write(t, site, "Django-5.0.4.dist-info/METADATA", "Metadata-Version: 2.1\nName: Django\nVersion: 5.0.4\nSummary: x\n\nName: not-a-header\n")
	write(t, site, "six-1.16.0.dist-info/METADATA", "Metadata-Version: 2.1\nVersion: 1.16.0\nName: six\n")
	write(t, site, "legacy-0.1-py3.11.egg-info/PKG-INFO", "Metadata-Version: 1.0\nName: legacy\nVersion: 0.1\n")
	write(t, site, "mine-0.0.1.dist-info/METADATA", "Metadata-Version: 2.1\nName: mine\nVersion: 0.0.1\n")
	write(t, site, "mine-0.0.1.dist-info/direct_url.json", `{"url": "file:///src/mine", "dir_info": {"editable": true}}`)
	write(t, site, "wheel-url-1.0.dist-info/METADATA", "Name: wheel-url\nVersion: 1.0\n")
	write(t, site, "wheel-url-1.0.dist-info/direct_url.json", `{"url": "https://example.com/w.whl", "archive_info": {}}`)
	write(t, site, "six.py", "")
	got, err := Freeze(venv)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"Django==5.0.4", "legacy==0.1", "six==1.16.0", "wheel-url==1.0"}
	if !slices.Equal(got, want) {
		t.Errorf("= %q, want %q", got, want)
	}

	write(t, site, "broken-1.dist-info/METADATA", "Metadata-Version: 2.1\n\nName: late\n")
	if _, err := Freeze(venv); err == nil || !strings.Contains(err.Error(), "broken-1.dist-info") {
		t.Errorf("metadata without Name and Version: %v", err)
	}
	if _, err := Freeze(t.TempDir()); err == nil || !strings.Contains(err.Error(), "site-packages") {
		t.Errorf("a directory that is no virtualenv: %v", err)
	}
}

func TestQuoteArgv(t *testing.T) {
	got := QuoteArgv([]string{"uv", "pip", "compile", "--only-binary", ":all:", "a b", "", "x;y"})
	if want := `uv pip compile --only-binary :all: "a b" "" "x;y"`; got != want {
		t.Errorf("= %s, want %s", got, want)
	}
}

// TestProvisionUV provisions uv into a new tools directory from two goroutines at once (two
// convoy processes would take the same file lock): both get the one binary, which answers.
func TestProvisionUV(t *testing.T) {
	needPyPI(t)
	ctx := context.Background()
	python, err := NewTools(t.TempDir()).Python(ctx)
	if err != nil {
		t.Fatal(err)
	}
	tools := filepath.Join(t.TempDir(), "tools")
	var wg sync.WaitGroup
	paths, errs := make([]string, 2), make([]error, 2)
	for i := range paths {
		wg.Add(1)
		go func() {
			defer wg.Done()
			paths[i], errs[i] = ProvisionUV(ctx, tools, python)
		}()
	}
	wg.Wait()
	for i := range paths {
		if errs[i] != nil {
			t.Fatal(errs[i])
		}
	}
	want := filepath.Join(tools, "uv-"+UVVersion, "bin", "uv")
	if paths[0] != want || paths[1] != want {
		t.Errorf("paths %q, want %s", paths, want)
	}
	if v, err := uvVersion(ctx, want); err != nil || v != UVVersion {
		t.Errorf("uv --version = %q, %v", v, err)
	}
	entries, _ := os.ReadDir(tools)
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), ".uv-") {
			t.Errorf("a temporary install is left behind: %s", e.Name())
		}
	}
}

func TestProvisionUVErrors(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name  string
		tools *Tools
		want  []string
	}{
		{"no such uv", NewTools(t.TempDir(), WithUV("/nonexistent/uv")), []string{"using uv /nonexistent/uv"}},
		{"no python to provision with", NewTools(t.TempDir(), WithPython("/nonexistent/python3")),
			[]string{"provisioning uv " + UVVersion, "host's Python"}},
		{"a python that fails", NewTools(t.TempDir(), WithPython("false")), []string{"provisioning uv " + UVVersion}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if p, err := exec.LookPath("uv"); err == nil && tt.name != "no such uv" {
				if v, _ := uvVersion(ctx, p); v == UVVersion {
					t.Skipf("uv %s is on PATH: nothing is provisioned", UVVersion)
				}
			}
			_, err := tt.tools.UV(ctx)
			for _, w := range tt.want {
				if err == nil || !strings.Contains(err.Error(), w) {
					t.Errorf("error = %v, want %q", err, w)
				}
			}
		})
	}
}

// TestRunCancel: a tool whose context ends is stopped (its process group gets SIGTERM), and the
// error says so and still carries how it exited.
func TestRunCancel(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	var out strings.Builder
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"sh", "-c", "echo started; exec sleep 60"}, Exec{}, &syncWriter{w: &out, wrote: cancel})
	}()
	err := <-done
	var te *ToolError
	if !errors.As(err, &te) || !errors.Is(err, context.Canceled) || te.ExitCode() != -1 {
		t.Fatalf("error = %v, want a ToolError wrapping context.Canceled", err)
	}
	var ee *exec.ExitError
	if !errors.As(err, &ee) {
		t.Errorf("error %v does not carry the exit status", err)
	}
}

// syncWriter calls wrote once something was written: the tool is then running.
type syncWriter struct {
	w     io.Writer
	wrote func()
}

func (s *syncWriter) Write(b []byte) (int, error) {
	n, err := s.w.Write(b)
	s.wrote()
	return n, err
}
