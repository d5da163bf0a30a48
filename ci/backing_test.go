package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/convoy-ci/convoy/pipeline"
)

// TestIntegrationBackingAndProcesses runs `convoy integration` on testdata/backing, whose services
// are not all HTTP servers: a gateway checked on TCP, a mailer with no check, and orders, whose
// worker process (ready by a log line) takes a job from the suite through the Redis integration
// starts for it. Everything runs from the images in runc; nothing is left afterwards.
func TestIntegrationBackingAndProcesses(t *testing.T) {
	if testing.Short() {
		t.Skip("builds images and starts them in runc, PostgreSQL and Redis; skipped with -short")
	}
	needBase(t)
	root := copyFixture(t, "backing")
	manifest := filepath.Join(root, "services.yaml")
	b, err := os.ReadFile(manifest)
	if err != nil {
		t.Fatal(err)
	}
	base := "defaults:\n  base: \"oci-layout:" + baseDir() + ":python\"\n"
	if err := os.WriteFile(manifest, []byte(strings.Replace(string(b), "defaults:\n", base, 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	gitRepo(t, root)

	res := convoy(t, root, []string{"CONVOY_RUNTIME="}, "integration", "--output", "json", "--runtime", "runc")
	if res.code != 0 {
		t.Fatalf("exit %d\n%s\n%s", res.code, res.stdout, res.stderr)
	}
	for _, name := range []string{"gateway", "mailer", "orders"} {
		if s := res.service(t, name); stageStatus(s, "integration") != pipeline.StatusPassed {
			t.Errorf("%s = %+v, want integration passed", name, s)
		}
	}
	var notices []string
	for _, e := range res.events {
		if e.Type == pipeline.EventNotice {
			notices = append(notices, e.Service+": "+e.Message)
		}
	}
	all := strings.Join(notices, "\n")
	for _, want := range []string{"integration: redis ready (redis://127.0.0.1:", "orders/worker: orders/worker ready (pid "} {
		if !strings.Contains(all, want) {
			t.Errorf("no notice %q among:\n%s", want, all)
		}
	}
	logs := filepath.Join(root, ".convoy", "logs", "integration")
	for file, want := range map[string]string{
		"orders.worker.log": "worker ready", "suite.log": "suite passed: gateway, mailer, orders/worker",
		"mailer.log": "mailer idle", "redis.log": "Ready to accept connections",
	} {
		if b, err := os.ReadFile(filepath.Join(logs, file)); err != nil || !strings.Contains(string(b), want) {
			t.Errorf("%s lacks %q (%v):\n%s", file, want, err, b)
		}
	}
	// The run's record, with Redis's directory in it, is gone; runc's work directory stays.
	left, _ := os.ReadDir(filepath.Join(root, ".convoy", "run"))
	for _, e := range left {
		if e.Name() != "runc" {
			t.Errorf("left in .convoy/run: %s", e.Name())
		}
	}
}
