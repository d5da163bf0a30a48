package release

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/convoy-ci/convoy/python"
	"github.com/convoy-ci/convoy/repo"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// fixture is a monorepo with the four services of services.yaml, their
// gated environments (fake pythons outside the worktree), a registry, and a
// build callback with a content-addressed cache: the same lockfile gives
// the same image, as convoy's image builder does.
type fixture struct {
	t        *testing.T
	dir      string
	reg      *faultyRegistry
	registry string
	services []Service
	venvs    map[string]*fakeVenv

	mu           sync.Mutex
	cache        map[string]ServiceImage // service@lockfile-sha → image
	buildCalls   int
	gateCalls    int
	builtFrom    []string // commits the callback was asked to build
	shadowFailed []string // what the gates callback says failed
}

const (
	eventsFreeze = "Django==4.2.11\nasgiref==3.8.1\nsqlparse==0.5.0\n"
	oppsFreeze   = "Django==4.2.11\nasgiref==3.8.1\nPyJWT==2.8.0\n"
	authFreeze   = "Django==4.2.11\nasgiref==3.8.1\nflake8==7.0.0\npipenv==2023.12.1\n"
)

func newFixture(t *testing.T) *fixture {
	t.Helper()
	return newFixtureAt(t, newFaultyRegistry(t), "convoy")
}

// newFixtureAt uses reg, with images under HOST/namespace/<service>.
func newFixtureAt(t *testing.T, reg *faultyRegistry, namespace string) *fixture {
	t.Helper()
	isolateGit(t)
	f := &fixture{t: t, reg: reg, venvs: map[string]*fakeVenv{}, cache: map[string]ServiceImage{}}
	f.registry = f.reg.Host() + "/" + namespace
	f.venvs["auth"] = newFakeVenv(t, "3.11.7", authFreeze)
	f.venvs["events"] = newFakeVenv(t, "3.11.7", eventsFreeze)
	f.venvs["payments"] = newFakeVenv(t, "3.11.7", authFreeze)
	f.venvs["opportunities"] = newFakeVenv(t, "3.11.7", oppsFreeze)
	// The locks pipenv wrote when installing the environments.
	authLock := filepath.Join(t.TempDir(), "Pipfile.lock")
	writeFile(t, authLock, pipenvLockFixture)
	payLock := filepath.Join(t.TempDir(), "Pipfile.lock")
	writeFile(t, payLock, pipenvLockFixture)
	f.services = []Service{
		{Name: "auth", Dir: "services/auth", Tool: "pipenv", Env: f.venvs["auth"].env(filepath.Dir(authLock))},
		{Name: "events", Dir: "services/events", Tool: python.Pip, Env: f.venvs["events"].env("")},
		{Name: "payments", Dir: "services/payments", Tool: "pipenv", Env: f.venvs["payments"].env(filepath.Dir(payLock))},
		{Name: "opportunities", Dir: "services/opportunities", Tool: python.Pip, Env: f.venvs["opportunities"].env("")},
	}

	// auth and events have up-to-date lockfiles; payments' is older,
	// opportunities has none yet.
	eventsLock, err := python.MustTool(python.Pip).Freeze(context.Background(), python.Project{Dir: "services/events", Name: "events"}, f.services[1].Env)
	if err != nil {
		t.Fatal(err)
	}
	f.dir = newRepo(t, map[string]string{
		".gitignore":                              ".convoy/\n",
		"services.yaml":                           "version: 1\n",
		"services/auth/Pipfile":                   "[packages]\ndjango = \"*\"\n",
		"services/auth/Pipfile.lock":              pipenvLockFixture,
		"services/events/requirements.txt":        "Django\n",
		"services/events/requirements.lock":       string(eventsLock),
		"services/payments/Pipfile":               "[packages]\ndjango = \"*\"\n",
		"services/payments/Pipfile.lock":          strings.Replace(pipenvLockFixture, "==4.2.11", "==4.2.10", 1),
		"services/opportunities/requirements.txt": "Django\n",
	})
	// The images of the last build of every service: auth and events will
	// be cache hits (unchanged inputs), so the release only retags them.
	r := openRepo(t, f.dir)
	base := f.head()
	for _, s := range f.services {
		lf, err := Freeze(context.Background(), r, s)
		if err != nil {
			t.Fatal(err)
		}
		if !lf.Changed {
			repoName := f.registry + "/" + s.Name
			d := pushImage(t, repoName, "build-"+lf.SHA256[:12], labeledImage(t, base))
			f.cache[s.Name+"@"+lf.SHA256] = ServiceImage{Service: s.Name, Repo: repoName, Digest: d, Changed: false}
		}
	}
	f.reg.reset()
	return f
}

