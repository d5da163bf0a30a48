package main

import (
	"encoding/json"
	"encoding/xml"
	"fmt"
	"io"
	"log"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/registry"

	"github.com/convoy-ci/convoy/pipeline"
	"github.com/convoy-ci/convoy/release"
)

// shadowRepo is a committed repository of two services integration can start from their images
// with the base image's Python alone: alpha, and beta, a shadow service when shadow is set, whose
// unit stage runs betaUnit (a Python program).
func shadowRepo(t *testing.T, shadow bool, betaUnit string) string {
	t.Helper()
	needBase(t)
	unit, _ := json.Marshal(betaUnit)
	svc := func(name, extra string) string {
		return fmt.Sprintf(`  - name: %s
    path: svc/%s
    lint: [python, -c, "pass"]
    serve: [python, -m, http.server, --bind, "${HOST}", "${PORT}"]
    health: /healthz
%s`, name, name, extra)
	}
	beta := fmt.Sprintf("    unit: [python, -c, %s]\n", unit)
	if shadow {
		beta += "    shadow: true\n"
	}
	files := map[string]string{
		"services.yaml": `version: 1
defaults:
  timeout: 2m
  base: "oci-layout:` + baseDir() + `:python"
  unit: [python, -c, "pass"]
services:
` + svc("alpha", "") + svc("beta", beta) + `integration:
  requirements: tests/requirements.txt
  command: [python, -c, "import os, urllib.request; urllib.request.urlopen(os.environ['ALPHA_URL'] + '/healthz')"]
release:
  tag_pattern: '^v[0-9]+\.[0-9]+\.[0-9]+$'
`,
		"tests/requirements.txt": "",
	}
	for _, name := range []string{"alpha", "beta"} {
		files["svc/"+name+"/requirements.txt"] = ""
		files["svc/"+name+"/manage.py"] = "import sys\nprint('manage.py', *sys.argv[1:])\n"
		files["svc/"+name+"/healthz"] = "ok\n"
	}
	root := writeRepo(t, files)
	gitRepo(t, root)
	return root
}

// service is the summary line of name.
func service(t *testing.T, sum *pipeline.Summary, name string) pipeline.ServiceSummary {
	t.Helper()
	for _, s := range sum.Services {
		if s.Name == name {
			return s
		}
	}
	t.Fatalf("no service %q in the summary %+v", name, sum)
	return pipeline.ServiceSummary{}
}

