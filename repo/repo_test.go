package repo

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestHeadAndOrigin(t *testing.T) {
	isolateGit(t)
	dir := newGitRepo(t, map[string]string{"services/auth/app.py": "x\n"})
	git(t, dir, "remote", "add", "origin", "https://git.example.com/convoy/monorepo.git")
	r := openRepo(t, filepath.Join(dir, "services", "auth")) // found from a subdirectory

	if r.Root() != dir {
		t.Errorf("Root() = %q, want %q", r.Root(), dir)
	}
	h, err := r.HeadHash()
	if err != nil {
		t.Fatal(err)
	}
	if want := git(t, dir, "rev-parse", "HEAD"); h != want {
		t.Errorf("HeadHash() = %q, git rev-parse HEAD = %q", h, want)
	}
	short, err := r.ShortHash()
	if err != nil {
		t.Fatal(err)
	}
	if want := git(t, dir, "rev-parse", "--short=12", "HEAD"); short != want {
		t.Errorf("ShortHash() = %q, want %q", short, want)
	}
	when, err := r.HeadTime()
	if err != nil {
		t.Fatal(err)
	}
	if want := git(t, dir, "log", "-1", "--format=%ct"); strconv.FormatInt(when.Unix(), 10) != want {
		t.Errorf("HeadTime() = %d, git says %s", when.Unix(), want)
	}
	if b, err := r.Branch(); err != nil || b != "main" {
		t.Errorf("Branch() = %q, %v; want main", b, err)
	}
	u, err := r.OriginURL()
	if err != nil || u != "https://git.example.com/convoy/monorepo.git" {
		t.Errorf("OriginURL() = %q, %v", u, err)
	}
	got, err := r.ReadFile(h, "services/auth/app.py")
	if err != nil || string(got) != "x\n" {
		t.Errorf("ReadFile = %q, %v", got, err)
	}
	if _, err := r.ReadFile(h, "nope.txt"); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("ReadFile(missing) error = %v, want os.ErrNotExist", err)
	}

	git(t, dir, "remote", "remove", "origin")
	if u, err := openRepo(t, dir).OriginURL(); err != nil || u != "" {
		t.Errorf("OriginURL() without origin = %q, %v; want empty, nil", u, err)
	}
	git(t, dir, "checkout", "-q", "--detach")
	if b, err := openRepo(t, dir).Branch(); err != nil || b != "" {
		t.Errorf("Branch() detached = %q, %v; want empty", b, err)
	}
}

func TestOpenErrors(t *testing.T) {
	isolateGit(t)
	if _, err := Open(t.TempDir()); err == nil || !strings.Contains(err.Error(), "opening repository") {
		t.Errorf("Open(not a repo) error = %v", err)
	}
	dir := t.TempDir()
	git(t, dir, "init", "-q")
	r := openRepo(t, dir)
	if _, err := r.HeadHash(); !errors.Is(err, ErrNoCommits) {
		t.Errorf("HeadHash() in empty repo error = %v, want ErrNoCommits", err)
	}
	if tags, err := r.TagsAtHead(); err != nil || len(tags) != 0 {
		t.Errorf("TagsAtHead() in empty repo = %v, %v", tags, err)
	}
}

