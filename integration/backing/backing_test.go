package backing_test

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"
	"github.com/redis/go-redis/v9"

	"github.com/convoy-ci/convoy/integration/backing"
	"github.com/convoy-ci/convoy/internal/procgroup"
)

// TestStart starts each kind for real, talks to it with its own protocol, and stops it: nothing of
// it may be left, neither a process of its groups nor its directory.
func TestStart(t *testing.T) {
	for _, kind := range backing.Kinds() {
		t.Run(kind, func(t *testing.T) {
			if testing.Short() && kind == backing.RabbitMQ {
				t.Skip("RabbitMQ takes seconds to start; skipped with -short")
			}
			dir := filepath.Join(t.TempDir(), kind)
			s, err := backing.Start(t.Context(), kind, dir, filepath.Join(t.TempDir(), kind+".log"), nil)
			if err != nil {
				t.Fatalf("Start: %v", err)
			}
			stopped := false
			defer func() {
				if !stopped {
					_ = s.Stop(time.Second)
				}
			}()
			if !strings.Contains(s.URL(), "127.0.0.1:") {
				t.Errorf("URL %q is not on loopback", s.URL())
			}
			use(t, kind, s.URL())
			pids := s.PIDs()
			if err := s.Stop(10 * time.Second); err != nil {
				t.Errorf("Stop: %v", err)
			}
			stopped = true
			for _, pid := range pids {
				if alive, err := procgroup.Alive(pid); err != nil || len(alive) > 0 {
					t.Errorf("process group %d still has %v after Stop (%v)", pid, alive, err)
				}
			}
			if _, err := os.Stat(dir); !errors.Is(err, fs.ErrNotExist) {
				t.Errorf("directory %s left after Stop (%v)", dir, err)
			}
		})
	}
}

// use stores and reads back a value through the server at url.
func use(t *testing.T, kind, url string) {
	t.Helper()
	switch kind {
	case backing.Redis:
		opts, err := redis.ParseURL(url)
		if err != nil {
			t.Fatal(err)
		}
		c := redis.NewClient(opts)
		defer c.Close()
		if err := c.Set(t.Context(), "k", "v", 0).Err(); err != nil {
			t.Fatalf("SET: %v", err)
		}
		if v, err := c.Get(t.Context(), "k").Result(); v != "v" || err != nil {
			t.Errorf("GET = %q, %v", v, err)
		}
	case backing.RabbitMQ:
		c, err := amqp.Dial(url)
		if err != nil {
			t.Fatalf("dialing %s: %v", url, err)
		}
		defer c.Close()
		ch, err := c.Channel()
		if err != nil {
			t.Fatal(err)
		}
		q, err := ch.QueueDeclare("convoy-test", false, true, false, false, nil)
		if err != nil {
			t.Fatal(err)
		}
		if err := ch.PublishWithContext(t.Context(), "", q.Name, false, false, amqp.Publishing{Body: []byte("hi")}); err != nil {
			t.Fatal(err)
		}
		deadline := time.Now().Add(10 * time.Second)
		for {
			m, ok, err := ch.Get(q.Name, true)
			if err != nil {
				t.Fatal(err)
			}
			if ok {
				if string(m.Body) != "hi" {
					t.Errorf("got %q", m.Body)
				}
				return
			}
			if time.Now().After(deadline) {
				t.Fatal("the message never arrived")
			}
		}
	}
}
