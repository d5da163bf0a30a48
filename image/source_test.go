package image

import (
	"archive/tar"
	"bytes"
	"context"
	"io"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/convoy-ci/convoy/internal/gittest"
)

// secret is what a stage leaves in gitignored files; no image may hold it.
const secret = "s3cr3t-left-by-a-stage-0b1d"

// contentRepo makes a git repository holding a service (services/web) and a package lib
// (libs/shared) with one file of every kind SourceFiles tells apart: tracked, untracked,
// gitignored (root, nested, info/exclude), tracked inside an ignored directory,
// .dockerignored (root's and the tree's own), dev-only. It returns the repository's root.
func contentRepo(t testing.TB) string {
	t.Helper()
	gittest.Isolate(t, "convoy", "convoy@example.invalid")
	repo := gittest.NewRepo(t, map[string]string{
		".gitignore":                        ".env\n*.sqlite3\n.coverage\ntest.db\nbuild/\n",
		".dockerignore":                     "**/*.md\n!**/KEEP.md\nservices/web/local_settings.py\n",
		"services/web/.dockerignore":        "docs/\n",
		"services/web/app.py":               "print('web')\n",
		"services/web/KEEP.md":              "kept\n",
		"services/web/NOTES.md":             "root-dockerignored\n",
		"services/web/local_settings.py":    "DEBUG = True\n",
		"services/web/docs/guide.txt":       "service-dockerignored\n",
		"services/web/tests/__init__.py":    "",
		"services/web/tests/test_app.py":    "def test_app(): pass\n",
		"services/web/web/__init__.py":      "",
		"services/web/web/views.py":         "VIEWS = 1\n",
		"services/web/web/tests.py":         "dev-only\n",
		"services/web/web/test_views.py":    "dev-only\n",
		"services/web/web/views_test.py":    "dev-only\n",
		"services/web/conftest.py":          "dev-only\n",
		"services/web/.flake8":              "[flake8]\n",
		"services/web/tox.ini":              "[tox]\n",
		"services/web/pytest.ini":           "[pytest]\n",
		"services/web/.coveragerc":          "[run]\n",
		"services/web/requirements-dev.txt": "-r requirements.txt\npytest\n",
		"services/web/requirements.txt":     "django\n",
		"services/web/setup.cfg":            "[metadata]\nname = web\n",
		"services/web/Pipfile":              "[packages]\n",
		"services/web/static/.gitignore":    "*.map\n",
		"services/web/static/app.js":        "1;\n",
		"libs/shared/__init__.py":           "NAME = 'shared'\n",
		"libs/shared/util.py":               "def util(): return 1\n",
		"libs/shared/notes.txt":             "lib-dockerignored\n",
		"libs/shared/.dockerignore":         "*.txt\n",
		"libs/shared/tests/test_util.py":    "def test_util(): pass\n",
	})
	gittest.WriteFile(t, filepath.Join(repo, "services/web/build/keep.txt"), "tracked in an ignored directory\n")
	gittest.Git(t, repo, "add", "-f", "services/web/build/keep.txt")
	gittest.Git(t, repo, "commit", "-q", "-m", "force-add")
	for p, c := range map[string]string{
		"services/web/.env":                              "JWT_SECRET=" + secret + "\n",
		"services/web/db.sqlite3":                        secret,
		"services/web/.coverage":                         secret,
		"services/web/test.db":                           secret,
		"services/web/static/app.js.map":                 secret,
		"services/web/build/out.bin":                     secret,
		"services/web/scratch.txt":                       secret,
		"services/web/__pycache__/app.cpython-311.pyc":   secret,
		"services/web/new_module.py":                     "NEW = 1\n",
		"libs/shared/.pytest_cache/v/cache/lastfailed":   secret,
		"libs/shared/__pycache__/util.cpython-311.pyc":   secret,
		".git/info/exclude":                              "scratch.txt\n",
		"services/web/web/__pycache__/x.cpython-311.pyc": secret,
	} {
		gittest.WriteFile(t, filepath.Join(repo, filepath.FromSlash(p)), c)
	}
	return repo
}

