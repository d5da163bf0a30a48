package container

import (
	"archive/tar"
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"

	"github.com/convoy-ci/convoy/image"
)

// unavailableHere skips the test, or fails it under CI=true, where everything must be there.
func unavailableHere(t testing.TB, format string, args ...any) {
	t.Helper()
	msg := fmt.Sprintf(format, args...)
	if os.Getenv("CI") == "true" {
		t.Fatalf("%s (CI=true: required)", msg)
	}
	t.Skipf("SKIP: %s", msg)
}

var (
	baseOnce sync.Once
	baseImg  v1.Image
	baseErr  error
)

// baseRef is the offline Python base image the tests build on ($CONVOY_BASE, else the layout
// scripts/base-image.sh writes).
func baseRef() string {
	if r := os.Getenv("CONVOY_BASE"); r != "" {
		return r
	}
	dir := os.Getenv("CONVOY_BASE_DIR")
	if dir == "" {
		dir = "/var/cache/convoy/base"
	}
	return "oci-layout:" + dir + ":python"
}

// baseImage loads the offline Python base image once, or skips (fails under CI=true).
func baseImage(t testing.TB) v1.Image {
	t.Helper()
	baseOnce.Do(func() {
		b, err := image.LoadBase(context.Background(), baseRef())
		if err == nil {
			baseImg = b.Image
		}
		baseErr = err
	})
	if baseErr != nil {
		unavailableHere(t, "the offline base image %s is missing (%v): build it with scripts/base-image.sh", baseRef(), baseErr)
	}
	return baseImg
}

// Scripts the test images carry in /app.
const (
	// probeScript prints what a command sees: its ids, groups, directory and environment.
	probeScript = `import json, os
print("PROBE " + json.dumps({"uid": os.getuid(), "gid": os.getgid(), "groups": sorted(os.getgroups()),
    "cwd": os.getcwd(), "env": dict(os.environ)}), flush=True)
`
	// serveScript answers GET on 127.0.0.1:$PORT, prints "listening" once bound, and exits 0 on
	// SIGTERM.
	serveScript = `import http.server, os, signal
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(200)
        self.end_headers()
        self.wfile.write(b"hello from the container")
    def log_message(self, *args):
        pass
srv = http.server.HTTPServer(("127.0.0.1", int(os.environ["PORT"])), H)
def stop(*_):
    print("stopping on SIGTERM", flush=True)
    os._exit(0)
signal.signal(signal.SIGTERM, stop)
print("listening", flush=True)
srv.serve_forever()
`
	// stubbornScript ignores SIGTERM and runs until killed. It says "ready\n" in one write: once its
	// runtime process is killed, its output has nowhere to go, and a later write would end it.
	stubbornScript = `import signal, sys, time
signal.signal(signal.SIGTERM, signal.SIG_IGN)
sys.stdout.write("ready\n")
sys.stdout.flush()
while True:
    time.sleep(3600)
`
)

// testImage is base with a layer holding /app/{probe,serve,stubborn}.py and /app/state (owned by
// testUID:testGID), the working directory /app, the user given, and IMAGE_ONLY=image and OVERRIDDEN=image in its environment.
func testImage(t testing.TB, base v1.Image, user string) v1.Image {
	t.Helper()
	layer := tarLayer(t, []tarEntry{
		{hdr: tar.Header{Name: "app/", Typeflag: tar.TypeDir, Mode: 0o755}},
		{hdr: tar.Header{Name: "app/probe.py", Typeflag: tar.TypeReg, Mode: 0o644}, body: probeScript},
		{hdr: tar.Header{Name: "app/serve.py", Typeflag: tar.TypeReg, Mode: 0o644}, body: serveScript},
		{hdr: tar.Header{Name: "app/stubborn.py", Typeflag: tar.TypeReg, Mode: 0o644}, body: stubbornScript},
		{hdr: tar.Header{Name: "app/state/", Typeflag: tar.TypeDir, Mode: 0o755, Uid: testUID, Gid: testGID}},
	})
	img, err := mutate.Append(base, mutate.Addendum{Layer: layer})
	if err != nil {
		t.Fatal(err)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	c := cf.Config
	c.Env = mergeEnv(c.Env, []string{"IMAGE_ONLY=image", "OVERRIDDEN=image", "PYTHONUNBUFFERED=1"})
	c.WorkingDir = "/app"
	c.User = user
	img, err = mutate.Config(img, c)
	if err != nil {
		t.Fatal(err)
	}
	return img
}

// tarEntry is one entry of a test tar: its header (Size is set from body) and content.
type tarEntry struct {
	hdr  tar.Header
	body string
}

// tarBytes writes entries as a tar archive.
func tarBytes(t testing.TB, entries []tarEntry) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, e := range entries {
		h := e.hdr
		h.Size = int64(len(e.body))
		if h.ModTime.IsZero() {
			h.ModTime = time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)
		}
		if err := tw.WriteHeader(&h); err != nil {
			t.Fatal(err)
		}
		if _, err := io.WriteString(tw, e.body); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// tarLayer is an image layer of entries.
func tarLayer(t testing.TB, entries []tarEntry) v1.Layer {
	t.Helper()
	b := tarBytes(t, entries)
	l, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(b)), nil })
	if err != nil {
		t.Fatal(err)
	}
	return l
}

var runSeq atomic.Int64

// runID is a run id unique to this test process.
func runID() string {
	return fmt.Sprintf("t%d-%d", os.Getpid(), runSeq.Add(1))
}

// logBuf is a command's log that a test can wait on.
type logBuf struct {
	mu      sync.Mutex
	b       bytes.Buffer
	changed chan struct{}
}

func newLog() *logBuf { return &logBuf{changed: make(chan struct{})} }

func (l *logBuf) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	n, err := l.b.Write(p)
	close(l.changed)
	l.changed = make(chan struct{})
	return n, err
}

func (l *logBuf) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// waitFor waits until the log holds s; it fails the test if the command exits first or the log
// stays without it for a minute.
func (l *logBuf) waitFor(t testing.TB, s string, done <-chan struct{}) {
	t.Helper()
	timeout := time.NewTimer(time.Minute)
	defer timeout.Stop()
	for {
		l.mu.Lock()
		found, changed := strings.Contains(l.b.String(), s), l.changed
		l.mu.Unlock()
		if found {
			return
		}
		select {
		case <-changed:
		case <-done:
			if !strings.Contains(l.String(), s) {
				t.Fatalf("the command exited before printing %q; its log:\n%s", s, l.String())
			}
			return
		case <-timeout.C:
			t.Fatalf("no %q in the log after a minute; its log:\n%s", s, l.String())
		}
	}
}

// listDir returns the names in dir, sorted ("" for a missing dir).
func listDir(dir string) []string {
	entries, _ := os.ReadDir(dir)
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	sort.Strings(names)
	return names
}

// layerDirs returns the sorted names of the directories in the layer cache dir: its layers and
// any temporary unpack directory, not the layers' use marks.
func layerDirs(dir string) []string {
	entries, _ := os.ReadDir(dir)
	var names []string
	for _, e := range entries {
		if e.IsDir() {
			names = append(names, e.Name())
		}
	}
	sort.Strings(names)
	return names
}

// exists reports whether path exists.
func exists(path string) bool {
	_, err := os.Lstat(path)
	return err == nil
}
