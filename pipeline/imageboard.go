package pipeline

import (
	"context"
	"fmt"
	"sync"
)

// imageBoard tells integration, while the gates and images still run, when each service's
// image is built (or found cached) — or that it never will be.
type imageBoard struct {
	mu    sync.Mutex
	slots map[string]*imageSlot
}

// imageSlot is one service's image: done is closed once ref or err is set.
type imageSlot struct {
	done chan struct{}
	ref  string
	err  error
}

func newImageBoard(services []PlanService) *imageBoard {
	b := &imageBoard{slots: map[string]*imageSlot{}}
	for _, s := range services {
		b.slots[s.Name] = &imageSlot{done: make(chan struct{})}
	}
	return b
}

// settle records svc's image (ref, or why there is none), once: later calls change nothing.
func (b *imageBoard) settle(svc, ref string, err error) {
	if b == nil {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	s, ok := b.slots[svc]
	if !ok {
		return
	}
	select {
	case <-s.done:
		return
	default:
	}
	s.ref, s.err = ref, err
	close(s.done)
}

// closeAll settles every service not settled yet: its image was not built by this run.
func (b *imageBoard) closeAll() {
	if b == nil {
		return
	}
	for name := range b.slots {
		b.settle(name, "", fmt.Errorf("this run built no image of %q", name))
	}
}

// Image waits until svc's image is settled and returns it (engine.IntegrationRequest.Image).
func (b *imageBoard) Image(ctx context.Context, svc string) (string, error) {
	b.mu.Lock()
	s, ok := b.slots[svc]
	b.mu.Unlock()
	if !ok {
		return "", fmt.Errorf("service %q is not in this run", svc)
	}
	select {
	case <-s.done:
		return s.ref, s.err
	case <-ctx.Done():
		return "", ctx.Err()
	}
}