// copyRepo copies the repository at origin, .git, untracked and ignored files included, into a
// new directory and returns it.
func copyRepo(t testing.TB, origin string) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "copy")
	copyTree(t, origin, dir)
	return dir
}

// contentSource is the Source of contentRepo's service.
func contentSource(repo string) Source {
	return Source{
		Root: repo,
		Dir:  filepath.Join(repo, "services", "web"),
		Libs: []Lib{{Dir: filepath.Join(repo, "libs", "shared"), Path: LibsRoot + "/shared", ImportRoot: LibsRoot}},
	}
}

// contentFiles is what contentRepo's source layer holds by default.
var contentFiles = []string{
	"/app/src/.dockerignore", "/app/src/KEEP.md", "/app/src/Pipfile", "/app/src/app.py",
	"/app/src/build/keep.txt", "/app/src/new_module.py", "/app/src/requirements.txt",
	"/app/src/setup.cfg", "/app/src/static/.gitignore", "/app/src/static/app.js",
	"/app/src/web/__init__.py", "/app/src/web/views.py",
	"/app/libs/shared/.dockerignore", "/app/libs/shared/__init__.py", "/app/libs/shared/util.py",
}

// imagePaths lists the trees' files as paths in the image, sorted.
func imagePaths(trees []Tree) []string {
	var out []string
	for _, tr := range trees {
		for _, f := range tr.Files {
			out = append(out, path.Join(tr.Path, f.Rel))
		}
	}
	slices.Sort(out)
	return out
}

func sorted(s []string) []string {
	s = slices.Clone(s)
	slices.Sort(s)
	return s
}

// TestSourceFiles checks what a source layer holds: git's files (tracked, and untracked but not
// ignored) minus the .dockerignored and dev-only ones; image.include re-includes dev-only files
// but nothing git or a .dockerignore leaves out; outside git, nothing is gitignored.
func TestSourceFiles(t *testing.T) {
	repo := contentRepo(t)
	plain := filepath.Join(t.TempDir(), "plain")
	copyTree(t, repo, plain)
	if err := os.RemoveAll(filepath.Join(plain, ".git")); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		src  Source
		add  []string // to contentFiles
	}{
		{"git repository", contentSource(repo), nil},
		{"include tests", func() Source {
			s := contentSource(repo)
			s.Include = []string{"tests", "conftest.py"}
			return s
		}(), []string{"/app/src/tests/__init__.py", "/app/src/tests/test_app.py", "/app/src/conftest.py", "/app/libs/shared/tests/test_util.py"}},
		{"include cannot undo git or .dockerignore", func() Source {
			s := contentSource(repo)
			s.Include = []string{".env", "docs", "NOTES.md", "*.sqlite3", "**/*_test.py"}
			return s
		}(), []string{"/app/src/web/views_test.py"}},
		{"not a git repository", contentSource(plain), []string{
			"/app/src/.env", "/app/src/db.sqlite3", "/app/src/test.db", "/app/src/static/app.js.map",
			"/app/src/build/out.bin", "/app/src/scratch.txt"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			trees, err := SourceFiles(tt.src)
			if err != nil {
				t.Fatal(err)
			}
			want := sorted(append(slices.Clone(contentFiles), tt.add...))
			if got := imagePaths(trees); !slices.Equal(got, want) {
				t.Errorf("source files\n got %q\nwant %q", got, want)
			}
		})
	}
}

// TestSourceFilesLinkedWorktree lists a linked worktree (git worktree add): its own index, and
// the main repository's .git/info/exclude.
func TestSourceFilesLinkedWorktree(t *testing.T) {
	repo := contentRepo(t)
	wt := filepath.Join(t.TempDir(), "wt")
	gittest.Git(t, repo, "worktree", "add", "-q", wt)
	for _, p := range []string{"services/web/.env", "services/web/scratch.txt", "services/web/new_module.py"} {
		gittest.WriteFile(t, filepath.Join(wt, p), "x")
	}
	trees, err := SourceFiles(contentSource(wt))
	if err != nil {
		t.Fatal(err)
	}
	if got := imagePaths(trees); !slices.Equal(got, sorted(contentFiles)) {
		t.Errorf("source files of a linked worktree\n got %q\nwant %q", got, sorted(contentFiles))
	}
}

