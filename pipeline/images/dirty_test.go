package images

import (
	"context"
	"io"
	"path/filepath"
	"strings"
	"testing"

	"github.com/convoy-ci/convoy/internal/gittest"
)

// TestDirtyTag: an image built from a clean worktree is tagged with the commit and labelled
// with its revision; a change that reaches the image (the service's code, a lib, a staged
// change, a new untracked file) makes it <sha>-dirty with a -dirty revision, and never moves
// the clean tag; a change that does not (a test, another directory) keeps it clean.
func TestDirtyTag(t *testing.T) {
	f := newFixture(t, baseLayout(t))
	b := f.builder(t)
	svc := f.cfg.Service("web")
	head := gittest.Git(t, f.root, "rev-parse", "HEAD")
	clean, dirty := "web:"+head[:12], "web:"+head[:12]+DirtySuffix
	build := func(t *testing.T) (tag, revision, digest string) {
		t.Helper()
		ctx := context.Background()
		hash, err := b.InputHash(ctx, svc)
		if err != nil {
			t.Fatal(err)
		}
		ref, err := b.Build(ctx, svc, hash, nil, io.Discard)
		if err != nil {
			t.Fatal(err)
		}
		img, err := b.Store().Image(ref.Digest)
		if err != nil {
			t.Fatal(err)
		}
		cf, err := img.ConfigFile()
		if err != nil {
			t.Fatal(err)
		}
		entries, err := b.Store().List()
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range entries {
			if e.Digest.String() == ref.Digest {
				tag = strings.Join(e.Tags, ",")
			}
		}
		return tag, cf.Config.Labels["org.opencontainers.image.revision"], ref.Digest
	}
	write := func(rel, content string) { gittest.WriteFile(t, filepath.Join(f.root, rel), content) }
	restore := func() {
		gittest.Git(t, f.root, "reset", "-q", "--hard")
		gittest.Git(t, f.root, "clean", "-qfd", "services", "libs")
	}

	tag, rev, cleanDigest := build(t)
	if tag != clean || rev != head {
		t.Fatalf("clean build: tag %q revision %q, want %q and %q", tag, rev, clean, head)
	}
	for _, tc := range []struct {
		name   string
		change func()
		dirty  bool
	}{
		{"service code modified", func() { write("services/web/app.py", "VALUE = 2\n") }, true},
		{"lib modified", func() { write("libs/shared/util.py", "VALUE = 11\n") }, true},
		{"change staged", func() {
			write("services/web/app.py", "VALUE = 3\n")
			gittest.Git(t, f.root, "add", "services/web/app.py")
		}, true},
		{"untracked file in the image", func() { write("services/web/extra.py", "X = 1\n") }, true},
		{"file of the image deleted", func() { gittest.Git(t, f.root, "rm", "-q", "services/web/requirements.txt") }, true},
		{"test modified", func() { write("services/web/tests/test_app.py", "def test(): assert 1\n") }, false},
		{"ignored file", func() { write("services/web/db.sqlite3", "x") }, false},
		{"outside the service", func() { write("top_level.py", "X = 2\n") }, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			defer restore()
			tc.change()
			tag, rev, digest := build(t)
			switch {
			case tc.dirty && (tag != dirty || rev != head+DirtySuffix):
				t.Errorf("tag %q revision %q, want %q and %q", tag, rev, dirty, head+DirtySuffix)
			case !tc.dirty && (tag != clean || rev != head):
				t.Errorf("tag %q revision %q, want %q and %q", tag, rev, clean, head)
			}
			if img, err := b.Store().Image(clean); err != nil {
				t.Fatal(err)
			} else if d, _ := img.Digest(); tc.dirty && (d.String() != cleanDigest || digest == cleanDigest) {
				t.Errorf("the clean tag %s moved to %s (dirty build %s)", clean, d, digest)
			}
		})
	}
}
