package main

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/convoy-ci/convoy/image"
	"github.com/convoy-ci/convoy/pipeline"
	"github.com/convoy-ci/convoy/pipeline/config"
	"github.com/convoy-ci/convoy/pipeline/images"
)

// baseDir is the offline base image scripts/base-image.sh builds.
func baseDir() string {
	if d := os.Getenv("CONVOY_BASE_DIR"); d != "" {
		return d
	}
	return "/var/cache/convoy/base"
}

// needBase skips (or, in CI, fails) when the offline base image has not been built.
func needBase(t *testing.T) {
	t.Helper()
	if _, err := os.Stat(filepath.Join(baseDir(), "index.json")); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("no base image in %s: CI must run scripts/base-image.sh first (make test does)", baseDir())
		}
		t.Skipf("no base image in %s: run scripts/base-image.sh (as root) to build it", baseDir())
	}
}

// testOrigin is the origin remote of test repositories; clones are pointed at it too, as two CI
// checkouts of one repository would be.
const testOrigin = "https://git.example.com/monorepo.git"

// gitEnv is the environment of the tests' git commands: an identity of their own, so that they
// work on machines with no git configuration.
func gitEnv() []string {
	return append(os.Environ(), "GIT_AUTHOR_NAME=convoy-test", "GIT_AUTHOR_EMAIL=test@convoy.invalid",
		"GIT_COMMITTER_NAME=convoy-test", "GIT_COMMITTER_EMAIL=test@convoy.invalid")
}

// gitRepo turns dir into a git repository with everything committed.
func gitRepo(t testing.TB, dir string) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(dir, ".gitignore"), []byte(".convoy/\n__pycache__/\n*.pyc\n*.sqlite3\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{{"init", "-q"}, {"add", "-A"}, {"commit", "-q", "-m", "monorepo"},
		{"remote", "add", "origin", testOrigin}} {
		cmd := exec.Command("git", args...)
		cmd.Dir = dir
		cmd.Env = append(gitEnv(), "GIT_AUTHOR_DATE=2026-01-01T00:00:00Z", "GIT_COMMITTER_DATE=2026-01-01T00:00:00Z")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("git %v: %v %s", args, err, out)
		}
	}
}

// TestBuildImages builds the four services' images with convoy build, then proves: a second
// build on the unchanged tree runs no stage at all; a separate clone builds the same digests;
// and, where a container runtime answers, every image starts and passes its health check.
func TestBuildImages(t *testing.T) {
	if testing.Short() {
		t.Skip("installs the services' dependencies from PyPI; skipped with -short")
	}
	needBase(t)
	root := copyMonorepo(t) // a git repository with everything committed
	first := convoy(t, root, nil, "build", "--output", "json")
	if first.code != 0 {
		t.Fatalf("convoy build: exit %d\n%s\n%s", first.code, first.stdout, first.stderr)
	}
	digests := map[string]string{}
	for _, s := range first.sum.Services {
		if s.Status != pipeline.StatusPassed || !strings.HasPrefix(s.Digest, "sha256:") || s.Image != s.Name+"@"+s.Digest {
			t.Fatalf("%s = %+v, want passed with an image", s.Name, s)
		}
		digests[s.Name] = s.Digest
	}
	if len(digests) != 4 {
		t.Fatalf("%d images, want 4", len(digests))
	}

	t.Run("no-op rerun", func(t *testing.T) {
		again := convoy(t, root, nil, "build", "--output", "json")
		if again.code != 0 {
			t.Fatalf("exit %d\n%s", again.code, again.stderr)
		}
		for _, e := range again.events {
			if e.Type == pipeline.EventStageStart {
				t.Errorf("the no-op rerun started %s/%s", e.Service, e.Stage)
			}
		}
		for _, s := range again.sum.Services {
			if s.Status != pipeline.StatusCached || s.Digest != digests[s.Name] {
				t.Errorf("%s = %s %s, want cached %s", s.Name, s.Status, s.Digest, digests[s.Name])
			}
		}
	})

	t.Run("another clone builds the same digests", func(t *testing.T) {
		clone := filepath.Join(t.TempDir(), "clone")
		if out, err := exec.Command("git", "clone", "-q", root, clone).CombinedOutput(); err != nil {
			t.Fatalf("git clone: %v %s", err, out)
		}
		if out, err := exec.Command("git", "-C", clone, "remote", "set-url", "origin", testOrigin).CombinedOutput(); err != nil {
			t.Fatalf("git remote set-url: %v %s", err, out)
		}
		res := convoy(t, clone, nil, "build", "--output", "json", "--no-cache")
		if res.code != 0 {
			t.Fatalf("exit %d\n%s", res.code, res.stderr)
		}
		for _, s := range res.sum.Services {
			if s.Status != pipeline.StatusPassed || s.Digest != digests[s.Name] {
				t.Errorf("%s in the clone = %s %s, want passed %s", s.Name, s.Status, s.Digest, digests[s.Name])
			}
		}
	})

	t.Run("every image runs", func(t *testing.T) {
		docker := dockerAvailable(t)
		cfg, err := config.Load(config.FileName, root)
		if err != nil {
			t.Fatal(err)
		}
		store, err := image.OpenStore(filepath.Join(root, ".convoy", "oci"))
		if err != nil {
			t.Fatal(err)
		}
		for _, svc := range cfg.Services {
			t.Run(svc.Name, func(t *testing.T) { runInDocker(t, docker, store, svc, digests[svc.Name]) })
		}
	})
}