// TestShadowBuild: beta, a shadow service whose unit test fails, gets no image, and convoy build
// exits 0 with alpha's image built: beta's stage events are marked shadow, the JSON summary marks
// beta shadow and failed and names it in shadow_failed, the text summary has its SHADOW FAILURE line, the JUnit report its
// "beta (shadow)" suite. The same failure in a service that is not a shadow exits 1.
func TestShadowBuild(t *testing.T) {
	failing := "raise SystemExit('beta: unit test failed')"
	root := shadowRepo(t, true, failing)
	junit := filepath.Join(t.TempDir(), "junit.xml")
	res := convoy(t, root, nil, "build", "--output", "json", "--junit", junit)
	if res.code != 0 || res.sum == nil {
		t.Fatalf("convoy build: exit %d, want 0\n%s\n%s", res.code, res.stdout, res.stderr)
	}
	beta, alpha := service(t, res.sum, "beta"), service(t, res.sum, "alpha")
	if !beta.Shadow || beta.Status != pipeline.StatusFailed || beta.Image != "" || !slices.Equal(res.sum.ShadowFailed, []string{"beta"}) {
		t.Errorf("beta = %+v, shadow_failed %v; want a failed shadow without an image", beta, res.sum.ShadowFailed)
	}
	if alpha.Shadow || alpha.Status != pipeline.StatusPassed || alpha.Image == "" || res.sum.Status != pipeline.StatusPassed {
		t.Errorf("alpha = %+v, run %s; want passed with an image", alpha, res.sum.Status)
	}
	if !slices.ContainsFunc(res.events, func(e pipeline.Event) bool {
		return e.Type == pipeline.EventStageFinish && e.Service == "beta" && e.Stage == "unit" && e.Status == pipeline.StatusFailed && e.Shadow
	}) {
		t.Errorf("no stage.finish event of beta's unit stage, failed and marked shadow")
	}
	data, err := os.ReadFile(junit)
	if err != nil {
		t.Fatal(err)
	}
	var report struct {
		Suites []struct {
			Name string `xml:"name,attr"`
		} `xml:"testsuite"`
	}
	if err := xml.Unmarshal(data, &report); err != nil {
		t.Fatal(err)
	}
	if !slices.ContainsFunc(report.Suites, func(s struct {
		Name string `xml:"name,attr"`
	}) bool {
		return s.Name == "beta (shadow)"
	}) {
		t.Errorf("JUnit has no suite \"beta (shadow)\":\n%s", data)
	}

	text := convoy(t, root, nil, "build", "--progress", "plain")
	if text.code != 0 || !strings.Contains(text.stdout, "SHADOW FAILURE: beta did not pass") ||
		!strings.Contains(text.stdout, "--- beta (shadow): stage unit failed") {
		t.Errorf("text build: exit %d, want 0 and the shadow failure reported\n%s", text.code, text.stdout)
	}

	plain := shadowRepo(t, false, failing)
	if res := convoy(t, plain, nil, "build", "--output", "json"); res.code != 1 {
		t.Errorf("the same failure in a service that is not a shadow: exit %d, want 1\n%s", res.code, res.stderr)
	}
}

// TestShadowRelease: a release against an in-memory registry with beta, a shadow service whose
// unit test fails, exits 0: alpha is stamped; beta is not, its lockfile is not frozen, and
// releases/v1.0.0.json records it as a shadow, not stamped. Once beta's test passes (a commit),
// the next release stamps it and records it as a stamped shadow.
func TestShadowRelease(t *testing.T) {
	if testing.Short() {
		t.Skip("runs integration in runc and PostgreSQL twice per release; skipped with -short")
	}
	root := shadowRepo(t, true, "raise SystemExit('beta: unit test failed')")
	srv := httptest.NewServer(registry.New(registry.Logger(log.New(io.Discard, "", 0))))
	defer srv.Close()
	reg := strings.TrimPrefix(srv.URL, "http://") + "/convoy"

	res := convoy(t, root, nil, "release", "--tag", "v1.0.0", "--registry", reg, "--insecure", "--progress", "plain")
	if res.code != 0 {
		t.Fatalf("release: exit %d, want 0\n%s\n%s", res.code, res.stdout, res.stderr)
	}
	m := releasedManifest(t, root, "v1.0.0")
	alpha, beta := m["alpha"], m["beta"]
	if alpha.Shadow || alpha.Digest == "" || beta.Digest != "" || !beta.Shadow || beta.Stamped == nil || *beta.Stamped {
		t.Errorf("manifest: alpha %+v, beta %+v; want alpha stamped, beta a shadow not stamped", alpha, beta)
	}
	if locks := gitIn(t, root, "ls-files", "svc/*/requirements.lock"); locks != "svc/alpha/requirements.lock" {
		t.Errorf("frozen lockfiles: %q, want alpha's only", locks)
	}
	if !strings.Contains(res.stdout, "SHADOW   beta not stamped") {
		t.Errorf("release output does not report beta:\n%s", res.stdout)
	}

	manifest := filepath.Join(root, "services.yaml")
	data, err := os.ReadFile(manifest)
	if err != nil {
		t.Fatal(err)
	}
	fixed := strings.Replace(string(data), `"raise SystemExit('beta: unit test failed')"`, `"pass"`, 1)
	if err := os.WriteFile(manifest, []byte(fixed), 0o644); err != nil {
		t.Fatal(err)
	}
	gitIn(t, root, "commit", "-q", "-am", "beta: its test passes")
	res = convoy(t, root, nil, "release", "--tag", "v1.0.1", "--registry", reg, "--insecure", "--progress", "plain")
	if res.code != 0 {
		t.Fatalf("second release: exit %d\n%s\n%s", res.code, res.stdout, res.stderr)
	}
	beta = releasedManifest(t, root, "v1.0.1")["beta"]
	if !beta.Shadow || beta.Stamped == nil || !*beta.Stamped || beta.Digest == "" {
		t.Errorf("beta in v1.0.1 = %+v, want a stamped shadow", beta)
	}
}

