package release

import (
	"context"
	"strings"
	"testing"
)

// TestReleaseShadow: with events and opportunities shadow services, and the gates saying
// opportunities failed, the release completes: opportunities' lockfile is not frozen (the freeze
// commit touches payments' only), its image gets no tag, and the manifest records it as a shadow
// not stamped, with why; events, a passing shadow, is stamped and recorded as a stamped shadow.
// Re-running the finished release does nothing. A failed service that is not a shadow aborts
// the release before anything is written.
func TestReleaseShadow(t *testing.T) {
	f := newFixture(t)
	f.services[1].Shadow, f.services[3].Shadow = true, true // events, opportunities
	f.shadowFailed = []string{"opportunities"}
	res, err := Release(context.Background(), f.spec())
	if err != nil {
		t.Fatalf("Release: %v", err)
	}
	if got := f.git("show", "--no-renames", "--name-status", "--format=", res.FreezeCommit); got != "M\tservices/payments/Pipfile.lock" {
		t.Errorf("freeze commit touches:\n%s", got)
	}
	if len(res.Unstamped) != 1 || res.Unstamped[0].Service != "opportunities" || res.Unstamped[0].Why != WhyGates {
		t.Errorf("unstamped = %+v", res.Unstamped)
	}
	if !strings.Contains(res.Summary(), "SHADOW   opportunities not stamped: its gates failed") {
		t.Errorf("summary:\n%s", res.Summary())
	}
	m, err := ParseManifest([]byte(f.git("show", "v1.4.0:"+ManifestPath("v1.4.0"))))
	if err != nil {
		t.Fatal(err)
	}
	by := map[string]ManifestService{}
	for _, s := range m.Services {
		by[s.Name] = s
	}
	if len(m.Services) != 4 {
		t.Fatalf("manifest services = %+v", m.Services)
	}
	opp := by["opportunities"]
	if !opp.Shadow || opp.Stamped == nil || *opp.Stamped || opp.Image != "" || opp.Lockfile != "" || opp.Note != WhyGates {
		t.Errorf("opportunities in the manifest = %+v", opp)
	}
	if d := tagDigest(t, f.registry+"/opportunities", "v1.4.0"); d != "" {
		t.Errorf("opportunities:v1.4.0 exists (%s); a failed shadow is not stamped", d)
	}
	ev := by["events"]
	if !ev.Shadow || ev.Stamped == nil || !*ev.Stamped || ev.Digest == "" || tagDigest(t, f.registry+"/events", "v1.4.0") != ev.Digest {
		t.Errorf("events in the manifest = %+v, registry tag %q", ev, tagDigest(t, f.registry+"/events", "v1.4.0"))
	}
	for _, name := range []string{"auth", "payments"} {
		s := by[name]
		if s.Shadow || s.Stamped != nil || tagDigest(t, f.registry+"/"+name, "v1.4.0") != s.Digest {
			t.Errorf("%s in the manifest = %+v", name, s)
		}
	}
	raw := f.git("show", "v1.4.0:"+ManifestPath("v1.4.0"))
	if !strings.Contains(raw, `"shadow": true,`) || !strings.Contains(raw, `"stamped": false,`) {
		t.Errorf("manifest JSON lacks shadow/stamped:\n%s", raw)
	}

	again, err := Release(context.Background(), f.spec())
	if err != nil || !again.NothingToDo {
		t.Errorf("re-running: nothing to do %v, err %v", again.NothingToDo, err)
	}

	g := newFixture(t)
	g.shadowFailed = []string{"auth"}
	base := g.head()
	if _, err := Release(context.Background(), g.spec()); err == nil || !strings.Contains(err.Error(), `service "auth" failed and is not a shadow service`) {
		t.Errorf("a failed non-shadow service: err = %v", err)
	}
	if g.head() != base || g.git("tag", "-l") != "" {
		t.Errorf("a refused release wrote commits or tags")
	}
}