func TestCommitFiles(t *testing.T) {
	isolateGit(t)
	dir := newGitRepo(t, map[string]string{
		"services/auth/requirements.lock": "django==4.2.10\n",
		"services/pay/Pipfile.lock":       "{}\n",
		"releases/.keep":                  "",
		"README.md":                       "readme\n",
	})
	before := git(t, dir, "rev-parse", "HEAD")
	// Something unrelated is staged and must stay staged and uncommitted.
	writeFile(t, filepath.Join(dir, "unrelated.txt"), "wip\n")
	git(t, dir, "add", "unrelated.txt")
	// The changes to commit: a modification, a new file in a new directory, a deletion.
	writeFile(t, filepath.Join(dir, "services/auth/requirements.lock"), "django==4.2.11\n")
	writeFile(t, filepath.Join(dir, "releases/v1.4.0.json"), "{}\n")
	if err := os.Remove(filepath.Join(dir, "services/pay/Pipfile.lock")); err != nil {
		t.Fatal(err)
	}

	r := openRepo(t, dir)
	msg := "release v1.4.0: freeze dependencies\n\nauth: django 4.2.10 -> 4.2.11\n"
	h, err := r.CommitFiles([]string{"services/auth/requirements.lock", "releases/v1.4.0.json", "services/pay/Pipfile.lock"}, msg, nil)
	if err != nil {
		t.Fatalf("CommitFiles: %v", err)
	}
	if want := git(t, dir, "rev-parse", "HEAD"); h != want {
		t.Errorf("CommitFiles returned %s, HEAD is %s", h, want)
	}
	if p := git(t, dir, "rev-parse", "HEAD^"); p != before {
		t.Errorf("parent = %s, want %s", p, before)
	}
	if b := git(t, dir, "symbolic-ref", "--short", "HEAD"); b != "main" {
		t.Errorf("HEAD is on %q, want main", b)
	}
	nameStatus := git(t, dir, "show", "--no-renames", "--name-status", "--format=", "HEAD")
	want := "A\treleases/v1.4.0.json\nM\tservices/auth/requirements.lock\nD\tservices/pay/Pipfile.lock"
	if nameStatus != want {
		t.Errorf("git show --name-status:\n%s\nwant:\n%s", nameStatus, want)
	}
	if got := git(t, dir, "log", "-1", "--format=%an <%ae>|%cn <%ce>|%B"); got != "Test User <test@example.com>|Test User <test@example.com>|"+strings.TrimRight(msg, "\n") {
		t.Errorf("git log: %q", got)
	}
	if got := git(t, dir, "show", "HEAD:services/auth/requirements.lock"); got != "django==4.2.11" {
		t.Errorf("committed content = %q", got)
	}
	if st := git(t, dir, "status", "--porcelain"); st != "A  unrelated.txt" {
		t.Errorf("git status after commit = %q, want only the unrelated staged file", st)
	}
	git(t, dir, "fsck", "--strict", "--no-progress")

	// The same paths again: nothing to commit, HEAD unchanged.
	if _, err := r.CommitFiles([]string{"services/auth/requirements.lock"}, "again", nil); !errors.Is(err, ErrNothingToCommit) {
		t.Errorf("second CommitFiles error = %v, want ErrNothingToCommit", err)
	}
	if now := git(t, dir, "rev-parse", "HEAD"); now != h {
		t.Errorf("HEAD moved to %s after a no-op commit", now)
	}
}

func TestCommitFilesIdentityAndDetachedHead(t *testing.T) {
	isolateGit(t)
	dir := newGitRepo(t, map[string]string{"a.txt": "1\n"})
	git(t, dir, "checkout", "-q", "--detach")
	branchBefore := git(t, dir, "rev-parse", "main")
	writeFile(t, filepath.Join(dir, "a.txt"), "2\n")
	when := time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)
	h, err := openRepo(t, dir).CommitFiles([]string{"a.txt"}, "explicit author", &Signature{Name: "Release Bot", Email: "bot@example.com", When: when})
	if err != nil {
		t.Fatal(err)
	}
	if got := git(t, dir, "rev-parse", "HEAD"); got != h {
		t.Errorf("detached HEAD = %s, want %s", got, h)
	}
	if got := git(t, dir, "rev-parse", "main"); got != branchBefore {
		t.Errorf("branch main moved to %s", got)
	}
	if got := git(t, dir, "log", "-1", "--format=%an <%ae> %at|%cn %ct"); got != "Release Bot <bot@example.com> 1714564800|Test User 1714564800" {
		t.Errorf("git log = %q", got)
	}

	// Environment identity wins over config; no identity at all → the default.
	t.Setenv("GIT_AUTHOR_NAME", "Env Author")
	t.Setenv("GIT_AUTHOR_EMAIL", "env@example.com")
	if id := openRepo(t, dir).Identity("AUTHOR"); id.Name != "Env Author" || id.Email != "env@example.com" {
		t.Errorf("Identity(AUTHOR) = %+v", id)
	}
	os.Remove(filepath.Join(os.Getenv("HOME"), ".gitconfig"))
	if id := openRepo(t, dir).Identity("COMMITTER"); id.Name != DefaultSignature.Name || id.Email != DefaultSignature.Email {
		t.Errorf("Identity(COMMITTER) without config = %+v, want the default", id)
	}
}

