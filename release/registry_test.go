package release

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// faultKind is what a fault does to the request it fires on.
type faultKind int

const (
	// fail500 answers 500 without passing the request on.
	fail500 faultKind = iota
	// dropBefore closes the connection without an answer, without passing
	// the request on.
	dropBefore
	// dropHalfway passes the request on (so the registry applies it), then
	// sends the status line, the headers and half of the body, and closes
	// the connection.
	dropHalfway
)

// fault fires on requests whose method and path match, from the nth match
// on, times times (0 = forever).
type fault struct {
	method string // "" = any
	path   string // substring of the URL path, "" = any
	nth    int    // 1-based
	times  int
	kind   faultKind
	seen   int
	fired  int
}

// faultyRegistry is go-containerregistry's in-memory registry behind a
// handler that injects faults and counts traffic. Everything goes over real
// HTTP on 127.0.0.1.
type faultyRegistry struct {
	*httptest.Server
	inner http.Handler

	mu        sync.Mutex
	faults    []*fault
	down      bool
	counts    map[string]int // "METHOD kind" → requests, kind blob|upload|manifest|other
	blobBytes int64          // blob bytes received (uploads) and sent (GET blobs)
	blobGets  []string       // digests of the blobs fetched (GET)
	fired     int
}

func newFaultyRegistry(t *testing.T) *faultyRegistry {
	t.Helper()
	return newFaultyProxy(t, registry.New(registry.Logger(log.New(io.Discard, "", 0))))
}

// newFaultyProxy puts the fault-injecting, counting handler in front of
// inner (the in-memory registry, or a reverse proxy to a real one).
func newFaultyProxy(t *testing.T, inner http.Handler) *faultyRegistry {
	t.Helper()
	fr := &faultyRegistry{
		inner:  inner,
		counts: map[string]int{},
	}
	fr.Server = httptest.NewServer(fr)
	t.Cleanup(fr.Close)
	return fr
}

// Host returns HOST:PORT.
func (fr *faultyRegistry) Host() string { return strings.TrimPrefix(fr.URL, "http://") }

func kindOf(path string) string {
	switch {
	case strings.Contains(path, "/blobs/uploads"):
		return "upload"
	case strings.Contains(path, "/blobs/"):
		return "blob"
	case strings.Contains(path, "/manifests/"):
		return "manifest"
	}
	return "other"
}

func (fr *faultyRegistry) addFault(f fault) {
	fr.mu.Lock()
	defer fr.mu.Unlock()
	if f.nth == 0 {
		f.nth = 1
	}
	fr.faults = append(fr.faults, &f)
}

func (fr *faultyRegistry) setDown(down bool) {
	fr.mu.Lock()
	defer fr.mu.Unlock()
	fr.down = down
}

// reset clears the counters and the faults.
func (fr *faultyRegistry) reset() {
	fr.mu.Lock()
	defer fr.mu.Unlock()
	fr.counts, fr.blobBytes, fr.blobGets, fr.faults, fr.fired, fr.down = map[string]int{}, 0, nil, nil, 0, false
}

func (fr *faultyRegistry) count(key string) int {
	fr.mu.Lock()
	defer fr.mu.Unlock()
	return fr.counts[key]
}

// blobTraffic returns the number of blob and upload requests (any method)
// and the blob bytes moved.
func (fr *faultyRegistry) blobTraffic() (requests int, bytes int64) {
	fr.mu.Lock()
	defer fr.mu.Unlock()
	for k, n := range fr.counts {
		if strings.HasSuffix(k, " blob") || strings.HasSuffix(k, " upload") {
			requests += n
		}
	}
	return requests, fr.blobBytes
}

// fetchedBlobs returns the digests of the blobs fetched so far.
func (fr *faultyRegistry) fetchedBlobs() []string {
	fr.mu.Lock()
	defer fr.mu.Unlock()
	return append([]string(nil), fr.blobGets...)
}

func (fr *faultyRegistry) firedCount() int {
	fr.mu.Lock()
	defer fr.mu.Unlock()
	return fr.fired
}

func (fr *faultyRegistry) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	kind := kindOf(r.URL.Path)
	fr.mu.Lock()
	fr.counts[r.Method+" "+kind]++
	down := fr.down
	var hit *fault
	for _, f := range fr.faults {
		if (f.method == "" || f.method == r.Method) && strings.Contains(r.URL.Path, f.path) {
			f.seen++
			if f.seen >= f.nth && (f.times == 0 || f.fired < f.times) {
				f.fired++
				fr.fired++
				hit = f
				break
			}
		}
	}
	fr.mu.Unlock()

	if down {
		http.Error(w, "registry down", http.StatusServiceUnavailable)
		return
	}
	if hit != nil {
		switch hit.kind {
		case fail500:
			http.Error(w, "injected failure", http.StatusInternalServerError)
			return
		case dropBefore:
			conn, _, err := w.(http.Hijacker).Hijack()
			if err == nil {
				conn.Close()
			}
			return
		case dropHalfway:
			rec := httptest.NewRecorder()
			fr.inner.ServeHTTP(rec, r)
			conn, buf, err := w.(http.Hijacker).Hijack()
			if err != nil {
				return
			}
			body := rec.Body.Bytes()
			writeHalf(buf, rec.Code, rec.Header(), body, r.Method == http.MethodHead)
			buf.Flush()
			conn.Close()
			return
		}
	}
	if kind == "upload" && r.Body != nil {
		r.Body = &countingReader{r.Body, fr}
	}
	if kind == "blob" && r.Method == http.MethodGet {
		fr.mu.Lock()
		fr.blobGets = append(fr.blobGets, r.URL.Path[strings.LastIndex(r.URL.Path, "/")+1:])
		fr.mu.Unlock()
		w = &countingWriter{w, fr}
	}
	fr.inner.ServeHTTP(w, r)
}

