package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"

	"github.com/spf13/pflag"

	"github.com/convoy-ci/convoy/pipeline"
)

// TestFailExitCodes: only a usage error, however deeply wrapped, exits 2; a UsageError keeps
// the chain of the error it wraps; anything else exits 1.
func TestFailExitCodes(t *testing.T) {
	outage := errors.New("registry answered 503")
	tests := []struct {
		name string
		err  error
		want int
	}{
		{"usage", &pipeline.UsageError{Msg: "--jobs 0: expected at least 1"}, exitUsage},
		{"wrapped usage", fmt.Errorf("planning: %w", &pipeline.UsageError{Msg: "--only x"}), exitUsage},
		{"outage", fmt.Errorf("looking for a cached image of %q: %w", "web", outage), exitFailed},
		{"plain", errors.New("disk full"), exitFailed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stderr bytes.Buffer
			c := &cli{stderr: &stderr, sigs: &signals{}}
			if got := c.fail(tt.err); got != tt.want {
				t.Errorf("fail(%v) = %d, want %d", tt.err, got, tt.want)
			}
			if !strings.Contains(stderr.String(), tt.err.Error()) {
				t.Errorf("stderr %q does not say %q", stderr.String(), tt.err)
			}
		})
	}
	// Once a signal stopped convoy, what failed failed because it was stopped.
	stopped := &cli{stderr: io.Discard, sigs: &signals{}}
	stopped.sigs.set(syscall.SIGTERM)
	if got := stopped.fail(&pipeline.UsageError{Msg: "registry not reachable", Err: context.Canceled}); got != exitTerminated {
		t.Errorf("fail after SIGTERM = %d, want %d", got, exitTerminated)
	}
	ue := &pipeline.UsageError{Msg: "release: the registry does not answer", Err: outage}
	if !errors.Is(ue, outage) {
		t.Errorf("errors.Is(UsageError{Err: outage}, outage) = false: the chain is lost")
	}
	if got, want := ue.Error(), "release: the registry does not answer: registry answered 503"; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
}

// TestBuildRegistryOutageIsNotUsage: a --push registry that answers every request with 500
// fails the build (exit 1, the registry's error in the message), not as a usage error (2).
func TestBuildRegistryOutageIsNotUsage(t *testing.T) {
	needBase(t)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "registry down for maintenance", http.StatusInternalServerError)
	}))
	defer srv.Close()
	root := imageRepo(t, "pass", "")
	res := convoy(t, root, nil, "build", "--push", strings.TrimPrefix(srv.URL, "http://")+"/convoy", "--insecure")
	if res.code != exitFailed {
		t.Fatalf("build against a failing registry: exit %d, want %d\n%s\n%s", res.code, exitFailed, res.stdout, res.stderr)
	}
	if !strings.Contains(res.stderr, "cached image of \"web\"") || !strings.Contains(res.stderr, "500") {
		t.Errorf("stderr does not say what failed and the registry's answer:\n%s", res.stderr)
	}
}

// TestFlagTypoPanics: reading a flag no command defines is a bug in convoy and panics, instead
// of reading as false; another command's flag reads as the zero value.
func TestFlagTypoPanics(t *testing.T) {
	cmd := findCommand("build")
	fs := pflag.NewFlagSet("build", pflag.ContinueOnError)
	cmd.flags(fs)
	if err := fs.Parse([]string{"--insecure"}); err != nil {
		t.Fatal(err)
	}
	c := &cli{fs: fs}
	if !c.flagBool("insecure") {
		t.Errorf("--insecure was given, yet it reads as false")
	}
	if c.flagString("postgres") != "" {
		t.Errorf("build has no --postgres, yet it reads as set")
	}
	defer func() {
		if recover() == nil {
			t.Errorf("flagBool(\"insecur\") did not panic")
		}
	}()
	c.flagBool("insecur")
}

// TestFlagLookupsChecked: ci/ reads flags only through flagString/flagBool/flagDuration, never
// with a dropped error, and every name it reads is a flag some command defines.
func TestFlagLookupsChecked(t *testing.T) {
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	dropped := regexp.MustCompile(`, _ :?= c\.fs\.Get`)
	read := regexp.MustCompile(`\bflag(?:String|Bool|Duration)\("([^"]+)"\)`)
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for i, line := range strings.Split(string(data), "\n") {
			if dropped.MatchString(line) {
				t.Errorf("%s:%d: flag lookup drops its error: %s", f, i+1, strings.TrimSpace(line))
			}
			for _, m := range read.FindAllStringSubmatch(line, -1) {
				if !flagDefined(m[1]) {
					t.Errorf("%s:%d: reads --%s, which no command defines", f, i+1, m[1])
				}
			}
		}
	}
}

// TestBuildRefusesBaseThatIsNot: `convoy build` with base: "oci-layout:/etc" exits 2 before any
// work, naming the manifest's line and what a base must be; `convoy gate`, which builds no
// image, runs.
func TestBuildRefusesBaseThatIsNot(t *testing.T) {
	root := writeRepo(t, pyServices("  base: \"oci-layout:/etc\"\n", map[string]map[string]string{"web": {}}))
	gitRepo(t, root)
	res := convoy(t, root, nil, "build")
	if res.code != exitUsage {
		t.Fatalf("build: exit %d, want %d\n%s\n%s", res.code, exitUsage, res.stdout, res.stderr)
	}
	want := `services.yaml:4:9: base "oci-layout:/etc" of service "web": "/etc" is not an OCI image layout`
	if !strings.Contains(res.stderr, want) {
		t.Errorf("stderr does not say %q:\n%s", want, res.stderr)
	}
	if _, err := os.Stat(filepath.Join(root, ".convoy", "logs")); !os.IsNotExist(err) {
		t.Errorf("a refused build left logs behind (%v)", err)
	}
	if res := convoy(t, root, nil, "gate"); res.code != exitPassed {
		t.Errorf("gate, which builds no image: exit %d\n%s\n%s", res.code, res.stdout, res.stderr)
	}
}
