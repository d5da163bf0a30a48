package report

import (
	"fmt"
	"io"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/convoy-ci/convoy/pipeline"
)

// TTY keeps one live line per service on a terminal: its current stage and how long it has been
// running. Lines are redrawn in place; the summary is printed below them at the end.
type TTY struct {
	w     io.Writer
	mu    sync.Mutex
	order []string
	lines map[string]*liveLine
	drawn int
	fails Failures
	stop  chan struct{}
	once  sync.Once
}

type liveLine struct {
	stage   string
	status  pipeline.Status
	running map[string]time.Time // stages running now, with their start
	done    int
	total   int
	note    string
	settled bool
}

// NewTTY returns a live renderer writing to w, refreshing elapsed times every interval.
func NewTTY(w io.Writer, interval time.Duration) *TTY {
	t := &TTY{w: w, lines: map[string]*liveLine{}, stop: make(chan struct{})}
	go func() {
		tick := time.NewTicker(interval)
		defer tick.Stop()
		for {
			select {
			case <-tick.C:
				t.mu.Lock()
				t.redraw()
				t.mu.Unlock()
			case <-t.stop:
				return
			}
		}
	}()
	return t
}

// Emit updates the service's line, or prints the summary.
func (t *TTY) Emit(e pipeline.Event) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.fails.Emit(e)
	switch e.Type {
	case pipeline.EventRunStart:
		for _, s := range e.Run.Services {
			t.order = append(t.order, s)
			t.lines[s] = &liveLine{status: pipeline.StatusPending, total: len(e.Run.Stages), running: map[string]time.Time{}}
		}
	case pipeline.EventStageStart:
		if l := t.lines[e.Service]; l != nil {
			l.running[e.Stage] = e.Time
			if !l.settled {
				l.status = pipeline.StatusRunning
			}
		}
	case pipeline.EventStageFinish:
		if l := t.lines[e.Service]; l != nil {
			delete(l.running, e.Stage)
			l.done++
			if e.Status != pipeline.StatusPassed && e.Status != pipeline.StatusCached && !l.settled {
				l.stage, l.status, l.note, l.settled = e.Stage, e.Status, e.Message, true
			} else if !l.settled {
				l.stage, l.status = e.Stage, e.Status
			}
		}
	case pipeline.EventNotice:
		t.clear()
		fmt.Fprintf(t.w, "note: %s\n", e.Message)
	case pipeline.EventSummary:
		t.once.Do(func() { close(t.stop) })
		t.redraw()
		if e.Summary != nil {
			WriteSummary(t.w, *e.Summary, t.fails.List())
		}
		return
	}
	t.redraw()
}

// clear erases the live lines so that a permanent line can be printed above them.
func (t *TTY) clear() {
	if t.drawn > 0 {
		fmt.Fprintf(t.w, "\x1b[%dA\x1b[J", t.drawn)
		t.drawn = 0
	}
}

func (t *TTY) redraw() {
	if t.drawn > 0 {
		fmt.Fprintf(t.w, "\x1b[%dA", t.drawn)
	}
	now := time.Now()
	for _, name := range t.order {
		l := t.lines[name]
		state := string(l.status)
		switch {
		case len(l.running) > 0:
			names := make([]string, 0, len(l.running))
			var since time.Time
			for st, at := range l.running {
				names = append(names, st)
				if since.IsZero() || at.Before(since) {
					since = at
				}
			}
			sort.Strings(names)
			state = fmt.Sprintf("%s %s", strings.Join(names, "+"), fmtDur(now.Sub(since).Truncate(100*time.Millisecond)))
			if l.settled {
				state += fmt.Sprintf(" (%s at %s)", l.status, l.stage)
			}
		case l.settled:
			state = fmt.Sprintf("%s at %s", l.status, l.stage)
		case l.done == l.total && l.total > 0:
			state = string(l.status)
		}
		fmt.Fprintf(t.w, "\x1b[2K  %-20s [%d/%d] %s\n", name, l.done, l.total, state)
	}
	t.drawn = len(t.order)
}
