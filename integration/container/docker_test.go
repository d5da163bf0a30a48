package container

import (
	"os"
	"strings"
	"syscall"
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

// TestDockerSweepRun: a run whose convoy was killed (its `docker run` CLI killed with SIGKILL)
// leaves its container running and its image tagged; the Sweeper `convoy sweep` uses (runc's
// and, with DOCKER_HOST, the daemon's) removes both, names them, and leaves another run's
// container alone.
func TestDockerSweepRun(t *testing.T) {
	d := newDocker(t)
	img := testImage(t, baseImage(t), testUser)
	dead, live := runID(), runID()
	var names []string
	for _, run := range []string{dead, live} {
		l := prepared(t, d.Launcher("svc", run, img))
		log := newLog()
		p, err := l.Start(integration.Command{Name: "stubborn", Argv: []string{"python3", "/app/stubborn.py"}, Log: log})
		if err != nil {
			t.Fatal(err)
		}
		name := p.(*dockerProcess).name
		names = append(names, name)
		t.Cleanup(func() { _, _ = d.run("rm", "--force", name) })
		log.waitFor(t, "ready\n", p.Done())
		if run == dead {
			if err := syscall.Kill(-p.PID(), syscall.SIGKILL); err != nil { // convoy's kill -9
				t.Fatal(err)
			}
			<-p.Done()
		}
	}
	if ok, err := d.running(names[0]); !ok || err != nil {
		t.Fatalf("the killed run's container is not running (%v): nothing to sweep", err)
	}
	sw := Sweeper(WithWorkDir(t.TempDir()))
	if sw == nil {
		t.Fatal("Sweeper() = nil although a daemon answers at DOCKER_HOST")
	}
	removed, err := sw.SweepRun(dead)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"removed leftover container " + names[0], "removed leftover image tag " + imageTag("svc", dead)}
	if strings.Join(removed, "\n") != strings.Join(want, "\n") {
		t.Errorf("SweepRun = %q, want %q", removed, want)
	}
	if ok, err := d.exists(names[0]); ok || err != nil {
		t.Errorf("container %s still exists (%v)", names[0], err)
	}
	if _, err := d.run("image", "inspect", imageTag("svc", dead)); !notFound(err) {
		t.Errorf("image %s still there (%v)", imageTag("svc", dead), err)
	}
	if ok, err := d.running(names[1]); !ok || err != nil {
		t.Errorf("the other run's container %s was touched (running %v, %v)", names[1], ok, err)
	}
}
