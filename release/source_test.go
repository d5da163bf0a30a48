package release

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/convoy-ci/convoy/engine/local"
	"github.com/convoy-ci/convoy/pipeline/config"
)

// TestReleaseFreezesTheEngineEnvironments: the environments frozen are the ones the engine
// reports for each service (here the local engine's virtualenv), asked for after the gates
// installed them.
func TestReleaseFreezesTheEngineEnvironments(t *testing.T) {
	isolateGit(t)
	reg := newFaultyRegistry(t)
	dir := newRepo(t, map[string]string{
		".gitignore":                       ".convoy/\n",
		"services/events/requirements.txt": "Django\n",
		"services.yaml": "version: 1\nservices:\n  - name: events\n    path: services/events\n" +
			"    unit: [python, -c, pass]\n    lint: [python, -c, pass]\n    populate: [python, -c, pass]\n",
	})
	cfg, err := config.Load(filepath.Join(dir, "services.yaml"), dir)
	if err != nil {
		t.Fatal(err)
	}
	eng := local.New(filepath.Join(dir, ".convoy"), local.WithCacheDir(t.TempDir()))
	env, err := eng.Env(cfg.Services[0])
	if err != nil {
		t.Fatal(err)
	}
	gated := false
	spec := Spec{
		Dir: dir, Tag: "v1.0.0", Registry: reg.Host() + "/convoy", Services: ServicesOf(cfg), Envs: eng,
		Options: []Option{WithRetry(fastRetry)},
		Gates: func(context.Context) ([]string, error) {
			// The deps stage installs the virtualenv where the engine says it is.
			newFakeVenvAt(t, env.Venv, "3.11.7", eventsFreeze)
			gated = true
			return nil, nil
		},
		Build: func(_ context.Context, in BuildInput) ([]ServiceImage, error) {
			repoName := in.Registry + "/events"
			d, err := pushImageErr(repoName, "build", labeledImage(t, in.Commit))
			return []ServiceImage{{Service: "events", Repo: repoName, Digest: d, Changed: true}}, err
		},
	}
	res, err := Release(context.Background(), spec)
	if err != nil {
		t.Fatalf("Release: %v", err)
	}
	if !gated {
		t.Fatal("the gates did not run")
	}
	lock := gitOut(t, dir, "show", res.FreezeCommit+":services/events/requirements.lock")
	for _, pin := range []string{"django==4.2.11", "sqlparse==0.5.0"} {
		if !strings.Contains(strings.ToLower(lock), pin) {
			t.Errorf("the frozen lockfile lacks %s:\n%s", pin, lock)
		}
	}
}

// TestTrigger: the one open release tag at HEAD triggers; a finished release's tag does not;
// a repository that cannot be read is an error, not "no release".
func TestTrigger(t *testing.T) {
	isolateGit(t)
	pattern := `^v[0-9]+\.[0-9]+\.[0-9]+$`
	dir := newRepo(t, map[string]string{"services.yaml": "version: 1\n"})
	if tag, ok, err := Trigger(dir, pattern); ok || err != nil {
		t.Errorf("untagged HEAD: Trigger = %q, %v, %v", tag, ok, err)
	}
	gitOut(t, dir, "tag", "v1.0.0")
	if tag, ok, err := Trigger(dir, pattern); tag != "v1.0.0" || !ok || err != nil {
		t.Errorf("QA tag at HEAD: Trigger = %q, %v, %v", tag, ok, err)
	}
	gitOut(t, dir, "tag", "v1.0.1")
	if _, _, err := Trigger(dir, pattern); !errors.Is(err, ErrPrecondition) {
		t.Errorf("two release tags at HEAD: Trigger error = %v, want a precondition error", err)
	}
	gitOut(t, dir, "tag", "-d", "v1.0.1")

	// HEAD's tree object is gone: reading the manifest fails, and Trigger says so.
	tree := gitOut(t, dir, "rev-parse", "HEAD^{tree}")
	if err := os.Remove(filepath.Join(dir, ".git", "objects", tree[:2], tree[2:])); err != nil {
		t.Fatal(err)
	}
	if tag, ok, err := Trigger(dir, pattern); err == nil || ok {
		t.Errorf("unreadable HEAD tree: Trigger = %q, %v, %v; want an error", tag, ok, err)
	}
	if _, _, err := Trigger(t.TempDir(), pattern); err == nil {
		t.Error("no repository: Trigger gave no error")
	}
}
