package integration_test

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/convoy-ci/convoy/integration"
	"github.com/convoy-ci/convoy/integration/model"
)

// TestRunChecks starts services that are not HTTP servers, each with the check that fits it: a TCP
// gateway, a service with no check, and an HTTP service checked by a command; then services whose
// check never passes must fail naming what was awaited.
func TestRunChecks(t *testing.T) {
	f := newFixture(t)
	server := serverCluster(t)
	gateway := func() integration.Service {
		s := f.service("gateway")
		s.Serve, s.Check = []string{"python", "manage.py", "tcpserver", "${HOST}:${PORT}"}, integration.CheckTCP
		return s
	}
	quiet := func() integration.Service {
		s := f.service("quiet")
		s.Serve, s.Check = []string{"python", "manage.py", "idle"}, integration.CheckNone
		return s
	}
	checked := func(argv ...string) integration.Service {
		s := f.service("api")
		s.Check, s.CheckCommand = integration.CheckCommand, argv
		return s
	}
	httpOK := []string{"python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/healthz' % os.environ['PORT'])"}
	tests := []struct {
		name     string
		services []integration.Service
		failing  string // the service that must fail its check; "" = the run passes
		awaited  string
	}{
		{name: "tcp, none and command checks pass", services: []integration.Service{gateway(), quiet(), checked(httpOK...)}},
		{name: "tcp check of a service listening nowhere", services: func() []integration.Service {
			s := gateway()
			s.Serve, s.HealthTimeout = []string{"python", "manage.py", "idle"}, time.Second
			return []integration.Service{s}
		}(), failing: "gateway", awaited: "a TCP connection to 127.0.0.1:"},
		{name: "command check that keeps failing", services: func() []integration.Service {
			s := checked("python", "-c", "import sys; sys.exit('not yet')")
			s.HealthTimeout = time.Second
			return []integration.Service{s}
		}(), failing: "api", awaited: `"python -c import sys; sys.exit('not yet')" to exit 0`},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			spec := f.spec("test_checks.py", tt.services...)
			spec.Postgres, spec.RunID = server.URL(), fmt.Sprintf("checks%d", i)
			rec := &recorder{}
			rep, err := integration.Run(t.Context(), spec, integration.WithEvents(rec.record))
			defer assertCleanedUp(t, rec)
			defer assertDatabasesDropped(t, server.URL(), spec.RunID)
			if tt.failing == "" {
				if err != nil {
					t.Fatalf("Run: %v", err)
				}
				if rep.Suite.Passed != 2 {
					t.Errorf("suite passed %d tests, want 2", rep.Suite.Passed)
				}
				for _, s := range rep.Services {
					if !s.Healthy {
						t.Errorf("%s is not healthy", s.Name)
					}
				}
				return
			}
			var se *model.ServiceError
			if !errors.As(err, &se) || se.Service != tt.failing || se.Step != "health" || !se.TimedOut {
				t.Fatalf("err = %v, want %s's health check to time out", err, tt.failing)
			}
			if !strings.Contains(err.Error(), "never became healthy") || !strings.Contains(err.Error(), tt.awaited) {
				t.Errorf("error does not say it awaited %s:\n%v", tt.awaited, err)
			}
		})
	}
}
