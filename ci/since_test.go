package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/convoy-ci/convoy/pipeline"
)

// sinceRepo is a committed repository of three services built from the base image: b depends on
// a, c uses libs/common.
func sinceRepo(t *testing.T) string {
	t.Helper()
	needBase(t)
	svc := func(name, extra string) string {
		return "  - name: " + name + "\n    path: svc/" + name + "\n    serve: [python, app.py]\n" + extra
	}
	files := map[string]string{
		"services.yaml": `version: 1
defaults:
  timeout: 2m
  base: "oci-layout:` + baseDir() + `:python"
  unit: [python, -c, "pass"]
  lint: [python, -c, "pass"]
  populate: []
services:
` + svc("a", "") + svc("b", "    depends_on: [a]\n") + svc("c", "    libs: [libs/common]\n"),
		"libs/common/common.py": "X = 1\n",
	}
	for _, name := range []string{"a", "b", "c"} {
		files["svc/"+name+"/requirements.txt"] = ""
		files["svc/"+name+"/app.py"] = "print('" + name + "')\n"
	}
	root := writeRepo(t, files)
	gitRepo(t, root)
	return root
}

// ranStages lists "service/stage" of every stage.start event.
func ranStages(events []pipeline.Event) []string {
	var out []string
	for _, e := range events {
		if e.Type == pipeline.EventStageStart {
			out = append(out, e.Service+"/"+e.Stage)
		}
	}
	slices.Sort(out)
	return out
}

// TestBuildSince: after a commit that changes a's source, convoy build --since HEAD~1 starts the
// stages of a and of b (which depends on a) and of no other service; convoy plan --since says
// why, in text and JSON; --only narrows the selection to the services both name; a lib change
// selects the service using it; an unknown revision exits 2 before anything runs.
func TestBuildSince(t *testing.T) {
	root := sinceRepo(t)
	writeFiles(t, root, map[string]string{"svc/a/app.py": "print('a, changed')\n"})
	gitIn(t, root, "commit", "-q", "-am", "a: change")

	plan := convoy(t, root, nil, "plan", "--since", "HEAD~1")
	for _, want := range []string{"1 paths changed; 2 of 3 services selected", "a: changed (svc/a/app.py)",
		"b: depends on a", "c: unchanged — skipped", "engine local, "} {
		if !strings.Contains(plan.stdout, want) {
			t.Errorf("plan --since lacks %q:\n%s", want, plan.stdout)
		}
	}
	var js struct {
		Services []struct{ Name string }
		Since    struct {
			Services []struct {
				Service, Kind, Why string
				Selected           bool
			}
		}
	}
	pj := convoy(t, root, nil, "plan", "--since", "HEAD~1", "--output", "json")
	if err := json.Unmarshal([]byte(pj.stdout), &js); err != nil {
		t.Fatalf("plan --output json: %v\n%s", err, pj.stdout)
	}
	if len(js.Services) != 2 || len(js.Since.Services) != 3 || js.Since.Services[1].Kind != "depends_on" ||
		js.Since.Services[2].Selected || js.Since.Services[2].Why != "unchanged — skipped" {
		t.Errorf("plan JSON: %+v", js)
	}

	res := convoy(t, root, nil, "build", "--since", "HEAD~1", "--output", "json")
	if res.code != 0 {
		t.Fatalf("build --since: exit %d\n%s\n%s", res.code, res.stdout, res.stderr)
	}
	want := []string{"a/deps", "a/image", "a/layer", "a/lint", "a/populate", "a/unit", "b/deps", "b/image", "b/layer", "b/lint", "b/populate", "b/unit"}
	if got := ranStages(res.events); !slices.Equal(got, want) {
		t.Errorf("stages started: %v\nwant %v", got, want)
	}
	if n := len(res.sum.Services); n != 2 {
		t.Errorf("summary has %d services, want a and b", n)
	}

	only := convoy(t, root, nil, "build", "--since", "HEAD~1", "--only", "b,c", "--output", "json", "--no-cache")
	if got := ranStages(only.events); only.code != 0 || len(got) == 0 || !slices.ContainsFunc(got, func(s string) bool {
		return strings.HasPrefix(s, "b/")
	}) || slices.ContainsFunc(got, func(s string) bool { return !strings.HasPrefix(s, "b/") }) {
		t.Errorf("--since HEAD~1 --only b,c: exit %d, stages %v; want b's only", only.code, got)
	}

	writeFiles(t, root, map[string]string{"libs/common/common.py": "X = 2\n"})
	lib := convoy(t, root, nil, "plan", "--since", "HEAD")
	if !strings.Contains(lib.stdout, "c: uses lib libs/common (libs/common/common.py)") || !strings.Contains(lib.stdout, "a: unchanged — skipped") {
		t.Errorf("an uncommitted lib change:\n%s", lib.stdout)
	}

	fresh := sinceRepo(t)
	for _, cmd := range []string{"build", "plan", "gate"} {
		bad := convoy(t, fresh, nil, cmd, "--since", "no-such-ref")
		if bad.code != 2 || !strings.Contains(bad.stderr, `"no-such-ref"`) || !strings.Contains(bad.stderr, "expected a commit, branch or tag") {
			t.Errorf("%s --since no-such-ref: exit %d, want 2 naming the ref\n%s", cmd, bad.code, bad.stderr)
		}
	}
	if _, err := os.Stat(filepath.Join(fresh, ".convoy")); !os.IsNotExist(err) {
		t.Errorf("a refused --since left .convoy behind (%v)", err)
	}
}