// build is the BuildFunc, with the pipeline's caching: cache hits are
// returned as they are (Changed false, nothing pushed), misses get a new
// image labelled with the commit it is built from, pushed (Changed). A push
// that fails fails the build; the images pushed before it stay in the cache,
// as they stay in convoy's image store.
func (f *fixture) build(ctx context.Context, in BuildInput) ([]ServiceImage, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.buildCalls++
	f.builtFrom = append(f.builtFrom, in.Commit)
	var out []ServiceImage
	for _, l := range in.Lockfiles {
		key := l.Service + "@" + l.SHA256
		if img, ok := f.cache[key]; ok {
			out = append(out, img)
			continue
		}
		repoName := in.Registry + "/" + l.Service
		d, err := pushImageErr(repoName, "build-"+l.SHA256[:12], labeledImage(f.t, in.Commit))
		if err != nil {
			return nil, err
		}
		img := ServiceImage{Service: l.Service, Repo: repoName, Digest: d}
		f.cache[key] = img
		img.Changed = true
		out = append(out, img)
	}
	return out, nil
}

// gates is the Gates callback: the environments are already there; it counts the calls.
func (f *fixture) gates(context.Context) ([]string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.gateCalls++
	return f.shadowFailed, nil
}

func (f *fixture) spec() Spec {
	return Spec{
		Dir:        f.dir,
		Tag:        "v1.4.0",
		TagPattern: `^v[0-9]+\.[0-9]+\.[0-9]+$`,
		Registry:   f.registry,
		Services:   f.services,
		Gates:      f.gates,
		Build:      f.build,
		Options:    []Option{WithRetry(fastRetry)},
	}
}

func (f *fixture) git(args ...string) string { return gitOut(f.t, f.dir, args...) }

func (f *fixture) head() string { return f.git("rev-parse", "HEAD") }

// registryWrites counts requests that could change the registry.
func (f *fixture) registryWrites() int {
	n := 0
	for _, k := range []string{"PUT manifest", "DELETE manifest", "POST upload", "PATCH upload", "PUT upload"} {
		n += f.reg.count(k)
	}
	return n
}

// checkReleased verifies a finished release with the git CLI and the
// registry and returns its manifest.
func (f *fixture) checkReleased(tag string) Manifest {
	t := f.t
	t.Helper()
	if st := f.git("status", "--porcelain"); st != "" {
		t.Errorf("worktree not clean after the release: %q", st)
	}
	if ty := f.git("cat-file", "-t", tag); ty != "tag" {
		t.Errorf("git cat-file -t %s = %q, want tag (annotated)", tag, ty)
	}
	if c := f.git("rev-parse", tag+"^{commit}"); c != f.head() {
		t.Errorf("%s designates %s, HEAD is %s", tag, c, f.head())
	}
	raw := f.git("show", tag+":"+ManifestPath(tag))
	m, err := ParseManifest([]byte(raw))
	if err != nil {
		t.Fatalf("manifest at %s: %v", tag, err)
	}
	if m.Tag != tag || m.Version != ManifestVersion {
		t.Errorf("manifest tag %q version %d", m.Tag, m.Version)
	}
	if want := f.git("log", "-1", "--format=%ct", m.Commit); m.Created != time.Unix(mustAtoi(t, want), 0).UTC().Format(time.RFC3339) {
		t.Errorf("manifest created %s, commit time of %s is %s", m.Created, m.Commit, want)
	}
	if f.git("merge-base", "--is-ancestor", m.Commit, tag) != "" {
		t.Errorf("manifest commit is not an ancestor of the tag")
	}
	if len(m.Services) != len(f.services) {
		t.Fatalf("manifest has %d services, want %d", len(m.Services), len(f.services))
	}
	for _, s := range m.Services {
		lock := f.git("show", m.Commit+":"+s.Lockfile)
		sum := sha256.Sum256([]byte(lock + "\n"))
		if s.LockfileSHA256 != hex.EncodeToString(sum[:]) {
			t.Errorf("%s: lockfile_sha256 %s does not match %s at %s", s.Name, s.LockfileSHA256, s.Lockfile, short(m.Commit))
		}
		repoName, digest, _ := strings.Cut(s.Image, "@")
		if digest != s.Digest || repoName != f.registry+"/"+s.Name {
			t.Errorf("%s: image %q digest %q", s.Name, s.Image, s.Digest)
		}
		if got := tagDigest(t, repoName, tag); got != s.Digest {
			t.Errorf("%s: registry says %s:%s -> %q, manifest says %s", s.Name, repoName, tag, got, s.Digest)
		}
	}
	return m
}

