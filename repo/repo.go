// Package repo is convoy's view of the monorepo's git repository: HEAD, the
// worktree's cleanliness, tags, and the few writes a release needs (a commit
// of exactly the given paths, an annotated tag, a tag push). Everything goes
// through go-git; no git binary is needed at run time.
//
// Hashes are exchanged as 40-character lower-case hex strings so that callers
// never need to import go-git.
//
// A Repo is not safe for concurrent use by multiple goroutines when one of
// them writes (CommitFiles, CreateAnnotatedTag, DeleteTag).
package repo

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	gogit "github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/object"
)

// ErrNoCommits is returned when HEAD does not point to a commit yet (a
// freshly initialised repository).
var ErrNoCommits = errors.New("repository has no commits")

// ErrTagNotFound is returned when a tag does not exist.
var ErrTagNotFound = errors.New("tag not found")

// ErrTagExists is returned by CreateAnnotatedTag when the tag already exists.
var ErrTagExists = errors.New("tag already exists")

// ErrNothingToCommit is returned by CommitFiles when the given paths already
// match HEAD, so a commit would be empty.
var ErrNothingToCommit = errors.New("nothing to commit")

// ShortLen is the number of hex digits ShortHash keeps.
const ShortLen = 12

// Repo is an opened git repository with a worktree.
type Repo struct {
	r    *gogit.Repository
	root string // absolute worktree root
}

// Commit describes one commit.
type Commit struct {
	// Hash is the full commit hash.
	Hash string
	// Message is the full commit message.
	Message string
	// Author and Committer are the commit's signatures.
	Author, Committer Signature
	// Time is the committer time (what `git log --format=%cI` shows).
	Time time.Time
	// Parents are the parent hashes, first parent first.
	Parents []string
}

// Signature is a name, an e-mail address and a time, as recorded in commits
// and annotated tags.
type Signature struct {
	Name  string
	Email string
	// When is the signature's time; the zero value means "now".
	When time.Time
}

// Tag describes one tag.
type Tag struct {
	// Name is the short name ("v1.4.0").
	Name string
	// Commit is the hash of the commit the tag resolves to.
	Commit string
	// Annotated reports whether the tag is a tag object (git tag -a) rather
	// than a lightweight reference.
	Annotated bool
	// Object is the hash of the tag object for annotated tags, else "".
	Object string
	// Message is the annotated tag's message, else "".
	Message string
}

// Open opens the repository whose worktree contains dir (dir itself or any
// parent, like git does). Linked worktrees (.git files) are supported.
func Open(dir string) (*Repo, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("opening repository %q: %w", dir, err)
	}
	r, err := gogit.PlainOpenWithOptions(abs, &gogit.PlainOpenOptions{DetectDotGit: true, EnableDotGitCommonDir: true})
	if err != nil {
		return nil, fmt.Errorf("opening repository %q: %w", dir, err)
	}
	wt, err := r.Worktree()
	if err != nil {
		return nil, fmt.Errorf("opening repository %q: %w", dir, err)
	}
	return &Repo{r: r, root: wt.Filesystem.Root()}, nil
}

// Root returns the absolute path of the worktree's top-level directory.
func (r *Repo) Root() string { return r.root }

// HeadCommit returns the commit HEAD points to, or an error wrapping
// ErrNoCommits in an empty repository.
func (r *Repo) HeadCommit() (Commit, error) {
	h, err := r.headHash()
	if err != nil {
		return Commit{}, err
	}
	return r.CommitInfo(h.String())
}

// HeadHash returns HEAD's full commit hash.
func (r *Repo) HeadHash() (string, error) {
	h, err := r.headHash()
	if err != nil {
		return "", err
	}
	return h.String(), nil
}

// ShortHash returns the first ShortLen hex digits of HEAD's commit hash.
func (r *Repo) ShortHash() (string, error) {
	h, err := r.HeadHash()
	if err != nil {
		return "", err
	}
	return h[:ShortLen], nil
}

// HeadTime returns HEAD's committer time.
func (r *Repo) HeadTime() (time.Time, error) {
	c, err := r.HeadCommit()
	if err != nil {
		return time.Time{}, err
	}
	return c.Time, nil
}

// Branch returns the short name of the branch HEAD is on, or "" when HEAD is
// detached (a CI checkout of a tag, for instance).
func (r *Repo) Branch() (string, error) {
	ref, err := r.r.Storer.Reference(plumbing.HEAD)
	if err != nil {
		return "", fmt.Errorf("reading HEAD: %w", err)
	}
	if ref.Type() != plumbing.SymbolicReference {
		return "", nil
	}
	return ref.Target().Short(), nil
}

func (r *Repo) headHash() (plumbing.Hash, error) {
	ref, err := r.r.Head()
	if err != nil {
		if errors.Is(err, plumbing.ErrReferenceNotFound) {
			return plumbing.ZeroHash, fmt.Errorf("resolving HEAD in %q: %w", r.root, ErrNoCommits)
		}
		return plumbing.ZeroHash, fmt.Errorf("resolving HEAD in %q: %w", r.root, err)
	}
	return ref.Hash(), nil
}

