package release

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"syscall"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
)

// Option configures the registry side of a release (Plan, Stamp, Verify,
// Ping and Release's stamping).
type Option func(*options)

type options struct {
	force     bool
	insecure  bool
	keychain  authn.Keychain
	transport http.RoundTripper
	retry     RetryPolicy
	logf      func(format string, args ...any)
}

// RetryPolicy bounds the retries of one registry operation after a
// transient error (HTTP 408, 429 and 5xx, connection refused, reset or
// closed half-way, timeouts). Waits grow from Initial by Factor up to Max,
// with ±10% jitter.
type RetryPolicy struct {
	// Attempts is the total number of tries of one operation (≥ 1).
	Attempts int
	// Initial is the wait after the first failure.
	Initial time.Duration
	// Max caps a single wait.
	Max time.Duration
	// Factor multiplies the wait after each failure.
	Factor float64
}

// DefaultRetry is the retry policy unless WithRetry says otherwise: 5
// attempts, waiting 500ms, 1s, 2s, 4s (about 8s in all) — enough for a
// registry restart, short enough for CI to fail fast on a real outage.
var DefaultRetry = RetryPolicy{Attempts: 5, Initial: 500 * time.Millisecond, Max: 10 * time.Second, Factor: 2}

// WithForce lets stamping move a tag that points to another digest.
func WithForce(force bool) Option { return func(o *options) { o.force = force } }

// WithInsecure allows plain HTTP to the registry (name.Insecure). Loopback
// and RFC 1918 addresses such as 127.0.0.1:5000 get HTTP without it; TLS
// certificates are still verified whenever HTTPS is used.
func WithInsecure(insecure bool) Option { return func(o *options) { o.insecure = insecure } }

// WithKeychain sets where registry credentials come from; the default is
// authn.DefaultKeychain (docker config, credential helpers).
func WithKeychain(k authn.Keychain) Option { return func(o *options) { o.keychain = k } }

// WithTransport sets the HTTP transport to the registry; the default is
// remote.DefaultTransport.
func WithTransport(t http.RoundTripper) Option { return func(o *options) { o.transport = t } }

// WithRetry replaces DefaultRetry.
func WithRetry(p RetryPolicy) Option { return func(o *options) { o.retry = p } }

// WithLogf receives one line per registry write and per retry.
func WithLogf(logf func(format string, args ...any)) Option {
	return func(o *options) { o.logf = logf }
}

func makeOptions(opts []Option) *options {
	o := &options{keychain: authn.DefaultKeychain, transport: remote.DefaultTransport, retry: DefaultRetry}
	for _, opt := range opts {
		opt(o)
	}
	if o.retry.Attempts < 1 {
		o.retry.Attempts = 1
	}
	if o.retry.Factor < 1 {
		o.retry.Factor = 1
	}
	if o.retry.Max <= 0 {
		o.retry.Max = o.retry.Initial
	}
	if o.logf == nil {
		o.logf = func(string, ...any) {}
	}
	return o
}

// nameOpts are the options for parsing references.
func (o *options) nameOpts() []name.Option {
	if o.insecure {
		return []name.Option{name.Insecure}
	}
	return nil
}

// remoteOpts are the go-containerregistry options for one call. The inner
// (transport-level) retry is go-containerregistry's own, with our backoff;
// withRetry adds the outer one that also covers responses cut half-way.
func (o *options) remoteOpts(ctx context.Context) []remote.Option {
	return []remote.Option{
		remote.WithContext(ctx),
		remote.WithAuthFromKeychain(o.keychain),
		remote.WithTransport(o.transport),
		remote.WithRetryBackoff(remote.Backoff{Duration: o.retry.Initial, Factor: o.retry.Factor, Jitter: 0.1, Steps: 2}),
		remote.WithRetryStatusCodes(http.StatusRequestTimeout, http.StatusTooManyRequests,
			http.StatusInternalServerError, http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout),
		remote.WithUserAgent("convoy-release"),
	}
}

// withRetry runs fn until it succeeds, fails permanently, the attempts run
// out or ctx ends. what names the operation in logs and errors.
func (o *options) withRetry(ctx context.Context, what string, fn func() error) error {
	wait := o.retry.Initial
	var err error
	for attempt := 1; ; attempt++ {
		if err = fn(); err == nil {
			return nil
		}
		if !Transient(err) || attempt >= o.retry.Attempts || ctx.Err() != nil {
			break
		}
		d := time.Duration(float64(wait) * (0.9 + 0.2*rand.Float64()))
		o.logf("%s: attempt %d/%d failed (%v); retrying in %s", what, attempt, o.retry.Attempts, err, d.Round(time.Millisecond))
		t := time.NewTimer(d)
		select {
		case <-ctx.Done():
			t.Stop()
			return fmt.Errorf("%s: %w (after %v)", what, ctx.Err(), err)
		case <-t.C:
		}
		wait = min(time.Duration(float64(wait)*o.retry.Factor), o.retry.Max)
	}
	return fmt.Errorf("%s: %w", what, err)
}

// Transient reports whether err is worth retrying: HTTP 408, 429 or 5xx
// from the registry, a connection refused, reset or closed (also half-way
// through a response), or a network timeout. A cancelled context is not
// transient.
func Transient(err error) bool {
	if err == nil || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return false
	}
	var te *transport.Error
	if errors.As(err, &te) {
		return te.StatusCode == http.StatusRequestTimeout || te.StatusCode == http.StatusTooManyRequests || te.StatusCode >= 500 || te.Temporary()
	}
	if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) ||
		errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.ECONNREFUSED) ||
		errors.Is(err, syscall.EPIPE) || errors.Is(err, net.ErrClosed) {
		return true
	}
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}
