package integration

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/convoy-ci/convoy/integration/internal/freeport"
)

// probeInterval is how often a readiness check is repeated until it passes.
const probeInterval = 100 * time.Millisecond

// errExited is returned by awaitReady when the process exited before it was ready.
var errExited = errors.New("exited before it was ready")

// checker is one readiness check: what it waits for (for messages) and one attempt at it, which
// reports success or describes the answer ("" when ctx ended the attempt).
type checker struct {
	what  string
	probe func(ctx context.Context) (bool, string)
}

// defaultCheck applies the defaults of s's check and validates it.
func (s *Service) defaultCheck() error {
	switch s.Check {
	case "", CheckHTTP:
		s.Check = CheckHTTP
		if s.Health == "" {
			s.Health = DefaultHealthPath
		} else if !strings.HasPrefix(s.Health, "/") {
			s.Health = "/" + s.Health
		}
	case CheckCommand:
		if len(s.CheckCommand) == 0 {
			return fmt.Errorf("service %q: its check is a command but it has none", s.Name)
		}
	case CheckTCP, CheckNone:
	default:
		return fmt.Errorf("service %q: unknown check %q (expected http, tcp, command or none)", s.Name, s.Check)
	}
	if s.Check != CheckHTTP {
		s.Health = ""
	}
	return nil
}

// checker returns the readiness check of s's serve command.
func (r *runner) checker(s *service) checker {
	addr := net.JoinHostPort(freeport.Host, strconv.Itoa(s.rep.Port))
	switch s.Check {
	case CheckTCP:
		return checker{what: "a TCP connection to " + addr, probe: func(ctx context.Context) (bool, string) { return dial(ctx, addr) }}
	case CheckCommand:
		return r.commandChecker(s.Name, s, s.CheckCommand)
	case CheckNone:
		return checker{what: "nothing (health: none)", probe: func(context.Context) (bool, string) { return true, "" }}
	}
	url := s.rep.URL + s.Health
	client := &http.Client{Transport: &http.Transport{Proxy: nil, DisableKeepAlives: true}}
	return checker{what: "GET " + url + " to answer 2xx", probe: func(ctx context.Context) (bool, string) { return probe(ctx, client, url) }}
}

// commandChecker runs argv with s's launcher and environment; it passes when argv exits 0. Its
// output goes to s's log.
func (r *runner) commandChecker(who string, s *service, argv []string) checker {
	return checker{what: fmt.Sprintf("%q to exit 0", strings.Join(argv, " ")), probe: func(ctx context.Context) (bool, string) {
		p, err := r.start(who+" check", s.launcher(), Command{Name: "check", Argv: argv, Env: r.serviceEnv(s), Log: s.log})
		if err != nil {
			return false, err.Error()
		}
		defer func() { _ = p.Stop(syscall.SIGTERM, r.grace()) }()
		select {
		case <-p.Done():
		case <-ctx.Done():
			return false, ""
		}
		if err := p.Err(); err != nil {
			return false, err.Error()
		}
		return true, "exit status 0"
	}}
}

// awaitReady repeats chk until it passes while p runs, for at most timeout. It returns the last
// answer and nil, an error wrapping errExited when p exited first, or a timeout error.
func awaitReady(ctx context.Context, p Process, timeout time.Duration, chk checker) (string, error) {
	hctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	// Probes end early when the process exits: something else may hold its port and never answer.
	pctx, pcancel := context.WithCancel(hctx)
	defer pcancel()
	go func() {
		select {
		case <-p.Done():
			pcancel()
		case <-pctx.Done():
		}
	}()
	tick := time.NewTicker(probeInterval)
	defer tick.Stop()
	last := "no answer yet"
	for {
		if ok, answer := chk.probe(pctx); ok && !exited(p) {
			return answer, nil
		} else if answer != "" {
			last = answer
		}
		select {
		case <-p.Done():
			return last, fmt.Errorf("%w: %w", errExited, exitErr(p))
		case <-hctx.Done():
			if ctx.Err() != nil {
				return last, ctx.Err()
			}
			return last, fmt.Errorf("not ready after %s", timeout)
		case <-tick.C:
		}
	}
}

// exitErr is how p ended, once it has: exit status 0 too is an error for a process meant to run.
func exitErr(p Process) error {
	if err := p.Err(); err != nil {
		return err
	}
	return errors.New("exit status 0")
}

// exited reports whether p's leader has exited.
func exited(p Process) bool {
	select {
	case <-p.Done():
		return true
	default:
		return false
	}
}

// dial makes one TCP connection to addr and closes it.
func dial(ctx context.Context, addr string) (bool, string) {
	dctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	c, err := (&net.Dialer{}).DialContext(dctx, "tcp", addr)
	if err != nil {
		if ctx.Err() != nil {
			return false, ""
		}
		return false, err.Error()
	}
	c.Close()
	return true, "connected"
}

// probe makes one health check request. It reports success for a 2xx answer, and describes the
// answer or the error otherwise ("" when ctx ended the request).
func probe(ctx context.Context, client *http.Client, url string) (bool, string) {
	rctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(rctx, http.MethodGet, url, nil)
	if err != nil {
		return false, err.Error()
	}
	resp, err := client.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return false, ""
		}
		return false, err.Error()
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		return true, resp.Status
	}
	return false, resp.Status
}