func mustAtoi(t *testing.T, s string) int64 {
	t.Helper()
	var n int64
	for _, c := range s {
		if c < '0' || c > '9' {
			t.Fatalf("not a number: %q", s)
		}
		n = n*10 + int64(c-'0')
	}
	return n
}

func TestRelease(t *testing.T) {
	f := newFixture(t)
	base := f.head()
	var logs []string
	spec := f.spec()
	spec.Logf = func(format string, args ...any) { logs = append(logs, format) }
	res, err := Release(context.Background(), spec)
	if err != nil {
		t.Fatalf("Release: %v", err)
	}
	m := f.checkReleased("v1.4.0")

	// Two commits: the frozen lockfiles, then the manifest.
	if got := f.git("rev-list", "--count", base+"..HEAD"); got != "2" {
		t.Fatalf("%s commits on top of the base, want 2", got)
	}
	if res.FreezeCommit != f.git("rev-parse", "HEAD^") || res.ManifestCommit != f.head() || res.TagCommit != f.head() {
		t.Errorf("result commits %+v", res)
	}
	if got := f.git("show", "--no-renames", "--name-status", "--format=", res.FreezeCommit); got != "A\tservices/opportunities/requirements.lock\nM\tservices/payments/Pipfile.lock" {
		t.Errorf("freeze commit touches:\n%s", got)
	}
	body := f.git("log", "-1", "--format=%B", res.FreezeCommit)
	for _, want := range []string{
		"release v1.4.0: freeze dependencies of 2 service(s)",
		"payments: services/payments/Pipfile.lock\n  django 4.2.10 -> 4.2.11",
		"opportunities: services/opportunities/requirements.lock created, 3 packages",
		"Convoy-Release: v1.4.0\nConvoy-Step: freeze",
	} {
		if !strings.Contains(body, want) {
			t.Errorf("freeze commit message lacks %q:\n%s", want, body)
		}
	}
	if got := f.git("show", "--name-only", "--format=", res.ManifestCommit); got != "releases/v1.4.0.json" {
		t.Errorf("manifest commit touches %q", got)
	}
	if got := f.git("log", "-1", "--format=%an <%ae>", res.FreezeCommit); got != "QA Bot <qa@example.com>" {
		t.Errorf("freeze commit author %q", got)
	}
	if got := f.git("for-each-ref", "--format=%(taggername) %(taggeremail)", "refs/tags/v1.4.0"); got != "QA Bot <qa@example.com>" {
		t.Errorf("tagger %q", got)
	}
	if msg := f.git("tag", "-l", "--format=%(contents)", "v1.4.0"); !strings.Contains(msg, "source commit "+res.FreezeCommit) {
		t.Errorf("tag message:\n%s", msg)
	}

	// The images were built from the freeze commit, and the manifest says so.
	if len(f.builtFrom) != 1 || f.builtFrom[0] != res.FreezeCommit || m.Commit != res.FreezeCommit || res.SourceCommit != res.FreezeCommit {
		t.Errorf("built from %v, manifest commit %s, freeze commit %s", f.builtFrom, m.Commit, res.FreezeCommit)
	}
	actions := map[string]string{}
	for _, s := range m.Services {
		actions[s.Name] = s.Action
	}
	if actions["auth"] != ActionRetagged || actions["events"] != ActionRetagged || actions["payments"] != ActionBuilt || actions["opportunities"] != ActionBuilt {
		t.Errorf("actions = %v", actions)
	}
	if res.NothingToDo || !res.TagCreated || res.TagReplaced != "" {
		t.Errorf("result flags: %+v", res)
	}
	if !strings.Contains(res.Summary(), "release v1.4.0: tagged") {
		t.Errorf("Summary:\n%s", res.Summary())
	}
	if len(logs) == 0 {
		t.Error("no progress logged")
	}
}

