package integration

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/convoy-ci/convoy/integration/internal/freeport"
	"github.com/convoy-ci/convoy/integration/model"
)

// checkProcs validates the processes of s and applies their defaults.
func checkProcs(s *Service) error {
	seen := map[string]bool{}
	for i := range s.Processes {
		p := &s.Processes[i]
		switch {
		case p.Name == "" || strings.ContainsAny(p.Name, "/ "):
			return fmt.Errorf("service %q: process #%d: name %q is empty or has '/' or spaces", s.Name, i+1, p.Name)
		case seen[p.Name] || p.Name == "serve":
			return fmt.Errorf("service %q: process %q is declared twice (or named serve)", s.Name, p.Name)
		case len(p.Argv) == 0:
			return fmt.Errorf("service %q: process %q has no command", s.Name, p.Name)
		case p.ReadyLog != "" && len(p.ReadyCommand) > 0:
			return fmt.Errorf("service %q: process %q has both a log line and a command for readiness", s.Name, p.Name)
		}
		if _, err := regexp.Compile(p.ReadyLog); err != nil {
			return fmt.Errorf("service %q: process %q: ready log %q: %w", s.Name, p.Name, p.ReadyLog, err)
		}
		if p.ReadyTimeout <= 0 {
			p.ReadyTimeout = DefaultHealthTimeout
		}
		seen[p.Name] = true
	}
	return nil
}

// startProcs starts s's processes one after the other, each once the one before is ready.
func (r *runner) startProcs(ctx context.Context, s *service) error {
	for _, p := range s.Processes {
		if err := r.startProc(ctx, s, p); err != nil {
			return err
		}
	}
	return nil
}

// startProc starts p of s and waits until it is ready.
func (r *runner) startProc(ctx context.Context, s *service, p Proc) error {
	who := s.Name + "/" + p.Name
	logPath := filepath.Join(r.spec.LogDir, s.Name+"."+p.Name+".log")
	f, err := os.OpenFile(logPath, os.O_CREATE|os.O_TRUNC|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return fmt.Errorf("creating log %q: %w", logPath, err)
	}
	r.mu.Lock()
	r.logs = append(r.logs, f)
	r.mu.Unlock()
	argv := Substitute(p.Argv, freeport.Host, strconv.Itoa(s.rep.Port))
	fmt.Fprintf(f, "=== convoy: %s: %s (in %s)\n", who, strings.Join(argv, " "), s.launcher().Describe())
	w := &lineWatcher{w: f, matched: make(chan struct{})}
	chk := checker{what: "nothing (started is ready)", probe: func(context.Context) (bool, string) { return true, "" }}
	switch {
	case p.ReadyLog != "":
		w.re = regexp.MustCompile(p.ReadyLog)
		chk = checker{what: fmt.Sprintf("a line of its output matching %q", p.ReadyLog), probe: w.probe}
	case len(p.ReadyCommand) > 0:
		chk = r.commandChecker(who, s, p.ReadyCommand)
	}
	rep := model.ProcessReport{Name: who, LogPath: logPath}
	t0 := time.Now()
	fail := func(step string, err error, timedOut bool, code int, last string) error {
		return &model.ServiceError{Service: who, Step: step, Argv: argv, Awaited: chk.what, Waited: time.Since(t0), TimedOut: timedOut,
			ExitCode: code, LastProbe: last, LogPath: logPath, LogTail: model.LogTail(logPath, model.LogTailLines), Err: err}
	}
	proc, err := r.start(who, s.launcher(), Command{Name: p.Name, Argv: argv, Env: r.serviceEnv(s), Log: w})
	if err != nil {
		return fail("serve", err, false, -1, "")
	}
	rep.PID = proc.PID()
	r.emit(model.Event{Kind: model.EventProcessStart, Service: who, PID: proc.PID(), Argv: argv, LogPath: logPath})
	last, err := awaitReady(ctx, proc, p.ReadyTimeout, chk)
	defer func() { s.rep.Processes = append(s.rep.Processes, rep) }()
	switch {
	case err == nil:
		rep.Ready, rep.Startup = true, time.Since(t0)
		r.emit(model.Event{Kind: model.EventProcessReady, Service: who, PID: proc.PID(), Duration: rep.Startup, LogPath: logPath})
		return nil
	case ctx.Err() != nil:
		return ctx.Err()
	case exited(proc):
		return fail("serve", exitErr(proc), false, proc.ExitCode(), last)
	default:
		return fail("health", err, true, -1, last)
	}
}

// lineWatcher passes output on to w and closes matched once a line matches re.
type lineWatcher struct {
	w       io.Writer
	re      *regexp.Regexp
	mu      sync.Mutex
	partial []byte
	matched chan struct{}
	done    bool
}

// maxLine bounds the part of a line kept while waiting for its end.
const maxLine = 64 << 10

func (l *lineWatcher) Write(b []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.re != nil && !l.done {
		l.partial = append(l.partial, b...)
		for {
			i := bytes.IndexByte(l.partial, '\n')
			if i < 0 {
				break
			}
			if l.re.Match(l.partial[:i]) {
				l.done = true
				close(l.matched)
				break
			}
			l.partial = l.partial[i+1:]
		}
		if len(l.partial) > maxLine {
			l.partial = l.partial[len(l.partial)-maxLine:]
		}
	}
	return l.w.Write(b)
}

// probe reports whether a line matched.
func (l *lineWatcher) probe(context.Context) (bool, string) {
	select {
	case <-l.matched:
		return true, "matched"
	default:
		return false, ""
	}
}
