package repo

import (
	"errors"
	"fmt"
	"sort"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/object"
)

// ErrUnknownRevision is matched (errors.Is) by ChangedSince's error for a revision the
// repository does not have.
var ErrUnknownRevision = errors.New("unknown revision")

// ChangedSince returns the sorted paths (slash-separated, relative to the worktree root) whose
// content differs between the tree of commit rev (anything CommitInfo accepts: a hash, a
// branch, a tag, HEAD~1) and the worktree: what changed in the commits from rev to HEAD
// (added, modified, deleted, both sides of a rename), and what is uncommitted (Changes: staged,
// unstaged, deleted, and untracked files that are not ignored). A path changed by a commit and
// changed back in the worktree is still reported: the comparison errs on the changed side.
func (r *Repo) ChangedSince(rev string) ([]string, error) {
	from, err := r.treeOf(rev)
	if err != nil {
		return nil, err
	}
	head, err := r.treeOf("HEAD")
	if err != nil {
		return nil, err
	}
	diff, err := object.DiffTree(from, head)
	if err != nil {
		return nil, fmt.Errorf("comparing %q with HEAD in %q: %w", rev, r.root, err)
	}
	seen := map[string]bool{}
	for _, c := range diff {
		for _, p := range []string{c.From.Name, c.To.Name} {
			if p != "" {
				seen[p] = true
			}
		}
	}
	cs, err := r.Changes()
	if err != nil {
		return nil, fmt.Errorf("reading the worktree status of %q: %w", r.root, err)
	}
	for _, c := range cs {
		seen[c.Path] = true
	}
	out := make([]string, 0, len(seen))
	for p := range seen {
		out = append(out, p)
	}
	sort.Strings(out)
	return out, nil
}

// treeOf is the tree of the commit rev names; an unknown rev is ErrUnknownRevision.
func (r *Repo) treeOf(rev string) (*object.Tree, error) {
	h, err := r.r.ResolveRevision(plumbing.Revision(rev))
	if err != nil {
		return nil, fmt.Errorf("resolving %q in %q: %w (%v)", rev, r.root, ErrUnknownRevision, err)
	}
	c, err := r.r.CommitObject(*h)
	if err != nil {
		return nil, fmt.Errorf("reading commit %q in %q: %w", rev, r.root, err)
	}
	t, err := c.Tree()
	if err != nil {
		return nil, fmt.Errorf("reading the tree of %q in %q: %w", rev, r.root, err)
	}
	return t, nil
}