func TestReleaseRetagMovesNoLayer(t *testing.T) {
	f := newFixture(t)
	// Freeze and commit first, and build once, so that the release's
	// images are all cache hits already in the registry.
	spec := f.spec()
	spec.Tag = "v1.3.0"
	if _, err := Release(context.Background(), spec); err != nil {
		t.Fatal(err)
	}
	f.reg.reset()
	res, err := Release(context.Background(), f.spec())
	if err != nil {
		t.Fatalf("Release: %v", err)
	}
	fetched := f.reg.fetchedBlobs()
	uploads := f.reg.count("POST upload") + f.reg.count("PATCH upload") + f.reg.count("PUT upload")
	m := f.checkReleased("v1.4.0")
	if uploads != 0 {
		t.Errorf("a release of unchanged images made %d upload requests, want 0", uploads)
	}
	// Only the image configurations are read (where each image comes from); no layer moves.
	onlyConfigsFetched(t, fetched, m)
	for _, s := range m.Services {
		if s.Action != ActionRetagged {
			t.Errorf("%s: action %s, want %s (built for v1.3.0)", s.Name, s.Action, ActionRetagged)
		}
	}
	if got := f.reg.count("PUT manifest"); got != 4 {
		t.Errorf("manifest PUTs = %d, want 4 (one per service)", got)
	}
	if res.FreezeCommit != "" {
		t.Errorf("lockfiles were frozen again: %s", res.FreezeCommit)
	}
}

func TestReleaseIsIdempotent(t *testing.T) {
	f := newFixture(t)
	if _, err := Release(context.Background(), f.spec()); err != nil {
		t.Fatal(err)
	}
	head, tagObj := f.head(), f.git("rev-parse", "v1.4.0")
	f.reg.reset()
	res, err := Release(context.Background(), f.spec())
	if err != nil {
		t.Fatalf("second Release: %v", err)
	}
	if !res.NothingToDo {
		t.Errorf("second Release did something: %+v", res)
	}
	if !strings.Contains(res.Summary(), "nothing to do") {
		t.Errorf("Summary does not say so:\n%s", res.Summary())
	}
	if f.head() != head || f.git("rev-parse", "v1.4.0") != tagObj {
		t.Error("second Release moved HEAD or the tag")
	}
	if w := f.registryWrites(); w != 0 {
		t.Errorf("second Release made %d registry writes", w)
	}
	if n, b := f.reg.blobTraffic(); n != 0 || b != 0 {
		t.Errorf("second Release: %d blob requests, %d bytes", n, b)
	}
	if f.buildCalls != 1 || f.gateCalls != 1 {
		t.Errorf("build called %d times, gates %d times; a complete release needs neither", f.buildCalls, f.gateCalls)
	}
	f.checkReleased("v1.4.0")
}