// CommitInfo returns the commit with the given hash (a full hash, or
// anything `git rev-parse` would accept that go-git understands, such as a
// branch name or "HEAD~1").
func (r *Repo) CommitInfo(rev string) (Commit, error) {
	h, err := r.r.ResolveRevision(plumbing.Revision(rev))
	if err != nil {
		return Commit{}, fmt.Errorf("resolving revision %q: %w", rev, err)
	}
	c, err := r.r.CommitObject(*h)
	if err != nil {
		return Commit{}, fmt.Errorf("reading commit %q: %w", rev, err)
	}
	return toCommit(c), nil
}

func toCommit(c *object.Commit) Commit {
	out := Commit{
		Hash:      c.Hash.String(),
		Message:   c.Message,
		Author:    Signature{Name: c.Author.Name, Email: c.Author.Email, When: c.Author.When},
		Committer: Signature{Name: c.Committer.Name, Email: c.Committer.Email, When: c.Committer.When},
		Time:      c.Committer.When,
	}
	for _, p := range c.ParentHashes {
		out.Parents = append(out.Parents, p.String())
	}
	return out
}

// OriginURL returns the first URL of the "origin" remote, or "" (and no
// error) when there is no such remote.
func (r *Repo) OriginURL() (string, error) {
	rem, err := r.r.Remote("origin")
	if err != nil {
		if errors.Is(err, gogit.ErrRemoteNotFound) {
			return "", nil
		}
		return "", fmt.Errorf("reading remote %q: %w", "origin", err)
	}
	if urls := rem.Config().URLs; len(urls) > 0 {
		return urls[0], nil
	}
	return "", nil
}

// ReadFile returns the content of path (slash-separated, relative to the
// worktree root) in the given commit. A path that does not exist in that
// commit yields an error wrapping os.ErrNotExist.
func (r *Repo) ReadFile(commit, path string) ([]byte, error) {
	h, err := r.r.ResolveRevision(plumbing.Revision(commit))
	if err != nil {
		return nil, fmt.Errorf("resolving revision %q: %w", commit, err)
	}
	c, err := r.r.CommitObject(*h)
	if err != nil {
		return nil, fmt.Errorf("reading commit %q: %w", commit, err)
	}
	f, err := c.File(path)
	if err != nil {
		if errors.Is(err, object.ErrFileNotFound) || errors.Is(err, object.ErrDirectoryNotFound) || errors.Is(err, object.ErrEntryNotFound) {
			return nil, fmt.Errorf("reading %q at %s: %w", path, commit, os.ErrNotExist)
		}
		return nil, fmt.Errorf("reading %q at %s: %w", path, commit, err)
	}
	s, err := f.Contents()
	if err != nil {
		return nil, fmt.Errorf("reading %q at %s: %w", path, commit, err)
	}
	return []byte(s), nil
}

// RelPath converts path (absolute, or relative to the current directory) to
// a slash-separated path relative to the worktree root. Paths outside the
// worktree are an error.
func (r *Repo) RelPath(path string) (string, error) {
	abs := path
	if !filepath.IsAbs(abs) {
		var err error
		if abs, err = filepath.Abs(path); err != nil {
			return "", fmt.Errorf("resolving path %q: %w", path, err)
		}
	}
	rel, err := filepath.Rel(r.root, abs)
	if err != nil || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) || rel == "." {
		return "", fmt.Errorf("path %q is not a file inside the worktree %q", path, r.root)
	}
	return filepath.ToSlash(rel), nil
}

// cleanRel validates a repository-relative slash path.
func cleanRel(p string) (string, error) {
	if p == "" || strings.HasPrefix(p, "/") || strings.Contains(p, "\\") {
		return "", fmt.Errorf("invalid repository path %q: must be relative and slash-separated", p)
	}
	c := filepath.ToSlash(filepath.Clean(filepath.FromSlash(p)))
	if c == "." || c == ".." || strings.HasPrefix(c, "../") {
		return "", fmt.Errorf("invalid repository path %q: outside the worktree", p)
	}
	if c == ".git" || strings.HasPrefix(c, ".git/") {
		return "", fmt.Errorf("invalid repository path %q: inside .git", p)
	}
	return c, nil
}

// tagNameRE rejects what git check-ref-format rejects in a single component
// name, plus slashes (convoy release tags are one component).
var tagNameBad = regexp.MustCompile(`[\x00-\x20\x7f~^:?*\[\\]|\.\.|@\{|^[.-]|\.$|\.lock$|^@$|/`)

// ValidTagName reports whether name is a well-formed single-component tag
// name by git's rules (git check-ref-format), e.g. "v1.4.0".
func ValidTagName(name string) error {
	if name == "" {
		return fmt.Errorf("invalid tag name %q: empty", name)
	}
	if tagNameBad.MatchString(name) {
		return fmt.Errorf("invalid tag name %q: not a valid git ref component", name)
	}
	if err := plumbing.NewTagReferenceName(name).Validate(); err != nil {
		return fmt.Errorf("invalid tag name %q: %w", name, err)
	}
	return nil
}
