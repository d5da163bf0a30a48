package images

import (
	"fmt"
	"path"
	"path/filepath"
	"strings"

	"github.com/convoy-ci/convoy/image"
	"github.com/convoy-ci/convoy/pipeline/config"
	"github.com/convoy-ci/convoy/repo"
)

// DirtySuffix marks the tag and the revision labels of an image built from a worktree whose
// changes reach the image: <short-sha>-dirty, never the clean commit's tag.
const DirtySuffix = "-dirty"

// changes reads the repository's uncommitted changes and its worktree root. They are read at
// each call, not once per run: a gate may leave an untracked file that goes into the image.
func changes(dir string) ([]repo.Change, string, error) {
	r, err := repo.Open(dir)
	if err != nil {
		return nil, "", err
	}
	cs, err := r.Changes()
	if err != nil {
		return nil, "", fmt.Errorf("reading the worktree status of %q: %w", dir, err)
	}
	return cs, r.Root(), nil
}

// gitOf is what svc's image says about its commit: HEAD's GitInfo, with DirtySuffix on its
// tag, revision and version when an uncommitted change reaches the image (see dirty).
func (b *Builder) gitOf(svc *config.Service) (image.GitInfo, error) {
	dirty, err := b.dirty(svc)
	if err != nil || !dirty {
		return b.git, err
	}
	g := b.git
	g.Short += DirtySuffix
	g.Revision += DirtySuffix
	g.Version += DirtySuffix
	return g, nil
}

// dirty reports whether an uncommitted change (staged, unstaged or untracked and not ignored)
// reaches svc's image: a file of its source layer, or — erring on the dirty side — a deleted
// path or a .dockerignore in the service's or a lib's directory, or the root's .dockerignore.
// Changes elsewhere (another service, the service's tests) leave its image clean.
func (b *Builder) dirty(svc *config.Service) (bool, error) {
	cs, root, err := changes(b.cfg.Root)
	if err != nil || len(cs) == 0 {
		return false, err
	}
	trees, err := image.SourceFiles(b.Source(svc))
	if err != nil {
		return false, err
	}
	inImage := map[string]bool{}
	dirs := []string{filepath.Clean(b.cfg.Root) + "/.dockerignore"}
	for _, t := range trees {
		dirs = append(dirs, filepath.Clean(t.Dir))
		for _, f := range t.Files {
			inImage[filepath.Clean(f.Abs)] = true
		}
	}
	for _, c := range cs {
		abs := filepath.Join(root, filepath.FromSlash(c.Path))
		if inImage[abs] {
			return true, nil
		}
		deleted := c.Staging == repo.Deleted || c.Worktree == repo.Deleted
		if (deleted || path.Base(c.Path) == ".dockerignore") && under(abs, dirs) {
			return true, nil
		}
	}
	return false, nil
}

// under reports whether p is one of dirs or inside one of them.
func under(p string, dirs []string) bool {
	for _, d := range dirs {
		if p == d || strings.HasPrefix(p, d+string(filepath.Separator)) {
			return true
		}
	}
	return false
}