func TestReleaseResumes(t *testing.T) {
	tags := "/manifests/v1.4.0"
	tests := []struct {
		name string
		// break makes the first run fail part-way through stamping and
		// returns how many image tags should exist afterwards (-1: any).
		breakIt func(f *fixture, spec *Spec, cancel context.CancelFunc) int
	}{
		{"registry outage after two tags", func(f *fixture, spec *Spec, _ context.CancelFunc) int {
			f.reg.addFault(fault{method: http.MethodPut, path: tags, nth: 3, kind: fail500})
			return 2
		}},
		{"connections cut half-way from the second tag on", func(f *fixture, spec *Spec, _ context.CancelFunc) int {
			// The PUT reaches the registry, the answer never comes back.
			f.reg.addFault(fault{method: http.MethodPut, path: tags, nth: 2, kind: dropHalfway})
			return 2
		}},
		{"connections refused from the third tag on", func(f *fixture, spec *Spec, _ context.CancelFunc) int {
			f.reg.addFault(fault{method: http.MethodPut, path: tags, nth: 3, kind: dropBefore})
			return 2
		}},
		{"crash after the first tag", func(f *fixture, spec *Spec, cancel context.CancelFunc) int {
			spec.Logf = func(format string, args ...any) {
				if strings.HasPrefix(format, "tagged ") {
					cancel()
				}
			}
			return 1
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t)
			base := f.head()
			spec := f.spec()
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			wantTags := tt.breakIt(f, &spec, cancel)
			_, err := Release(ctx, spec)
			if err == nil {
				t.Fatal("first Release succeeded despite the fault")
			}
			if errors.Is(err, ErrPrecondition) {
				t.Fatalf("fault reported as a precondition: %v", err)
			}
			// State after the failure: lockfiles committed, no manifest, no
			// git tag, some image tags.
			freeze := f.head()
			if got := f.git("rev-list", "--count", base+"..HEAD"); got != "1" {
				t.Errorf("%s commits after the failed run, want 1 (the freeze)", got)
			}
			if out := f.git("tag", "-l", "v1.4.0"); out != "" {
				t.Error("git tag written although stamping failed")
			}
			if _, err := os.Stat(filepath.Join(f.dir, "releases", "v1.4.0.json")); err == nil {
				t.Error("manifest written although stamping failed")
			}
			tagged := 0
			for _, s := range f.services {
				if tagDigest(t, f.registry+"/"+s.Name, "v1.4.0") != "" {
					tagged++
				}
			}
			if tagged != wantTags {
				t.Errorf("%d image tags after the failure, want %d", tagged, wantTags)
			}

			// Re-run with the registry healthy: it finishes the job.
			f.reg.reset()
			spec.Logf = nil
			res, err := Release(context.Background(), spec)
			if err != nil {
				t.Fatalf("resumed Release: %v", err)
			}
			m := f.checkReleased("v1.4.0")
			if res.FreezeCommit != "" {
				t.Errorf("resume froze again: %s", res.FreezeCommit)
			}
			if m.Commit != freeze {
				t.Errorf("manifest commit %s, want the freeze commit %s", m.Commit, freeze)
			}
			if got := f.reg.count("PUT manifest"); got != 4-wantTags {
				t.Errorf("resume wrote %d image tags, want %d", got, 4-wantTags)
			}
			if got := f.git("rev-list", "--count", base+"..HEAD"); got != "2" {
				t.Errorf("%s commits after the resumed run, want 2", got)
			}
			// The resumed run found payments and opportunities in the cache, but the first
			// attempt built them for this release: the manifest says so.
			f.checkActions(m)
			// And a third run has nothing left to do.
			res, err = Release(context.Background(), spec)
			if err != nil || !res.NothingToDo {
				t.Errorf("third Release: NothingToDo=%v err=%v", res.NothingToDo, err)
			}
		})
	}
}

// checkActions checks the fixture's truth in a manifest: payments and opportunities (whose
// lockfiles the release froze) were built for it, auth and events carried over.
func (f *fixture) checkActions(m Manifest) {
	f.t.Helper()
	want := map[string]string{"auth": ActionRetagged, "events": ActionRetagged, "payments": ActionBuilt, "opportunities": ActionBuilt}
	for _, s := range m.Services {
		if s.Action != want[s.Name] {
			f.t.Errorf("manifest: %s %s, want %s", s.Name, s.Action, want[s.Name])
		}
	}
}

// TestReleaseResumesAfterPushOutage: the registry fails every push after the first image of
// the build; the rerun finds that image cached and still records it as built for the release.
func TestReleaseResumesAfterPushOutage(t *testing.T) {
	f := newFixture(t)
	base := f.head()
	f.reg.addFault(fault{method: http.MethodPut, path: "/manifests/", nth: 2, kind: fail500})
	if _, err := Release(context.Background(), f.spec()); err == nil || errors.Is(err, ErrPrecondition) {
		t.Fatalf("first Release = %v, want a build failure", err)
	}
	if got := f.git("rev-list", "--count", base+"..HEAD"); got != "1" {
		t.Fatalf("%s commits after the failed run, want 1 (the freeze)", got)
	}
	f.reg.reset()
	if _, err := Release(context.Background(), f.spec()); err != nil {
		t.Fatalf("resumed Release: %v", err)
	}
	if f.reg.count("PUT manifest") != 1+4 { // opportunities' build, then the four tags
		t.Errorf("resumed release wrote %d manifests, want 5", f.reg.count("PUT manifest"))
	}
	f.checkActions(f.checkReleased("v1.4.0"))
}

func TestReleaseResumesAfterManifestCommit(t *testing.T) {
	f := newFixture(t)
	first, err := Release(context.Background(), f.spec())
	if err != nil {
		t.Fatal(err)
	}
	// As if the process died between the manifest commit and the git tag.
	f.git("tag", "-d", "v1.4.0")
	head := f.head()
	res, err := Release(context.Background(), f.spec())
	if err != nil {
		t.Fatalf("Release: %v", err)
	}
	if f.head() != head || res.ManifestCommit != "" || res.FreezeCommit != "" {
		t.Errorf("resume made commits: %+v", res)
	}
	if !res.TagCreated || res.TagCommit != head {
		t.Errorf("tag not created on the manifest commit: %+v", res)
	}
	m := f.checkReleased("v1.4.0")
	if m.Commit != first.FreezeCommit {
		t.Errorf("manifest commit %s, want %s", m.Commit, first.FreezeCommit)
	}
}