// writeHalf writes a response whose Content-Length announces the whole
// body but only half of it follows (nothing at all for HEAD or an empty
// body: then the headers are cut after the first one).
func writeHalf(w *bufio.ReadWriter, code int, h http.Header, body []byte, head bool) {
	if head || len(body) == 0 {
		fmt.Fprintf(w, "HTTP/1.1 %d %s\r\nDate: Mon, 01 Jan 2024 00:00:00 GMT\r\n", code, http.StatusText(code))
		return
	}
	fmt.Fprintf(w, "HTTP/1.1 %d %s\r\n", code, http.StatusText(code))
	h.Set("Content-Length", fmt.Sprint(len(body)))
	h.Write(w)
	w.WriteString("\r\n")
	w.Write(body[:len(body)/2])
}

type countingReader struct {
	io.ReadCloser
	fr *faultyRegistry
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.ReadCloser.Read(p)
	c.fr.mu.Lock()
	c.fr.blobBytes += int64(n)
	c.fr.mu.Unlock()
	return n, err
}

type countingWriter struct {
	http.ResponseWriter
	fr *faultyRegistry
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.ResponseWriter.Write(p)
	c.fr.mu.Lock()
	c.fr.blobBytes += int64(n)
	c.fr.mu.Unlock()
	return n, err
}

// fastRetry keeps retries bounded and quick in tests.
var fastRetry = RetryPolicy{Attempts: 4, Initial: time.Millisecond, Max: 5 * time.Millisecond, Factor: 2}

// pushRandom pushes a random image to repo under tag and returns its digest.
func pushRandom(t *testing.T, repo, tag string) string {
	t.Helper()
	img, err := random.Image(1024, 2)
	if err != nil {
		t.Fatal(err)
	}
	return pushImage(t, repo, tag, img)
}

func pushImage(t *testing.T, repo, tag string, img v1.Image) string {
	t.Helper()
	d, err := pushImageErr(repo, tag, img)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// pushImageErr pushes img to repo under tag, retrying a failed request once, and returns its
// digest.
func pushImageErr(repo, tag string, img v1.Image) (string, error) {
	ref, err := name.NewTag(repo + ":" + tag)
	if err != nil {
		return "", err
	}
	if err := remote.Write(ref, img, remote.WithContext(context.Background()),
		remote.WithRetryBackoff(remote.Backoff{Duration: time.Millisecond, Factor: 1, Steps: 2})); err != nil {
		return "", fmt.Errorf("pushing %s: %w", ref, err)
	}
	d, err := img.Digest()
	if err != nil {
		return "", err
	}
	return d.String(), nil
}

// labeledImage is a random image whose LabelRevision is revision.
func labeledImage(t *testing.T, revision string) v1.Image {
	t.Helper()
	img, err := random.Image(1024, 2)
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	cfg = cfg.DeepCopy()
	cfg.Config.Labels = map[string]string{LabelRevision: revision}
	if img, err = mutate.ConfigFile(img, cfg); err != nil {
		t.Fatal(err)
	}
	return img
}

// tagDigest returns the digest repo:tag designates, "" when absent.
func tagDigest(t *testing.T, repo, tag string) string {
	t.Helper()
	ref, err := name.NewTag(repo + ":" + tag)
	if err != nil {
		t.Fatal(err)
	}
	desc, err := remote.Head(ref)
	if err != nil {
		if isNotFound(err) {
			return ""
		}
		t.Fatalf("HEAD %s: %v", ref, err)
	}
	return desc.Digest.String()
}

// onlyConfigsFetched checks that every blob fetched (digests) is the configuration of one of m's
// images: a release reads where each image comes from, and moves no layer.
func onlyConfigsFetched(t *testing.T, fetched []string, m Manifest) {
	t.Helper()
	configs := map[string]bool{}
	for _, s := range m.Services {
		ref, err := name.NewDigest(s.Image)
		if err != nil {
			t.Fatal(err)
		}
		img, err := remote.Image(ref)
		if err != nil {
			t.Fatal(err)
		}
		c, err := img.ConfigName()
		if err != nil {
			t.Fatal(err)
		}
		configs[c.String()] = true
	}
	for _, d := range fetched {
		if !configs[d] {
			t.Errorf("a release of unchanged images fetched blob %s, which is no image configuration", d)
		}
	}
}
