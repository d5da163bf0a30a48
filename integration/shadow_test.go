package integration_test

import (
	"fmt"
	"testing"

	"github.com/convoy-ci/convoy/integration"
	"github.com/convoy-ci/convoy/integration/model"
)

// TestRunShadowFailureTolerated: a shadow service that crashes at start is reported
// (service.failed) but stops nothing: api and web come up and the suite passes against them,
// one service at a time and in parallel. The same crash in a service that is not a shadow fails
// the run before the suite.
func TestRunShadowFailureTolerated(t *testing.T) {
	f := newFixture(t)
	server := serverCluster(t)
	for i, tc := range []struct {
		name     string
		shadow   bool
		parallel int
	}{
		{"shadow, one at a time", true, 1},
		{"shadow, in parallel", true, 3},
		{"not a shadow", false, 3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			beta := f.service("beta", "CRASH_AT_START=1")
			beta.Shadow = tc.shadow
			spec := f.spec("test_pass.py", f.service("api"), beta, f.service("web", "NEEDS=API_URL"))
			spec.Postgres = server.URL()
			spec.RunID = fmt.Sprintf("shadow%d", i)
			rec := &recorder{}
			rep, err := integration.Run(t.Context(), spec, integration.WithEvents(rec.record), integration.WithParallel(tc.parallel))
			assertCleanedUp(t, rec)
			assertDatabasesDropped(t, server.URL(), spec.RunID)
			failed := rec.of(model.EventServiceFailed)
			if len(failed) != 1 || failed[0].Service != "beta" {
				t.Fatalf("service.failed events = %+v, want one, of beta", failed)
			}
			if !tc.shadow {
				if err == nil || rep.Suite.Ran {
					t.Fatalf("err = %v, suite ran %v; want beta's failure and no suite", err, rep.Suite.Ran)
				}
				return
			}
			if err != nil {
				t.Fatalf("Run: %v (want the shadow's failure tolerated)", err)
			}
			if s := rep.Suite; !s.Ran || s.Passed != 3 || s.Failed+s.Errors != 0 {
				t.Errorf("suite ran %v: %d passed, %d failed, %d errors; want 3 passed", s.Ran, s.Passed, s.Failed, s.Errors)
			}
		})
	}
}