func TestReleasePreconditions(t *testing.T) {
	tests := []struct {
		name  string
		setup func(f *fixture, spec *Spec)
		kind  PreconditionKind
		files []string
	}{
		{"untracked file", func(f *fixture, _ *Spec) {
			writeFile(f.t, filepath.Join(f.dir, "services/auth/notes.txt"), "x")
		}, PreconditionDirty, []string{"services/auth/notes.txt"}},
		{"modified tracked file", func(f *fixture, _ *Spec) {
			writeFile(f.t, filepath.Join(f.dir, "services/events/requirements.txt"), "Django<5\n")
		}, PreconditionDirty, []string{"services/events/requirements.txt"}},
		{"staged file", func(f *fixture, _ *Spec) {
			writeFile(f.t, filepath.Join(f.dir, "new.txt"), "x")
			f.git("add", "new.txt")
		}, PreconditionDirty, []string{"new.txt"}},
		{"ignored files are fine but tag used elsewhere", func(f *fixture, _ *Spec) {
			writeFile(f.t, filepath.Join(f.dir, ".convoy/oci/index.json"), "{}")
			f.git("tag", "v1.4.0", "HEAD")
			writeFile(f.t, filepath.Join(f.dir, "services.yaml"), "version: 1\n# later\n")
			f.git("commit", "-qam", "later work")
		}, PreconditionTagInUse, nil},
		{"annotated tag used elsewhere", func(f *fixture, _ *Spec) {
			writeFile(f.t, filepath.Join(f.dir, "services.yaml"), "version: 1\n# v1.4.0 was here\n")
			f.git("commit", "-qam", "x")
			f.git("tag", "-a", "-m", "old", "v1.4.0", "HEAD~1")
		}, PreconditionTagInUse, nil},
		{"malformed tag", func(_ *fixture, s *Spec) { s.Tag = "v1..4"; s.TagPattern = "" }, PreconditionTag, nil},
		{"not an image tag", func(_ *fixture, s *Spec) { s.Tag = "v1+4"; s.TagPattern = "" }, PreconditionTag, nil},
		{"tag not matching the pattern", func(_ *fixture, s *Spec) { s.Tag = "release-1" }, PreconditionTag, nil},
		{"tag foo", func(_ *fixture, s *Spec) { s.Tag = "foo" }, PreconditionTag, nil},
		{"tag with a shell substitution", func(_ *fixture, s *Spec) { s.Tag = "v1.0.0;$(id)" }, PreconditionTag, nil},
		{"registry with a space", func(_ *fixture, s *Spec) { s.Registry = "bad host/ns" }, PreconditionSpec, nil},
		{"registry unreachable", func(f *fixture, _ *Spec) { f.reg.setDown(true) }, PreconditionRegistry, nil},
		{"no registry", func(_ *fixture, s *Spec) { s.Registry = "" }, PreconditionSpec, nil},
		{"registry without host", func(_ *fixture, s *Spec) { s.Registry = "convoy" }, PreconditionSpec, nil},
		{"unknown deps tool", func(_ *fixture, s *Spec) {
			s.Services = append([]Service(nil), s.Services...)
			s.Services[0].Tool = "conda"
		}, PreconditionSpec, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t)
			spec := f.spec()
			tt.setup(f, &spec)
			head, tags, status := f.head(), f.git("tag", "-l"), f.git("status", "--porcelain", "--ignored")
			f.reg.reset()
			if tt.kind == PreconditionRegistry {
				f.reg.setDown(true)
			}
			_, err := Release(context.Background(), spec)
			var pe *PreconditionError
			if !errors.As(err, &pe) || !errors.Is(err, ErrPrecondition) {
				t.Fatalf("Release error = %v, want a precondition error", err)
			}
			if pe.Kind != tt.kind {
				t.Errorf("kind %s, want %s (%v)", pe.Kind, tt.kind, err)
			}
			if tt.files != nil && strings.Join(pe.Files, ",") != strings.Join(tt.files, ",") {
				t.Errorf("files %v, want %v", pe.Files, tt.files)
			}
			for _, file := range tt.files {
				if !strings.Contains(err.Error(), file) {
					t.Errorf("error does not name %s: %v", file, err)
				}
			}
			// Nothing was written anywhere.
			if f.head() != head || f.git("tag", "-l") != tags {
				t.Error("a refused release changed HEAD or the tags")
			}
			if w := f.registryWrites(); w != 0 {
				t.Errorf("a refused release made %d registry writes", w)
			}
			if f.buildCalls != 0 || f.gateCalls != 0 {
				t.Errorf("a refused release ran the gates (%d) or built images (%d)", f.gateCalls, f.buildCalls)
			}
			if got := f.git("status", "--porcelain", "--ignored"); got != status {
				t.Errorf("a refused release changed the worktree: git status %q, was %q", got, status)
			}
		})
	}
}

