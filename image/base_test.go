package image

import (
	"context"
	"io"
	"log"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

func TestParseBase(t *testing.T) {
	tests := []struct {
		ref     string
		want    Base
		wantErr string
	}{
		{ref: "python:3.11-slim", want: Base{Ref: "python:3.11-slim", Kind: FromRegistry}},
		{ref: "127.0.0.1:5000/ns/python@sha256:" + strings.Repeat("a", 64), want: Base{Ref: "127.0.0.1:5000/ns/python@sha256:" + strings.Repeat("a", 64), Kind: FromRegistry}},
		{ref: "oci-layout:.convoy/base:python", want: Base{Ref: "oci-layout:.convoy/base:python", Kind: FromOCILayout, Path: ".convoy/base", Tag: "python"}},
		{ref: "oci-layout:/var/cache/convoy/base", want: Base{Ref: "oci-layout:/var/cache/convoy/base", Kind: FromOCILayout, Path: "/var/cache/convoy/base"}},
		{ref: "oci-layout:.convoy/oci:auth:1a2b3c", want: Base{Ref: "oci-layout:.convoy/oci:auth:1a2b3c", Kind: FromOCILayout, Path: ".convoy/oci", Tag: "auth:1a2b3c"}},
		{ref: "docker-archive:base.tar", want: Base{Ref: "docker-archive:base.tar", Kind: FromDockerArchive, Path: "base.tar"}},
		{ref: "docker-archive:base.tar:python:3.11", want: Base{Ref: "docker-archive:base.tar:python:3.11", Kind: FromDockerArchive, Path: "base.tar", Tag: "python:3.11"}},
		{ref: "oci-layout:", wantErr: `parsing base image "oci-layout:": no path`},
		{ref: "docker-archive:x.tar:Not A Tag", wantErr: `parsing base image "docker-archive:x.tar:Not A Tag"`},
		{ref: "Python:3.11", wantErr: `parsing base image "Python:3.11"`},
		{ref: "", wantErr: `parsing base image ""`},
	}
	for _, tt := range tests {
		t.Run(tt.ref, func(t *testing.T) {
			got, err := ParseBase(tt.ref)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("ParseBase(%q) error = %v, want it to contain %q", tt.ref, err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Errorf("ParseBase(%q) = %+v, want %+v", tt.ref, got, tt.want)
			}
		})
	}
}

// TestLoadBaseKinds loads the same image from a layout, a docker archive and
// an in-memory registry and reads the same facts from each.
func TestLoadBaseKinds(t *testing.T) {
	ctx := context.Background()
	img := pythonImage(t)
	dir := t.TempDir()

	s, err := OpenStore(filepath.Join(dir, "layout"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Put(img, "py"); err != nil {
		t.Fatal(err)
	}
	if err := WriteDockerTarball(img, "python:3.11", filepath.Join(dir, "base.tar")); err != nil {
		t.Fatal(err)
	}
	reg := httptest.NewServer(registry.New(registry.Logger(log.New(io.Discard, "", 0))))
	defer reg.Close()
	regRef := strings.TrimPrefix(reg.URL, "http://") + "/library/python:3.11"
	ref, _ := name.ParseReference(regRef)
	if err := remote.Write(ref, img); err != nil {
		t.Fatal(err)
	}

	for _, ref := range []string{
		"oci-layout:layout:py",
		"oci-layout:layout", // the only image
		"docker-archive:base.tar",
		"docker-archive:base.tar:python:3.11",
		regRef,
	} {
		t.Run(ref, func(t *testing.T) {
			b, err := LoadBase(ctx, ref, WithDir(dir))
			if err != nil {
				t.Fatal(err)
			}
			if b.Python != "3.11" || b.Platform.String() != "linux/amd64" || b.Glibc != DefaultGlibc {
				t.Errorf("LoadBase(%q) = Python %q, platform %s, glibc %s; want 3.11, linux/amd64, %s", ref, b.Python, b.Platform, b.Glibc, DefaultGlibc)
			}
			if envValue(b.Env, "PATH") != "/usr/bin:/bin" {
				t.Errorf("env = %q", b.Env)
			}
		})
	}
}

func TestLoadBaseErrors(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	noPython, err := random.Image(100, 1)
	if err != nil {
		t.Fatal(err)
	}
	s, err := OpenStore(filepath.Join(dir, "layout"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Put(noPython, "bare"); err != nil {
		t.Fatal(err)
	}
	badLabel, err := mutate.Config(pythonImage(t), withLabel(LabelGlibc, "musl"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Put(badLabel, "musl"); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "junk.tar"), []byte("not a tarball"), 0o644); err != nil {
		t.Fatal(err)
	}
	corrupt := filepath.Join(dir, "corrupt")
	if err := os.MkdirAll(corrupt, 0o755); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(corrupt, "oci-layout"), []byte(`{"imageLayoutVersion":"1.0.0"}`), 0o644)
	os.WriteFile(filepath.Join(corrupt, "index.json"), []byte(`{"manifests": [`), 0o644)

	tests := []struct {
		ref   string
		cause string
	}{
		{"127.0.0.1:1/nothing/here:1", "connection refused"},
		{"oci-layout:missing:py", "not an OCI image layout"},
		{"oci-layout:layout:nope", `no image tagged "nope"`},
		{"oci-layout:layout", "holds 2 images"},
		{"oci-layout:layout:bare", "set ENV PYTHON_VERSION=3.11.2 or LABEL org.convoy.python.version=3.11.2"},
		{"oci-layout:layout:musl", "org.convoy.glibc=\"musl\""},
		{"oci-layout:corrupt", "corrupt"},
		{"docker-archive:missing.tar", "no such file"},
		{"docker-archive:junk.tar", "reading docker archive"},
	}
	for _, tt := range tests {
		t.Run(tt.ref, func(t *testing.T) {
			_, err := LoadBase(ctx, tt.ref, WithDir(dir))
			if err == nil {
				t.Fatalf("LoadBase(%q) succeeded", tt.ref)
			}
			if !strings.Contains(err.Error(), `"`+tt.ref+`"`) || !strings.Contains(err.Error(), tt.cause) {
				t.Errorf("LoadBase(%q) error = %q, want the quoted reference and %q", tt.ref, err, tt.cause)
			}
		})
	}
}

func withLabel(k, v string) v1.Config {
	return v1.Config{Labels: map[string]string{k: v}, Env: []string{"PYTHON_VERSION=3.11.9"}}
}

// TestPythonVersion reads the Python version a base image states in its label
// and its PYTHON_VERSION, and the target its dependencies are resolved for.
func TestPythonVersion(t *testing.T) {
	tests := []struct {
		name        string
		label, env  string
		short, full string
		target      string
		wantErr     string
	}{
		{name: "env only", env: "3.11.2", short: "3.11", full: "3.11.2", target: "CPython 3.11.2 (x86_64-manylinux_2_36)"},
		{name: "full label", label: "3.12.7", short: "3.12", full: "3.12.7", target: "CPython 3.12.7 (x86_64-manylinux_2_36)"},
		{name: "short label, full env (scripts/base-image.sh)", label: "3.11", env: "3.11.2", short: "3.11", full: "3.11.2", target: "CPython 3.11.2 (x86_64-manylinux_2_36)"},
		{name: "both full", label: "3.11.2", env: "3.11.2", short: "3.11", full: "3.11.2", target: "CPython 3.11.2 (x86_64-manylinux_2_36)"},
		{name: "major.minor only", label: "3.11", short: "3.11", target: "without its patch level: set ENV PYTHON_VERSION=3.11.N"},
		{name: "release candidate", env: "3.13.0rc2", short: "3.13", target: "without its patch level"},
		{name: "minor disagrees", label: "3.12", env: "3.11.2", wantErr: "says Python 3.12 but its PYTHON_VERSION says 3.11.2"},
		{name: "patch disagrees", label: "3.11.2", env: "3.11.9", wantErr: "says Python 3.11.2 but its PYTHON_VERSION says 3.11.9"},
		{name: "garbage", env: "latest", wantErr: `"latest" (PYTHON_VERSION) is not like 3.11`},
		{name: "none", wantErr: "does not say which Python"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := v1.Config{Labels: map[string]string{}}
			if tt.label != "" {
				c.Labels[LabelPythonVersion] = tt.label
			}
			if tt.env != "" {
				c.Env = []string{"PYTHON_VERSION=" + tt.env}
			}
			short, full, err := pythonVersion(c)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil || short != tt.short || full != tt.full {
				t.Fatalf("= %q, %q, %v; want %q, %q", short, full, err, tt.short, tt.full)
			}
			b := &BaseImage{Base: Base{Ref: "base"}, Python: short, PythonFull: full, Glibc: "2.36",
				Platform: v1.Platform{OS: "linux", Architecture: "amd64"}}
			target, err := b.Target()
			got := target.String()
			if err != nil {
				got = err.Error()
			}
			if !strings.Contains(got, tt.target) {
				t.Errorf("target = %q, want %q", got, tt.target)
			}
		})
	}
}
