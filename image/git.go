package image

import (
	"fmt"
	"net/url"
	"os"
	"sort"
	"strconv"
	"time"

	git "github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing"
)

// GitInfo is what an image's org.opencontainers.image.* labels say about the
// commit it was built from.
type GitInfo struct {
	// Source is the origin remote's URL without credentials; "" when there is no origin.
	Source string
	// Revision is HEAD's full commit hash.
	Revision string
	// Short is the first 12 hex digits of Revision: the tag images are stored under.
	Short string
	// Version is the tag pointing at HEAD (the greatest by name if several),
	// else Short.
	Version string
	// Created is SOURCE_DATE_EPOCH when set, else HEAD's committer time, in UTC.
	// It is the creation time and the file time of the image's source layer.
	Created time.Time
}

// RepoInfo reads GitInfo from the git repository containing dir.
func RepoInfo(dir string) (GitInfo, error) {
	// EnableDotGitCommonDir: linked worktrees (git worktree add) keep their refs in the main
	// repository's .git.
	repo, err := git.PlainOpenWithOptions(dir, &git.PlainOpenOptions{DetectDotGit: true, EnableDotGitCommonDir: true})
	if err != nil {
		return GitInfo{}, fmt.Errorf("opening git repository at %q: %w", dir, err)
	}
	head, err := repo.Head()
	if err != nil {
		return GitInfo{}, fmt.Errorf("reading HEAD of %q: %w", dir, err)
	}
	commit, err := repo.CommitObject(head.Hash())
	if err != nil {
		return GitInfo{}, fmt.Errorf("reading HEAD commit of %q: %w", dir, err)
	}
	info := GitInfo{Revision: head.Hash().String()}
	info.Short = info.Revision[:12]
	info.Version = info.Short
	info.Created, err = SourceDateEpoch(commit.Committer.When)
	if err != nil {
		return GitInfo{}, err
	}
	if origin, err := repo.Remote("origin"); err == nil && len(origin.Config().URLs) > 0 {
		info.Source = withoutCredentials(origin.Config().URLs[0])
	}
	tags, err := repo.Tags()
	if err != nil {
		return GitInfo{}, fmt.Errorf("listing tags of %q: %w", dir, err)
	}
	var found []string
	_ = tags.ForEach(func(ref *plumbing.Reference) error {
		target := ref.Hash()
		if tag, err := repo.TagObject(target); err == nil { // annotated
			target = tag.Target
		}
		if target == head.Hash() {
			found = append(found, ref.Name().Short())
		}
		return nil
	})
	if len(found) > 0 {
		sort.Strings(found)
		info.Version = found[len(found)-1]
	}
	return info, nil
}

// SourceDateEpoch returns the time in $SOURCE_DATE_EPOCH (seconds since the
// Unix epoch) when it is set, else fallback, in UTC and whole seconds.
func SourceDateEpoch(fallback time.Time) (time.Time, error) {
	v, ok := os.LookupEnv("SOURCE_DATE_EPOCH")
	if !ok || v == "" {
		return fallback.UTC().Truncate(time.Second), nil
	}
	s, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		return time.Time{}, fmt.Errorf("parsing SOURCE_DATE_EPOCH=%q: %w", v, err)
	}
	return time.Unix(s, 0).UTC(), nil
}

func withoutCredentials(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.User == nil || u.Scheme == "" {
		return raw
	}
	u.User = nil
	return u.String()
}