func TestReleaseTagConflict(t *testing.T) {
	f := newFixture(t)
	// Someone already put v1.4.0 on another events image.
	other := pushRandom(t, f.registry+"/events", "v1.4.0")
	f.reg.reset()
	_, err := Release(context.Background(), f.spec())
	var tc *TagConflictError
	if !errors.As(err, &tc) || len(tc.Conflicts) != 1 || tc.Conflicts[0].Service != "events" || tc.Conflicts[0].Existing != other {
		t.Fatalf("Release error = %v, want a conflict on events", err)
	}
	if got := f.reg.count("PUT manifest") - 2; got != 0 { // the two builds' pushes
		t.Errorf("%d image tags written despite the conflict", got)
	}
	if out := f.git("tag", "-l", "v1.4.0"); out != "" {
		t.Error("git tag written despite the conflict")
	}
	if got := tagDigest(t, f.registry+"/events", "v1.4.0"); got != other {
		t.Error("conflicting tag moved without force")
	}

	spec := f.spec()
	spec.Force = true
	res, err := Release(context.Background(), spec)
	if err != nil {
		t.Fatalf("forced Release: %v", err)
	}
	m := f.checkReleased("v1.4.0")
	for _, s := range m.Services {
		if s.Name == "events" && s.Digest == other {
			t.Error("events still at the other digest")
		}
	}
	moved := false
	for _, i := range res.Images {
		if i.Service == "events" && i.Action == TagOverwrite && i.Existing == other && i.Written {
			moved = true
		}
	}
	if !moved {
		t.Errorf("result does not record the moved tag: %+v", res.Images)
	}
}

func TestReleaseTriggerTagAndPush(t *testing.T) {
	f := newFixture(t)
	bare := t.TempDir()
	gitOut(t, bare, "init", "-q", "--bare")
	f.git("remote", "add", "origin", bare)
	// QA tags the commit and pushes the tag: that is what triggers CI.
	qaCommit := f.head()
	f.git("tag", "v1.4.0")
	f.git("push", "-q", "origin", "v1.4.0")
	// CI checks the tag out: a detached HEAD.
	f.git("checkout", "-q", "--detach", "v1.4.0")

	tagsAtHead, err := openRepo(t, f.dir).TagsAtHead()
	if err != nil {
		t.Fatal(err)
	}
	trigger, ok, err := TriggerTag(tagsAtHead, `^v[0-9]+\.[0-9]+\.[0-9]+$`)
	if err != nil || !ok || trigger != "v1.4.0" {
		t.Fatalf("TriggerTag(%v) = %q, %v, %v", tagsAtHead, trigger, ok, err)
	}

	spec := f.spec()
	spec.PushGit = "origin"
	res, err := Release(context.Background(), spec)
	if err != nil {
		t.Fatalf("Release: %v", err)
	}
	f.checkReleased("v1.4.0")
	if got := f.git("rev-parse", "main"); got != qaCommit {
		t.Errorf("branch main moved to %s; the release commits belong to the detached HEAD and the tag", got)
	}
	if out := f.git("status", "--short", "--branch"); !strings.HasPrefix(out, "## HEAD (no branch)") {
		t.Errorf("git status: %q", out)
	}
	if res.TagReplaced != qaCommit || !res.Pushed {
		t.Errorf("TagReplaced %q (want %s), Pushed %v", res.TagReplaced, qaCommit, res.Pushed)
	}
	if ty := gitOut(t, bare, "cat-file", "-t", "v1.4.0"); ty != "tag" {
		t.Errorf("remote v1.4.0 is a %s, want an annotated tag", ty)
	}
	if c := gitOut(t, bare, "rev-parse", "v1.4.0^{commit}"); c != f.head() {
		t.Errorf("remote v1.4.0 -> %s, want %s", c, f.head())
	}
	if got := gitOut(t, bare, "show", "v1.4.0:releases/v1.4.0.json"); !strings.Contains(got, `"commit": "`+res.FreezeCommit+`"`) {
		t.Errorf("remote manifest:\n%s", got)
	}

	// Again: nothing to do, the push is a no-op.
	res, err = Release(context.Background(), spec)
	if err != nil || !res.NothingToDo || !res.Pushed {
		t.Errorf("second Release: NothingToDo %v Pushed %v err %v", res.NothingToDo, res.Pushed, err)
	}

	// A remote tag on an unrelated commit is never overwritten.
	other := t.TempDir()
	gitOut(t, other, "init", "-q", "--bare")
	unrelated := newRepo(t, map[string]string{"x": "y"})
	gitOut(t, unrelated, "tag", "v1.4.0")
	gitOut(t, unrelated, "push", "-q", other, "v1.4.0")
	spec.PushGit = other
	if _, err := Release(context.Background(), spec); !errors.Is(err, repo.ErrRemoteTagDiffers) {
		t.Errorf("push over an unrelated remote tag: %v, want ErrRemoteTagDiffers", err)
	}
}

