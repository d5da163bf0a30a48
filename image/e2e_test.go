package image

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestRunInDocker proves an image runs: it builds the hello service (with a
// real dependency) on the offline base image, loads it into docker through a
// docker tarball, starts it, and asks its health endpoint and its health
// command. scripts/docker-e2e.sh starts the daemon and runs this test with
// CONVOY_E2E_DOCKER=1, DOCKER_HOST and CONVOY_BASE set.
func TestRunInDocker(t *testing.T) {
	if os.Getenv("CONVOY_E2E_DOCKER") != "1" {
		t.Skip("SKIP: needs a container runtime: run scripts/docker-e2e.sh (it starts dockerd and sets CONVOY_E2E_DOCKER=1)")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	baseRef := os.Getenv("CONVOY_BASE")
	if baseRef == "" {
		baseRef = "oci-layout:/var/cache/convoy/base:python"
	}
	base, err := LoadBase(ctx, baseRef)
	if err != nil {
		t.Fatalf("%v (build it with scripts/base-image.sh)", err)
	}

	repo := monorepo(t)
	spec := helloSpec(t, repo, base)
	spec.Requirements = []string{"six==1.16.0"}
	spec.Tools = testTools(t)
	spec.CacheDir = filepath.Join(t.TempDir(), "layers")
	spec.Log = testWriter{t}
	start := time.Now()
	img, err := Build(ctx, spec)
	if err != nil {
		t.Fatal(err)
	}
	store, err := OpenStore(filepath.Join(repo, ".convoy", "oci"))
	if err != nil {
		t.Fatal(err)
	}
	tag := "convoy-e2e/hello:" + spec.Git.Short
	digest, err := store.Put(img, "hello:"+spec.Git.Short)
	if err != nil {
		t.Fatal(err)
	}
	archive := filepath.Join(t.TempDir(), "hello.tar")
	if err := WriteDockerTarball(img, tag, archive); err != nil {
		t.Fatal(err)
	}
	t.Logf("built %s (%s) in %s", tag, digest, time.Since(start).Round(time.Millisecond))

	docker := func(args ...string) string {
		t.Helper()
		out, err := exec.CommandContext(ctx, "docker", args...).CombinedOutput()
		if err != nil {
			t.Fatalf("docker %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return strings.TrimSpace(string(out))
	}
	t.Log(docker("load", "-i", archive))
	t.Cleanup(func() { exec.Command("docker", "rmi", "-f", tag).Run() })

	port := freePort(t)
	// Host networking: the daemon may run without a bridge (no iptables here);
	// the service binds loopback only.
	id := docker("run", "-d", "--network", "host", "-e", "HOST=127.0.0.1", "-e", fmt.Sprintf("PORT=%d", port), tag)
	t.Cleanup(func() {
		if t.Failed() {
			out, _ := exec.Command("docker", "logs", id).CombinedOutput()
			t.Logf("container logs:\n%s", out)
		}
		exec.Command("docker", "rm", "-f", id).Run()
	})
	if u := docker("inspect", "--format", "{{.Config.User}}", id); u != DefaultUser {
		t.Errorf("container runs as %q, want %q", u, DefaultUser)
	}

	body := waitHealthy(ctx, t, fmt.Sprintf("http://127.0.0.1:%d/healthz", port))
	var health struct {
		OK    bool   `json:"ok"`
		Greet string `json:"greet"`
		Six   string `json:"six"`
	}
	if err := json.Unmarshal(body, &health); err != nil {
		t.Fatalf("health body %q: %v", body, err)
	}
	if !health.OK || health.Greet != "hello, convoy" || health.Six != "1.16.0" {
		t.Errorf("health = %+v: want the lib (/app/libs) and six 1.16.0 (/app/site-packages) imported", health)
	}

	// The health command recorded in the image works inside it (against the
	// image's port, so point it at ours).
	cf, _ := img.ConfigFile()
	var check []string
	if err := json.Unmarshal([]byte(cf.Config.Labels[LabelHealthcheck]), &check); err != nil || len(check) < 2 {
		t.Fatalf("label %s = %q", LabelHealthcheck, cf.Config.Labels[LabelHealthcheck])
	}
	cmd := append([]string{"exec", id}, check[1:]...)
	cmd[len(cmd)-1] = strings.Replace(cmd[len(cmd)-1], ":8000/", fmt.Sprintf(":%d/", port), 1)
	docker(cmd...)
}

// waitHealthy polls url until it answers 200 or the service's start-up budget
// (30s) runs out, and returns the body.
func waitHealthy(ctx context.Context, t *testing.T, url string) []byte {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	client := http.Client{Timeout: 2 * time.Second}
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	var last error
	for time.Now().Before(deadline) {
		resp, err := client.Get(url)
		if err == nil {
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return body
			}
			err = fmt.Errorf("status %s: %s", resp.Status, body)
		}
		last = err
		select {
		case <-ctx.Done():
			t.Fatal(ctx.Err())
		case <-tick.C:
		}
	}
	t.Fatalf("%s never answered 200: %v", url, last)
	return nil
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

// testWriter sends pip's output to the test log.
type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}