// releasedManifest reads releases/TAG.json at tag TAG with git, by service.
func releasedManifest(t *testing.T, root, tag string) map[string]release.ManifestService {
	t.Helper()
	m, err := release.ParseManifest([]byte(gitIn(t, root, "show", tag+":"+release.ManifestPath(tag))))
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]release.ManifestService{}
	for _, s := range m.Services {
		out[s.Name] = s
	}
	return out
}

// TestShadowRun: beta, a shadow service that passes its gates but whose image cannot start,
// fails its integration stage; the suite still runs against alpha and passes, and convoy run
// exits 0 with beta named in shadow_failed. So does a run in which beta fails its gates.
func TestShadowRun(t *testing.T) {
	if testing.Short() {
		t.Skip("runs integration in runc and PostgreSQL; skipped with -short")
	}
	root := shadowRepo(t, true, "pass")
	manifest := filepath.Join(root, "services.yaml")
	data, err := os.ReadFile(manifest)
	if err != nil {
		t.Fatal(err)
	}
	crash := strings.Replace(string(data), "    path: svc/beta\n    lint: [python, -c, \"pass\"]\n    serve: [python, -m, http.server",
		"    path: svc/beta\n    lint: [python, -c, \"pass\"]\n    serve: [python, -m, no_such_module", 1)
	if crash == string(data) {
		t.Fatal("beta's serve not found in services.yaml")
	}
	if err := os.WriteFile(manifest, []byte(crash), 0o644); err != nil {
		t.Fatal(err)
	}
	gitIn(t, root, "commit", "-q", "-am", "beta: cannot start")
	res := convoy(t, root, nil, "run", "--output", "json")
	if res.code != 0 || res.sum == nil {
		t.Fatalf("convoy run: exit %d, want 0\n%s\n%s", res.code, res.stdout, res.stderr)
	}
	in := res.sum.Integration
	if in == nil || in.Status != pipeline.StatusPassed || in.ImagesProven || !slices.Equal(res.sum.ShadowFailed, []string{"beta"}) {
		t.Fatalf("integration %+v, shadow_failed %v; want the suite passed, beta a shadow failure and the images not all proven", in, res.sum.ShadowFailed)
	}
	beta := service(t, res.sum, "beta")
	if st := beta.Stages[len(beta.Stages)-1]; st.Name != pipeline.IntegrationStage || st.Status != pipeline.StatusFailed {
		t.Errorf("beta's last stage = %+v, want integration failed", st)
	}
	if st := service(t, res.sum, "alpha").Stages; st[len(st)-1].Status != pipeline.StatusPassed {
		t.Errorf("alpha's stages = %+v", st)
	}

	// A shadow that fails its gates: integration, which overlaps the images, goes on without it.
	gates := shadowRepo(t, true, "raise SystemExit('beta: unit test failed')")
	res = convoy(t, gates, nil, "run", "--output", "json")
	if res.code != 0 || res.sum == nil || res.sum.Integration == nil || res.sum.Integration.Status != pipeline.StatusPassed ||
		!slices.Equal(res.sum.ShadowFailed, []string{"beta"}) {
		t.Fatalf("convoy run with beta's gates failing: exit %d, summary %+v\n%s", res.code, res.sum, res.stderr)
	}
}