// TestInputHash: the hash changes exactly when the image's files or settings do.
func TestInputHash(t *testing.T) {
	inputs := func(repo string) Inputs {
		return Inputs{
			Service:    "web",
			Source:     contentSource(repo),
			DepSpec:    []byte("django==5.0\n"),
			BaseDigest: "sha256:aaaa",
			Argv:       [][]string{{"python", "-m", "pip", "install"}, {"serve", "gunicorn"}},
		}
	}
	web := func(rel string) string { return filepath.Join("services", "web", filepath.FromSlash(rel)) }
	write := func(rel, content string) func(string, *Inputs) {
		return func(repo string, _ *Inputs) { gittest.WriteFile(t, filepath.Join(repo, rel), content) }
	}
	remove := func(rel string) func(string, *Inputs) {
		return func(repo string, _ *Inputs) {
			if err := os.Remove(filepath.Join(repo, rel)); err != nil {
				t.Fatal(err)
			}
		}
	}
	chmod := func(rel string, mode os.FileMode) func(string, *Inputs) {
		return func(repo string, _ *Inputs) {
			if err := os.Chmod(filepath.Join(repo, rel), mode); err != nil {
				t.Fatal(err)
			}
		}
	}
	tests := []struct {
		name   string
		change func(repo string, in *Inputs)
		same   bool
	}{
		{"nothing", func(string, *Inputs) {}, true},
		{"touch a file in the image", func(repo string, _ *Inputs) {
			future := time.Now().Add(time.Hour)
			if err := os.Chtimes(filepath.Join(repo, web("app.py")), future, future); err != nil {
				t.Fatal(err)
			}
		}, true},
		{"gitignored .env", write(web(".env"), "JWT_SECRET=other"), true},
		{"gitignored db.sqlite3", write(web("db.sqlite3"), "other"), true},
		{"gitignored test.db", write(web("test.db"), "other"), true},
		{"nested .gitignore", write(web("static/other.map"), "x"), true},
		{"untracked in an ignored directory", write(web("build/new.bin"), "x"), true},
		{"info/exclude", write(web("scratch.txt"), "other"), true},
		{"root .dockerignore", write(web("NOTES.md"), "other"), true},
		{"root .dockerignore, by path", write(web("local_settings.py"), "DEBUG = False\n"), true},
		{"service .dockerignore", write(web("docs/guide.txt"), "other"), true},
		{"lib .dockerignore", write("libs/shared/notes.txt", "other"), true},
		{"dev-only test module", write(web("web/test_views.py"), "changed"), true},
		{"dev-only tests package", write(web("tests/test_more.py"), "new"), true},
		{"dev-only lib test", write("libs/shared/tests/test_util.py", "changed"), true},
		{"dev-only requirements-dev.txt", write(web("requirements-dev.txt"), "-r requirements.txt\n"), true},
		{"dev-only pytest cache", write(web(".pytest_cache/v/x"), "x"), true},
		{"bytecode", write(web("web/__pycache__/views.cpython-311.pyc"), "x"), true},
		{"empty directory", func(repo string, _ *Inputs) { os.MkdirAll(filepath.Join(repo, web("empty")), 0o755) }, true},
		{"umask 0664", chmod(web("app.py"), 0o664), true},
		{"tracked source edit", write(web("app.py"), "print(1)\n"), false},
		{"tracked source deleted", remove(web("web/views.py")), false},
		{"untracked source edit", write(web("new_module.py"), "NEW = 2\n"), false},
		{"new untracked file", write(web("extra.py"), ""), false},
		{"tracked file in an ignored directory", write(web("build/keep.txt"), "changed"), false},
		{"kept .dockerignore exception", write(web("KEEP.md"), "changed"), false},
		{"lib edit", write("libs/shared/util.py", "changed"), false},
		{"executable bit", chmod(web("app.py"), 0o755), false},
		{"symlink", func(repo string, _ *Inputs) {
			if err := os.Symlink("app.py", filepath.Join(repo, web("link.py"))); err != nil {
				t.Fatal(err)
			}
		}, false},
		{"include tests", func(_ string, in *Inputs) { in.Source.Include = []string{"tests"} }, false},
		{"lib import root", func(_ string, in *Inputs) { in.Source.Libs[0].ImportRoot = "" }, false},
		{"lib path", func(_ string, in *Inputs) { in.Source.Libs[0].Path = LibsRoot + "/common" }, false},
		{"dependency spec", func(_ string, in *Inputs) { in.DepSpec = []byte("django==5.1\n") }, false},
		{"base digest", func(_ string, in *Inputs) { in.BaseDigest = "sha256:bbbb" }, false},
		{"argv", func(_ string, in *Inputs) { in.Argv[1] = []string{"serve", "gunicorn", "-w", "2"} }, false},
		{"argv split differently", func(_ string, in *Inputs) { in.Argv[1] = []string{"serve gunicorn"} }, false},
		{"service name", func(_ string, in *Inputs) { in.Service = "web2" }, false},
	}
	origin := contentRepo(t)
	want, err := InputHash(inputs(origin))
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			repo := copyRepo(t, origin) // another directory: paths on the host are no input
			in := inputs(repo)
			tt.change(repo, &in)
			got, err := InputHash(in)
			if err != nil {
				t.Fatal(err)
			}
			if (got == want) != tt.same {
				t.Errorf("after %s: hash %s, unchanged one %s; want same=%v", tt.name, got, want, tt.same)
			}
		})
	}
}