// dockerAvailable returns the docker CLI when a daemon answers. Outside scripts/docker-e2e.sh it
// skips; inside, a runtime that does not answer is a failure under CI=true.
func dockerAvailable(t *testing.T) string {
	t.Helper()
	if os.Getenv("CONVOY_E2E_DOCKER") != "1" {
		t.Skip("runs under scripts/docker-e2e.sh (CONVOY_E2E_DOCKER=1), which starts a container runtime")
	}
	docker, err := exec.LookPath("docker")
	if err == nil {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		err = exec.CommandContext(ctx, docker, "version").Run()
	}
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("no container runtime answers (%v): CI runs this through scripts/docker-e2e.sh, which starts dockerd", err)
		}
		t.Skipf("no container runtime answers (%v): run scripts/docker-e2e.sh to start dockerd and run this", err)
	}
	return docker
}

// runInDocker loads svc's image into docker, runs its serve command on a free loopback port of
// the host network, and waits for its health endpoint to answer 200.
func runInDocker(t *testing.T, docker string, store *image.Store, svc *config.Service, digest string) {
	img, err := store.Image(digest)
	if err != nil {
		t.Fatal(err)
	}
	tag := "convoy-test/" + svc.Name + ":" + strings.TrimPrefix(digest, "sha256:")[:12]
	tarball := filepath.Join(t.TempDir(), svc.Name+".tar")
	if err := image.WriteDockerTarball(img, tag, tarball); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(docker, "load", "-i", tarball).CombinedOutput(); err != nil {
		t.Fatalf("docker load: %v %s", err, out)
	}
	defer exec.Command(docker, "rmi", "-f", tag).Run()
	port := freePort(t)
	args := []string{"run", "-d", "--network", "host", "-e", "DATABASE_URL=sqlite:////tmp/db.sqlite3",
		"-e", "JWT_SECRET=" + svc.Env["JWT_SECRET"], tag}
	args = append(args, images.ServeArgv(svc, "127.0.0.1", port)...)
	out, err := exec.Command(docker, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("docker run: %v %s", err, out)
	}
	id := strings.TrimSpace(string(out))
	defer exec.Command(docker, "rm", "-f", id).Run()
	url := fmt.Sprintf("http://127.0.0.1:%d%s", port, svc.Health)
	deadline := time.Now().Add(60 * time.Second)
	for {
		resp, err := http.Get(url)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		if time.Now().After(deadline) {
			logs, _ := exec.Command(docker, "logs", id).CombinedOutput()
			t.Fatalf("%s never answered 200 at %s (last: %v)\n%s", svc.Name, url, err, logs)
		}
		time.Sleep(200 * time.Millisecond) // polling the health endpoint, bounded by the deadline
	}
}

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}
