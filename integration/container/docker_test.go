package container

import (
	"os"
	"strings"
	"testing"

	"github.com/convoy-ci/convoy/integration"
	"github.com/convoy-ci/convoy/internal/procgroup"
)

// newDocker returns the docker runtime at $DOCKER_HOST, or skips when no daemon answers there
// (fails instead under CONVOY_E2E_DOCKER=1, which scripts/docker-e2e.sh sets with its dockerd).
func newDocker(t testing.TB) *Docker {
	t.Helper()
	e2e := os.Getenv("CONVOY_E2E_DOCKER") == "1"
	if os.Getenv("DOCKER_HOST") == "" && !e2e {
		t.Skip("SKIP: DOCKER_HOST is not set: scripts/docker-e2e.sh starts a dockerd and runs this test against it")
	}
	d, err := NewDocker()
	if err != nil {
		if e2e {
			t.Fatalf("CONVOY_E2E_DOCKER=1: %v", err)
		}
		t.Skipf("SKIP: %v", err)
	}
	return d
}

// dockerHooks checks docker's containers: after Stop no CLI process and no container.
func dockerHooks(d *Docker) runtimeHooks {
	return runtimeHooks{
		running: func(t *testing.T, p integration.Process) bool {
			ok, err := d.running(p.(*dockerProcess).name)
			if err != nil {
				t.Fatal(err)
			}
			return ok
		},
		gone: func(t *testing.T, p integration.Process) {
			t.Helper()
			dp := p.(*dockerProcess)
			if procgroup.ProcessAlive(dp.PID()) {
				t.Errorf("docker run (pid %d) alive after Stop", dp.PID())
			}
			if ok, err := d.exists(dp.name); ok || err != nil {
				t.Errorf("container %s still exists after Stop (%v)", dp.name, err)
			}
		},
	}
}

func TestDocker(t *testing.T) {
	d := newDocker(t)
	l := prepared(t, d.Launcher("svc", runID(), testImage(t, baseImage(t), testUser)))
	if desc := l.Describe(); !strings.HasPrefix(desc, "docker: svc@sha256:") {
		t.Errorf("Describe() = %q", desc)
	}
	tag := l.(*dockerLauncher).tag
	if _, err := d.run("image", "inspect", tag); err != nil {
		t.Fatalf("the image is not loaded as %s: %v", tag, err)
	}

	testCore(t, l, dockerHooks(d))

	if err := l.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if _, err := d.run("image", "inspect", tag); !notFound(err) {
		t.Errorf("image %s still there after Close (%v)", tag, err)
	}
}
