package main

import (
	"cmp"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/convoy-ci/convoy/engine"
	"github.com/convoy-ci/convoy/pipeline"
)

// repoRoot is the convoy repository these tests run in.
func repoRoot(t *testing.T) string {
	t.Helper()
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	return root
}

// copyMonorepo copies the repository's own services, libs, integration tests and manifest into
// a temporary directory, then the files of overlays (directories mirroring the layout) over them.
func copyMonorepo(t *testing.T, overlays ...string) string {
	t.Helper()
	src, dst := repoRoot(t), t.TempDir()
	for _, p := range []string{"services", "libs", "tests", "services.yaml"} {
		if out, err := exec.Command("cp", "-a", filepath.Join(src, p), dst).CombinedOutput(); err != nil {
			t.Fatalf("copying %s: %v %s", p, err, out)
		}
	}
	for _, o := range overlays {
		if out, err := exec.Command("cp", "-a", o+"/.", dst).CombinedOutput(); err != nil {
			t.Fatalf("applying %s: %v %s", o, err, out)
		}
	}
	// Nothing a developer's own runs left behind may leak into the copy.
	for _, junk := range []string{".convoy"} {
		os.RemoveAll(filepath.Join(dst, junk))
	}
	// Images carry git HEAD's labels and only what git tracks: the copy is a repository too.
	gitRepo(t, dst)
	return dst
}

// copyFixture copies the fixture monorepo testdata/NAME into a new temporary directory, without
// any state convoy left in it, and returns the copy (not yet a git repository).
func copyFixture(t *testing.T, name string) string {
	t.Helper()
	src, dst := filepath.Join(repoRoot(t), "testdata", name), t.TempDir()
	if out, err := exec.Command("cp", "-a", src+"/.", dst).CombinedOutput(); err != nil {
		t.Fatalf("copying %s: %v %s", src, err, out)
	}
	os.RemoveAll(filepath.Join(dst, ".convoy"))
	return dst
}

// variantName names a subtest after a broken variant ("" is the repository as it is).
func variantName(variant string) string {
	if variant == "" {
		return "as-is"
	}
	return variant
}

// variantRepo copies the monorepo with testdata/broken/<variant> applied ("" applies none).
func variantRepo(t *testing.T, variant string) string {
	t.Helper()
	if variant == "" {
		return copyMonorepo(t)
	}
	return copyMonorepo(t, filepath.Join(repoRoot(t), "testdata", "broken", variant))
}

// TestMonorepoGates runs the gates of the repository's four services, as they are and with each
// broken variant of testdata/broken applied: exactly the broken service fails, at exactly the
// broken stage, its later stages are skipped, and every other service passes.
func TestMonorepoGates(t *testing.T) {
	if testing.Short() {
		t.Skip("installs the services' dependencies from PyPI; skipped with -short")
	}
	services := []string{"auth", "events", "payments", "opportunities"}
	tests := []struct {
		variant, service, stage string
		skipped                 []string
		message                 string
	}{
		{"", "", "", nil, ""},
		{"lint", "events", "lint", []string{"populate"}, "lint_error.py"},
		{"unit", "opportunities", "unit", []string{"populate"}, "test_broken"},
		{"populate", "payments", "populate", nil, "default.yaml:7: unknown field 'amout'"},
		{"deps", "auth", "deps", []string{"unit", "lint", "populate"}, "convoy-no-such-package-zzz"},
	}
	for _, tt := range tests {
		t.Run(variantName(tt.variant), func(t *testing.T) {
			root := variantRepo(t, tt.variant)
			res := convoy(t, root, nil, "gate", "--output", "json")
			wantCode := 1
			if tt.variant == "" {
				wantCode = 0
			}
			if res.code != wantCode {
				t.Fatalf("exit code %d, want %d\n%s\n%s", res.code, wantCode, res.stdout, res.stderr)
			}
			for _, svc := range services {
				s := res.service(t, svc)
				if svc != tt.service {
					if s.Status != pipeline.StatusPassed {
						t.Errorf("%s = %+v, want passed", svc, s)
					}
					continue
				}
				if s.Status != pipeline.StatusFailed || stageStatus(s, tt.stage) != pipeline.StatusFailed {
					t.Errorf("%s = %+v, want %s failed", svc, s, tt.stage)
				}
				for _, st := range tt.skipped {
					if stageStatus(s, st) != pipeline.StatusSkipped {
						t.Errorf("%s/%s = %s, want skipped", svc, st, stageStatus(s, st))
					}
				}
				var tail []string
				for _, e := range res.events {
					if e.Type == pipeline.EventStageFinish && e.Service == svc && e.Stage == tt.stage {
						tail = e.Tail
					}
				}
				if !strings.Contains(strings.Join(tail, "\n"), tt.message) {
					t.Errorf("the failure's log tail lacks %q:\n%s", tt.message, strings.Join(tail, "\n"))
				}
			}
		})
	}
}

