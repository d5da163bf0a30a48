package affected

import (
	"errors"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/convoy-ci/convoy/internal/gittest"
	"github.com/convoy-ci/convoy/pipeline/config"
)

const manifest = `version: 1
services:
  - name: auth
    path: services/auth
    libs: [libs/kit]
  - name: events
    path: services/events
    libs: [libs/common]
    depends_on: [auth]
  - name: payments
    path: services/payments
    depends_on: [events]
  - name: opportunities
    path: services/opportunities
integration:
  requirements: tests/integration/requirements.txt
  command: [python, -m, pytest, tests/integration]
`

// monorepo is a committed repository of four services: events uses libs/common, auth libs/kit;
// payments depends on events, events on auth.
func monorepo(t *testing.T) string {
	t.Helper()
	gittest.Isolate(t, "convoy-test", "test@convoy.invalid")
	files := map[string]string{
		"services.yaml":                           manifest,
		".gitignore":                              "*.sqlite3\n",
		"libs/kit/kit/__init__.py":                "",
		"libs/common/x.py":                        "X = 1\n",
		"tests/integration/requirements.txt":      "",
		"tests/integration/test_flow.py":          "def test_flow(): pass\n",
		"services/auth/requirements.txt":          "",
		"services/auth/api/views.py":              "",
		"services/events/requirements.txt":        "",
		"services/payments/requirements.txt":      "",
		"services/opportunities/requirements.txt": "",
	}
	return gittest.NewRepo(t, files)
}

func load(t *testing.T, root string) *config.Config {
	t.Helper()
	cfg, err := config.Load(config.FileName, root)
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

func commit(t *testing.T, root string, files map[string]string) {
	t.Helper()
	for p, c := range files {
		gittest.WriteFile(t, filepath.Join(root, filepath.FromSlash(p)), c)
	}
	gittest.Git(t, root, "add", "-A")
	gittest.Git(t, root, "commit", "-q", "-m", "change")
}

func reasons(sel *Selection) []string {
	var out []string
	for _, r := range sel.Services {
		out = append(out, r.String())
	}
	return out
}

// TestSelect walks a real history: each step commits (or leaves uncommitted) one kind of
// change and checks what --since selects, and why, against the commit before it and against
// the first commit.
func TestSelect(t *testing.T) {
	root := monorepo(t)
	first := gittest.Git(t, root, "rev-parse", "HEAD")

	for _, step := range []struct {
		name   string
		change func()
		since  string
		want   []string
		suite  string
	}{
		{"nothing changed", func() {}, "HEAD", []string{
			"auth: unchanged — skipped", "events: unchanged — skipped",
			"payments: unchanged — skipped", "opportunities: unchanged — skipped"}, ""},
		{"a lib file", func() { commit(t, root, map[string]string{"libs/common/x.py": "X = 2\n"}) }, "HEAD~1", []string{
			"auth: unchanged — skipped", "events: uses lib libs/common (libs/common/x.py)",
			"payments: depends on events", "opportunities: unchanged — skipped"}, ""},
		{"one service", func() { commit(t, root, map[string]string{"services/auth/api/views.py": "V = 1\n"}) }, "HEAD~1", []string{
			"auth: changed (services/auth/api/views.py)", "events: depends on auth",
			"payments: depends on events", "opportunities: unchanged — skipped"}, ""},
		{"services.yaml entry", func() {
			commit(t, root, map[string]string{"services.yaml": strings.Replace(manifest,
				"    path: services/opportunities\n", "    path: services/opportunities\n    timeout: 3m\n", 1)})
		}, "HEAD~1", []string{
			"auth: unchanged — skipped", "events: unchanged — skipped",
			"payments: unchanged — skipped", "opportunities: its services.yaml entry changed"}, ""},
		{"uncommitted, untracked and ignored files", func() {
			gittest.WriteFile(t, filepath.Join(root, "services/payments/new_module.py"), "")
			gittest.WriteFile(t, filepath.Join(root, "services/events/db.sqlite3"), "ignored")
			gittest.WriteFile(t, filepath.Join(root, "tests/integration/test_flow.py"), "def test_flow(): assert 1\n")
		}, "HEAD", []string{
			"auth: unchanged — skipped", "events: unchanged — skipped",
			"payments: changed (services/payments/new_module.py)", "opportunities: unchanged — skipped"},
			"integration suite changed (tests/integration/test_flow.py)"},
		{"everything since the first commit", func() {}, first, []string{
			"auth: changed (services/auth/api/views.py)", "events: uses lib libs/common (libs/common/x.py)",
			"payments: changed (services/payments/new_module.py)", "opportunities: its services.yaml entry changed"},
			"integration suite changed (tests/integration/test_flow.py)"},
	} {
		t.Run(step.name, func(t *testing.T) {
			step.change()
			sel, err := Select(load(t, root), step.since)
			if err != nil {
				t.Fatal(err)
			}
			if got := reasons(sel); !slices.Equal(got, step.want) {
				t.Errorf("since %s:\n got %q\nwant %q", step.since, got, step.want)
			}
			if sel.Suite != step.suite {
				t.Errorf("suite = %q, want %q", sel.Suite, step.suite)
			}
			if want := gittest.Git(t, root, "rev-parse", step.since); sel.Commit != want {
				t.Errorf("commit = %s, want %s", sel.Commit, want)
			}
		})
	}
}

// TestForIntegration: integration brings up what the selected services depend on; a changed
// suite brings up everything.
func TestForIntegration(t *testing.T) {
	root := monorepo(t)
	commit(t, root, map[string]string{"services/payments/app.py": ""})
	cfg := load(t, root)
	sel, err := Select(cfg, "HEAD~1")
	if err != nil {
		t.Fatal(err)
	}
	if got := sel.Names(); !slices.Equal(got, []string{"payments"}) {
		t.Fatalf("gates select %v, want payments", got)
	}
	want := []string{"auth: needed by payments in integration", "events: needed by payments in integration",
		"payments: changed (services/payments/app.py)", "opportunities: unchanged — skipped"}
	if got := reasons(sel.ForIntegration(cfg)); !slices.Equal(got, want) {
		t.Errorf("integration:\n got %q\nwant %q", got, want)
	}
	if got := sel.Names(); !slices.Equal(got, []string{"payments"}) {
		t.Errorf("ForIntegration changed the selection it was given: %v", got)
	}
	commit(t, root, map[string]string{"tests/integration/test_more.py": ""})
	sel, err = Select(cfg, "HEAD~1")
	if err != nil {
		t.Fatal(err)
	}
	if got := sel.ForIntegration(cfg).Names(); len(got) != 4 || len(sel.Names()) != 0 {
		t.Errorf("a changed suite: gates select %v, integration %v; want none and all four", sel.Names(), got)
	}
}

// TestSelectUnknownRevision: a revision the repository does not have is an
// *UnknownRevisionError naming it and what was expected.
func TestSelectUnknownRevision(t *testing.T) {
	root := monorepo(t)
	for _, rev := range []string{"no-such-branch", "HEAD~5", "deadbeef"} {
		_, err := Select(load(t, root), rev)
		var ue *UnknownRevisionError
		if !errors.As(err, &ue) || !strings.Contains(err.Error(), `"`+rev+`"`) || !strings.Contains(err.Error(), "expected a commit") {
			t.Errorf("%s: err = %v, want an UnknownRevisionError naming it", rev, err)
		}
	}
}