// TestInputHashOutsideGit hashes a plain directory: nothing is gitignored.
func TestInputHashOutsideGit(t *testing.T) {
	dir := t.TempDir()
	copyTree(t, "testdata/hello", dir)
	h1, err := InputHash(Inputs{Service: "hello", Source: Source{Dir: dir}})
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(dir, "debug.log"), []byte("x"), 0o644)
	h2, err := InputHash(Inputs{Service: "hello", Source: Source{Dir: dir}})
	if err != nil {
		t.Fatal(err)
	}
	if h1 == h2 {
		t.Error("a new file outside a git repository did not change the hash")
	}
	if _, err := InputHash(Inputs{Service: "x", Source: Source{Dir: filepath.Join(dir, "missing")}}); err == nil {
		t.Error("hashing a missing directory succeeded")
	}
}

// TestTreeHash: the gates' view of a tree covers tests and .dockerignored files, not gitignored
// ones.
func TestTreeHash(t *testing.T) {
	tests := []struct {
		name   string
		change string // file under services/web
		same   bool
	}{
		{"gitignored", ".env", true},
		{"info/exclude", "scratch.txt", true},
		{"dev-only", "tests/test_app.py", false},
		{"dockerignored", "docs/guide.txt", false},
		{"source", "app.py", false},
	}
	origin := contentRepo(t)
	want, err := TreeHash(filepath.Join(origin, "services", "web"))
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			repo := copyRepo(t, origin)
			gittest.WriteFile(t, filepath.Join(repo, "services", "web", tt.change), "changed")
			got, err := TreeHash(filepath.Join(repo, "services", "web"))
			if err != nil {
				t.Fatal(err)
			}
			if (got == want) != tt.same {
				t.Errorf("after changing %s: same=%v, want %v", tt.change, got == want, tt.same)
			}
		})
	}
}

// TestBuildLeavesSecretsOut builds contentRepo's image and reads every blob of it: no file git
// ignores, no .dockerignored or dev-only file, and no byte of the secret a stage left behind.
func TestBuildLeavesSecretsOut(t *testing.T) {
	repo := contentRepo(t)
	spec := Spec{
		Service: "web", Source: contentSource(repo), Base: testBase(t, pythonImage(t)),
		Cmd: []string{"python", "app.py"}, Port: 8000, Env: map[string]string{"GREETING": "hi"},
	}
	img, err := Build(context.Background(), spec)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range layerEntries(t, lastLayer(t, img)) {
		if e.hdr.Typeflag != tar.TypeDir { // directories are implied
			names = append(names, "/"+e.hdr.Name)
		}
	}
	if !slices.Equal(names, sorted(contentFiles)) {
		t.Errorf("source layer\n got %q\nwant %q", names, sorted(contentFiles))
	}
	for i, blob := range imageBlobs(t, img) {
		if bytes.Contains(blob, []byte(secret)) {
			t.Errorf("blob %d of the image holds the secret", i)
		}
	}
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(cf.Config.Env, "GREETING=hi") || !slices.Contains(cf.Config.Env, "PYTHONPATH=/app/src:/app/libs:/app/site-packages") {
		t.Errorf("config env %q, want GREETING=hi and the package lib's import root /app/libs", cf.Config.Env)
	}
}