// TestMonorepoIntegration runs the integration stage over the four services, started from their
// images, as they are and with the broken integration variants: a failing cross-service test is
// counted and reported; a service that cannot start (its code, or a runtime dependency its image
// lacks) is named, with its log's last lines, its own integration stage fails and the suite does
// not run. The same runtime-dep variant passes from host virtualenvs, which is why those do not
// prove the images.
func TestMonorepoIntegration(t *testing.T) {
	if testing.Short() {
		t.Skip("installs the services' dependencies, builds their images and starts PostgreSQL; skipped with -short")
	}
	tests := []struct {
		variant                 string
		from                    string
		passed, failed          int
		failedService, tailLine string
	}{
		{variant: "", passed: 13},
		{variant: "integration-test", passed: 13, failed: 1},
		{variant: "integration-serve", failedService: "payments", tailLine: "payments wsgi broken on purpose"},
		{variant: "runtime-dep", failedService: "opportunities", tailLine: "No module named 'rest_framework'"},
		{variant: "runtime-dep", from: "venv", passed: 13},
	}
	for _, tt := range tests {
		t.Run(variantName(tt.variant)+"/"+cmp.Or(tt.from, "image"), func(t *testing.T) {
			root := variantRepo(t, tt.variant)
			args := []string{"integration", "--output", "json"}
			if tt.from != "" {
				args = append(args, "--integration-from", tt.from)
			}
			res := convoy(t, root, []string{"CI=true"}, args...)
			wantCode := 0
			if tt.failed > 0 || tt.failedService != "" {
				wantCode = 1
			}
			if res.code != wantCode || res.sum == nil || res.sum.Integration == nil {
				t.Fatalf("exit %d, want %d\n%s\n%s", res.code, wantCode, res.stdout, res.stderr)
			}
			in := res.sum.Integration
			if in.Passed != tt.passed || in.Failed != tt.failed {
				t.Errorf("integration = %+v, want %d passed and %d failed", in, tt.passed, tt.failed)
			}
			wantFrom := engine.From(cmp.Or(tt.from, "image"))
			if in.From != wantFrom || in.ImagesProven != (wantFrom == engine.FromImage && wantCode == 0) {
				t.Errorf("integration from %q, images proven %v; want from %q", in.From, in.ImagesProven, wantFrom)
			}
			checkIntegrationStages(t, res, tt.failedService)
			failedTests := 0
			for _, e := range res.events {
				if e.Type == pipeline.EventTest && e.Status.Failed() {
					failedTests++
					if !strings.Contains(e.Stage, "test_events_lists_an_event_that_does_not_exist") {
						t.Errorf("unexpected failed test %q", e.Stage)
					}
				}
				if e.Type == pipeline.EventStageFinish && e.Stage == "integration" && e.Status.Failed() {
					if e.Service != tt.failedService || !strings.Contains(strings.Join(e.Tail, "\n"), tt.tailLine) ||
						e.ExitCode == nil || strings.Contains(e.Message, "\n") {
						t.Errorf("service %s failed its start: %s\n%s", e.Service, e.Message, strings.Join(e.Tail, "\n"))
					}
					tt.failedService = "" // seen
				}
			}
			if failedTests != tt.failed {
				t.Errorf("%d failed test events, want %d", failedTests, tt.failed)
			}
			if tt.failedService != "" {
				t.Errorf("no failed integration stage for %s", tt.failedService)
			}
		})
	}
}

// checkIntegrationStages checks every service's line of the JSON summary: its integration stage
// failed, and so did the service, exactly when it is failed; the others came up, were never
// reached, or were stopped while starting beside it.
func checkIntegrationStages(t *testing.T, res runResult, failed string) {
	t.Helper()
	for _, s := range res.sum.Services {
		st := stageStatus(s, "integration")
		switch {
		case s.Name == failed && (st != pipeline.StatusFailed || s.Status != pipeline.StatusFailed):
			t.Errorf("%s: integration %s, status %s; want both failed", s.Name, st, s.Status)
		case s.Name != failed && st != pipeline.StatusPassed && st != pipeline.StatusSkipped && st != pipeline.StatusCancelled:
			t.Errorf("%s: integration %s, want passed, skipped or cancelled", s.Name, st)
		case s.Name != failed && s.Status == pipeline.StatusFailed:
			t.Errorf("%s failed although its integration did not", s.Name)
		}
	}
}
