package image

import (
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestRepoInfo(t *testing.T) {
	origin := monorepo(t)
	run(t, origin, "git", "remote", "add", "origin", "https://bot:s3cret@git.example.invalid/convoy/mono.git")
	rev := run(t, origin, "git", "rev-parse", "HEAD")

	tests := []struct {
		name    string
		setup   func()
		epoch   string
		version string
		created time.Time
	}{
		{"commit time", func() {}, "", rev[:12], time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)},
		{"SOURCE_DATE_EPOCH", func() {}, "1700000000", rev[:12], time.Unix(1700000000, 0).UTC()},
		{"tagged", func() { run(t, origin, "git", "tag", "-a", "-m", "v", "v1.2.0") }, "", "v1.2.0", time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.setup()
			t.Setenv("SOURCE_DATE_EPOCH", tt.epoch)
			info, err := RepoInfo(origin + "/services/hello")
			if err != nil {
				t.Fatal(err)
			}
			want := GitInfo{
				Source:   "https://git.example.invalid/convoy/mono.git",
				Revision: rev, Short: rev[:12], Version: tt.version, Created: tt.created,
			}
			if info != want {
				t.Errorf("RepoInfo = %+v\nwant %+v", info, want)
			}
		})
	}

	t.Setenv("SOURCE_DATE_EPOCH", "yesterday")
	if _, err := RepoInfo(origin); err == nil || !strings.Contains(err.Error(), `SOURCE_DATE_EPOCH="yesterday"`) {
		t.Errorf("bad SOURCE_DATE_EPOCH: %v", err)
	}
	if _, err := RepoInfo(t.TempDir()); err == nil || !strings.Contains(err.Error(), "opening git repository") {
		t.Errorf("RepoInfo outside a repository: %v", err)
	}
}

// TestRepoInfoWorktree: a linked worktree (git worktree add) reads its HEAD through the main
// repository's .git, as the git CLI does.
func TestRepoInfoWorktree(t *testing.T) {
	main := monorepo(t)
	wt := filepath.Join(t.TempDir(), "wt")
	run(t, main, "git", "worktree", "add", "-q", "--detach", wt)
	info, err := RepoInfo(wt)
	if err != nil {
		t.Fatalf("RepoInfo in a worktree: %v", err)
	}
	if want := run(t, wt, "git", "rev-parse", "HEAD"); info.Revision != want {
		t.Errorf("Revision = %s, git says %s", info.Revision, want)
	}
}