func TestCommitFilesInitialCommit(t *testing.T) {
	isolateGit(t)
	dir := t.TempDir()
	git(t, dir, "init", "-q")
	writeFile(t, filepath.Join(dir, "x/y.txt"), "y\n")
	writeFile(t, filepath.Join(dir, "z.txt"), "z\n")
	h, err := openRepo(t, dir).CommitFiles([]string{"x/y.txt"}, "first", nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := git(t, dir, "ls-tree", "-r", "--name-only", h); got != "x/y.txt" {
		t.Errorf("tree = %q", got)
	}
	if st := git(t, dir, "status", "--porcelain"); st != "?? z.txt" {
		t.Errorf("status = %q", st)
	}
}

func TestCommitFilesRejectsBadPaths(t *testing.T) {
	isolateGit(t)
	dir := newGitRepo(t, map[string]string{"a.txt": "1\n"})
	r := openRepo(t, dir)
	for _, p := range []string{"", "/etc/passwd", "../x", ".git/config", "a/../../x"} {
		if _, err := r.CommitFiles([]string{p}, "m", nil); err == nil {
			t.Errorf("CommitFiles(%q) succeeded", p)
		}
	}
	if _, err := r.CommitFiles(nil, "m", nil); !errors.Is(err, ErrNothingToCommit) {
		t.Errorf("CommitFiles(nil) = %v", err)
	}
}

func TestTags(t *testing.T) {
	isolateGit(t)
	dir := newGitRepo(t, map[string]string{"a.txt": "1\n"})
	first := git(t, dir, "rev-parse", "HEAD")
	git(t, dir, "tag", "light")
	git(t, dir, "tag", "-a", "-m", "annotated by git", "v1.0.0")
	git(t, dir, "tag", "-a", "-m", "tag of a tag", "nested", "v1.0.0")
	writeFile(t, filepath.Join(dir, "a.txt"), "2\n")
	git(t, dir, "commit", "-qam", "second")
	second := git(t, dir, "rev-parse", "HEAD")
	git(t, dir, "tag", "head-light")

	r := openRepo(t, dir)
	tests := []struct {
		tag       string
		commit    string
		annotated bool
		message   string
	}{
		{"light", first, false, ""},
		{"v1.0.0", first, true, "annotated by git\n"},
		{"nested", first, true, "tag of a tag\n"},
		{"head-light", second, false, ""},
	}
	for _, tt := range tests {
		got, err := r.LookupTag(tt.tag)
		if err != nil {
			t.Errorf("LookupTag(%q): %v", tt.tag, err)
			continue
		}
		if got.Commit != tt.commit || got.Annotated != tt.annotated || got.Message != tt.message {
			t.Errorf("LookupTag(%q) = %+v", tt.tag, got)
		}
		if c, err := r.TagCommit(tt.tag); err != nil || c != tt.commit {
			t.Errorf("TagCommit(%q) = %q, %v", tt.tag, c, err)
		}
	}
	if _, err := r.TagCommit("v9.9.9"); !errors.Is(err, ErrTagNotFound) {
		t.Errorf("TagCommit(missing) error = %v", err)
	}
	if got, err := r.TagsAtHead(); err != nil || strings.Join(got, ",") != "head-light" {
		t.Errorf("TagsAtHead() = %v, %v", got, err)
	}

	created, err := r.CreateAnnotatedTag("v1.4.0", second, "convoy release v1.4.0", nil)
	if err != nil {
		t.Fatalf("CreateAnnotatedTag: %v", err)
	}
	if ty := git(t, dir, "cat-file", "-t", "v1.4.0"); ty != "tag" {
		t.Errorf("git cat-file -t v1.4.0 = %q, want tag", ty)
	}
	if c := git(t, dir, "rev-parse", "v1.4.0^{commit}"); c != second || created.Commit != second {
		t.Errorf("v1.4.0 -> %s (returned %s), want %s", c, created.Commit, second)
	}
	if o := git(t, dir, "rev-parse", "v1.4.0"); o != created.Object {
		t.Errorf("tag object %s, returned %s", o, created.Object)
	}
	if got := git(t, dir, "for-each-ref", "--format=%(taggername) %(taggeremail)|%(contents)", "refs/tags/v1.4.0"); got != "Test User <test@example.com>|convoy release v1.4.0" {
		t.Errorf("tag metadata = %q", got)
	}
	if got, _ := r.TagsAtHead(); strings.Join(got, ",") != "head-light,v1.4.0" {
		t.Errorf("TagsAtHead() after create = %v", got)
	}
	if _, err := r.CreateAnnotatedTag("v1.4.0", first, "again", nil); !errors.Is(err, ErrTagExists) {
		t.Errorf("CreateAnnotatedTag(existing) error = %v, want ErrTagExists", err)
	}
	if err := r.DeleteTag("v1.4.0"); err != nil {
		t.Fatal(err)
	}
	if out := git(t, dir, "tag", "-l", "v1.4.0"); out != "" {
		t.Errorf("tag still listed after DeleteTag: %q", out)
	}
	if _, err := r.CreateAnnotatedTag("bad..name", second, "m", nil); err == nil {
		t.Error("CreateAnnotatedTag(bad..name) succeeded")
	}
}

func TestValidTagName(t *testing.T) {
	tests := []struct {
		name string
		ok   bool
	}{
		{"v1.4.0", true},
		{"release-2024.05.01", true},
		{"v1.4.0-rc.1", true},
		{"", false},
		{"v1..4", false},
		{"v1.4.0.lock", false},
		{"-v1", false},
		{".v1", false},
		{"v1.", false},
		{"v 1", false},
		{"v1~1", false},
		{"v1^", false},
		{"v1:2", false},
		{"v1?", false},
		{"v1*", false},
		{"v1[", false},
		{"v1\\2", false},
		{"a@{b", false},
		{"@", false},
		{"a/b", false},
	}
	for _, tt := range tests {
		if err := ValidTagName(tt.name); (err == nil) != tt.ok {
			t.Errorf("ValidTagName(%q) = %v, want ok=%v", tt.name, err, tt.ok)
		}
	}
}

func TestPushTag(t *testing.T) {
	isolateGit(t)
	dir := newGitRepo(t, map[string]string{"a.txt": "1\n"})
	bare := t.TempDir()
	git(t, bare, "init", "-q", "--bare")
	git(t, dir, "remote", "add", "origin", bare)
	r := openRepo(t, dir)
	head, _ := r.HeadHash()
	tag, err := r.CreateAnnotatedTag("v1.4.0", head, "release", nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := r.PushTag(ctx, "origin", "v1.4.0"); err != nil {
		t.Fatalf("PushTag: %v", err)
	}
	if got := git(t, bare, "rev-parse", "v1.4.0"); got != tag.Object {
		t.Errorf("remote tag = %s, want %s", got, tag.Object)
	}
	if got := git(t, bare, "cat-file", "-t", "v1.4.0"); got != "tag" {
		t.Errorf("remote tag type = %s", got)
	}
	if got := git(t, bare, "rev-parse", "v1.4.0^{commit}"); got != head {
		t.Errorf("remote tag commit = %s, want %s", got, head)
	}
	// Idempotent.
	if err := r.PushTag(ctx, "origin", "v1.4.0"); err != nil {
		t.Errorf("second PushTag: %v", err)
	}
	// Moving the tag locally: a plain push is refused, a leased one goes through.
	writeFile(t, filepath.Join(dir, "a.txt"), "2\n")
	git(t, dir, "commit", "-qam", "second")
	second := git(t, dir, "rev-parse", "HEAD")
	if err := r.DeleteTag("v1.4.0"); err != nil {
		t.Fatal(err)
	}
	moved, err := r.CreateAnnotatedTag("v1.4.0", second, "release again", nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := r.PushTag(ctx, "origin", "v1.4.0"); !errors.Is(err, ErrRemoteTagDiffers) {
		t.Errorf("PushTag over a different remote tag without WithReplaceTag: %v, want ErrRemoteTagDiffers", err)
	}
	if c, err := r.PeelToCommit(tag.Object); err != nil || c != head {
		t.Errorf("PeelToCommit(old tag object) = %q, %v; want %s", c, err, head)
	}
	if err := r.PushTag(ctx, "origin", "v1.4.0", WithReplaceTag(strings.Repeat("0", 39)+"1")); err == nil {
		t.Error("PushTag with a wrong lease succeeded")
	}
	if err := r.PushTag(ctx, "origin", "v1.4.0", WithReplaceTag(tag.Object)); err != nil {
		t.Errorf("PushTag with the right lease: %v", err)
	}
	if got := git(t, bare, "rev-parse", "v1.4.0"); got != moved.Object {
		t.Errorf("remote tag after replace = %s, want %s", got, moved.Object)
	}
	// A path that is not a configured remote.
	other := t.TempDir()
	git(t, other, "init", "-q", "--bare")
	if err := r.PushTag(ctx, other, "v1.4.0"); err != nil {
		t.Fatalf("PushTag to a path: %v", err)
	}
	if got := git(t, other, "rev-parse", "v1.4.0^{commit}"); got != second {
		t.Errorf("tag pushed by path -> %s, want %s", got, second)
	}
	if err := r.PushTag(ctx, "origin", "nope"); !errors.Is(err, ErrTagNotFound) {
		t.Errorf("PushTag(missing) = %v", err)
	}
}