// A release complete at HEAD is what its committed lockfiles and manifest say: a rerun runs no
// gate and freezes nothing, even when the environments have drifted since (release --check
// reports that).
func TestReleaseCompleteButDrifted(t *testing.T) {
	f := newFixture(t)
	if _, err := Release(context.Background(), f.spec()); err != nil {
		t.Fatal(err)
	}
	head := f.head()
	f.venvs["events"].setFreeze(t, strings.Replace(eventsFreeze, "sqlparse==0.5.0", "sqlparse==0.5.1", 1))
	f.reg.reset()
	res, err := Release(context.Background(), f.spec())
	if err != nil || !res.NothingToDo {
		t.Fatalf("Release = NothingToDo %v, %v; want nothing to do", res.NothingToDo, err)
	}
	if f.head() != head || f.gateCalls != 1 || f.buildCalls != 1 {
		t.Errorf("rerun moved HEAD (%v), ran the gates (%d calls in all) or built (%d)", f.head() != head, f.gateCalls, f.buildCalls)
	}
	if w := f.registryWrites(); w != 0 {
		t.Errorf("rerun made %d registry writes", w)
	}
}

func TestReleaseRepairsMissingRegistryTag(t *testing.T) {
	f := newFixture(t)
	if _, err := Release(context.Background(), f.spec()); err != nil {
		t.Fatal(err)
	}
	ref, _ := name.NewTag(f.registry + "/auth:v1.4.0")
	if err := remote.Delete(ref); err != nil {
		t.Fatal(err)
	}
	head := f.head()
	f.reg.reset()
	res, err := Release(context.Background(), f.spec())
	if err != nil {
		t.Fatal(err)
	}
	if res.NothingToDo || res.Images == nil {
		t.Errorf("missing tag not repaired: %+v", res)
	}
	if got := f.reg.count("PUT manifest"); got != 1 {
		t.Errorf("%d tags written, want 1", got)
	}
	if f.head() != head {
		t.Error("repair made a commit")
	}
	f.checkReleased("v1.4.0")
}

func TestTriggerTag(t *testing.T) {
	pattern := `^v[0-9]+\.[0-9]+\.[0-9]+$`
	tests := []struct {
		tags    []string
		want    string
		ok, err bool
	}{
		{nil, "", false, false},
		{[]string{"nightly", "v1.4"}, "", false, false},
		{[]string{"nightly", "v1.4.0"}, "v1.4.0", true, false},
		{[]string{"v1.4.0", "v1.4.1"}, "", false, true},
	}
	for _, tt := range tests {
		got, ok, err := TriggerTag(tt.tags, pattern)
		if got != tt.want || ok != tt.ok || (err != nil) != tt.err {
			t.Errorf("TriggerTag(%v) = %q, %v, %v", tt.tags, got, ok, err)
		}
	}
	if _, _, err := TriggerTag(nil, "("); err == nil {
		t.Error("bad pattern accepted")
	}
}