// imageBlobs returns the raw config and every layer of img, decompressed.
func imageBlobs(t testing.TB, img v1.Image) [][]byte {
	t.Helper()
	cfg, err := img.RawConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	out := [][]byte{cfg}
	ls, err := img.Layers()
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range ls {
		rc, err := l.Uncompressed()
		if err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(rc)
		rc.Close()
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, b)
	}
	return out
}

// TestGitFilterMatchesGitCLI lists trees of a repository with tricky ignore rules (negations,
// anchored and directory-only patterns, re-inclusion under an ignored directory, nested
// .gitignore files, tracked files that are ignored) and compares with the git CLI's
// `git ls-files -co --exclude-standard`, the judge.
func TestGitFilterMatchesGitCLI(t *testing.T) {
	gittest.Isolate(t, "convoy", "convoy@example.invalid")
	repo := gittest.NewRepo(t, map[string]string{
		".gitignore":     "*.log\n!important.log\n/root-only.txt\nlogs/\n!logs/keep.log\ndata/*\n!data/keep/\n",
		"sub/.gitignore": "!debug.log\n*.tmp\n",
		"sub/main.py":    "",
		"main.py":        "",
	})
	gittest.WriteFile(t, filepath.Join(repo, "sub/forced.tmp"), "tracked although ignored")
	gittest.Git(t, repo, "add", "-f", "sub/forced.tmp")
	gittest.Git(t, repo, "commit", "-q", "-m", "forced")
	for _, p := range []string{"a.log", "important.log", "root-only.txt", "sub/root-only.txt", "logs/x.log",
		"logs/keep.log", "data/x", "data/keep/y", "sub/debug.log", "sub/z.tmp", "sub/deeper/a.log",
		"sub/deeper/b.py", "excluded.txt", "sub/excluded.txt"} {
		gittest.WriteFile(t, filepath.Join(repo, p), "x")
	}
	gittest.WriteFile(t, filepath.Join(repo, ".git/info/exclude"), "excluded.txt\n")
	for _, dir := range []string{".", "sub", "data"} {
		t.Run(dir, func(t *testing.T) {
			abs := filepath.Join(repo, dir)
			g, err := openGit(abs)
			if err != nil {
				t.Fatal(err)
			}
			keep, err := g.filter(abs)
			if err != nil {
				t.Fatal(err)
			}
			files, err := walkTree(abs, keep)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, f := range files {
				got = append(got, f.Rel)
			}
			want := strings.Split(gittest.Git(t, abs, "ls-files", "-co", "--exclude-standard"), "\n")
			if !slices.Equal(sorted(got), sorted(want)) {
				t.Errorf("files of %s\n got %q\ngit %q", dir, sorted(got), sorted(want))
			}
		})
	}
}

// TestSourceFilesFollowsTheIndex: the decoded index convoy keeps is read again whenever the
// index changes: an ignored file stops being listed once untracked, and is listed again once
// added back.
func TestSourceFilesFollowsTheIndex(t *testing.T) {
	repo := contentRepo(t)
	keep := "/app/src/build/keep.txt"
	listed := func() bool {
		t.Helper()
		trees, err := SourceFiles(contentSource(repo))
		if err != nil {
			t.Fatal(err)
		}
		return slices.Contains(imagePaths(trees), keep)
	}
	for _, step := range []struct {
		git  []string
		want bool
	}{
		{nil, true},
		{[]string{"rm", "-q", "--cached", "services/web/build/keep.txt"}, false},
		{[]string{"add", "-f", "services/web/build/keep.txt"}, true},
	} {
		if step.git != nil {
			gittest.Git(t, repo, step.git...)
		}
		if got := listed(); got != step.want {
			t.Errorf("after git %q: %s listed = %v, want %v", step.git, keep, got, step.want)
		}
	}
}
