package repo

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"time"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/filemode"
	"github.com/go-git/go-git/v5/plumbing/format/index"
	"github.com/go-git/go-git/v5/plumbing/object"
)

// DefaultSignature is the identity used when neither the environment
// (GIT_AUTHOR_NAME/GIT_AUTHOR_EMAIL, GIT_COMMITTER_*) nor git config
// (user.name/user.email at any scope) provides one.
var DefaultSignature = Signature{Name: "convoy", Email: "convoy@localhost"}

// Identity returns the signature git would use for a commit in this
// repository: GIT_<role>_NAME/GIT_<role>_EMAIL (role is "AUTHOR" or
// "COMMITTER"), then user.name/user.email from the local, global and system
// config, then DefaultSignature; When is the current time.
func (r *Repo) Identity(role string) Signature {
	s := Signature{When: time.Now()}
	s.Name = os.Getenv("GIT_" + role + "_NAME")
	s.Email = os.Getenv("GIT_" + role + "_EMAIL")
	if s.Name == "" {
		s.Name = r.configValue("user", "name")
	}
	if s.Email == "" {
		s.Email = r.configValue("user", "email")
	}
	if s.Name == "" {
		s.Name = DefaultSignature.Name
	}
	if s.Email == "" {
		s.Email = DefaultSignature.Email
	}
	return s
}

func (r *Repo) signature(s *Signature, role string) object.Signature {
	if s == nil || s.Name == "" || s.Email == "" {
		id := r.Identity(role)
		if s != nil && !s.When.IsZero() {
			id.When = s.When
		}
		return object.Signature{Name: id.Name, Email: id.Email, When: id.When}
	}
	when := s.When
	if when.IsZero() {
		when = time.Now()
	}
	return object.Signature{Name: s.Name, Email: s.Email, When: when}
}

// CommitFiles records the worktree content of exactly the given paths
// (slash-separated, relative to the worktree root; a path missing from the
// worktree is recorded as deleted) in a new commit on top of HEAD and
// returns its hash. Nothing else that may be staged is included, and it stays
// staged. HEAD's branch — or HEAD itself when detached — is moved with a
// compare-and-swap, so a concurrent commit makes this fail instead of being
// lost. The index entries of the paths are updated so the worktree reads as
// clean afterwards.
//
// A nil author means Identity("AUTHOR"); the committer is always
// Identity("COMMITTER") with the author's time. When the paths already match
// HEAD, the result is ErrNothingToCommit and nothing is written.
func (r *Repo) CommitFiles(paths []string, message string, author *Signature) (string, error) {
	if len(paths) == 0 {
		return "", fmt.Errorf("committing: %w: no paths given", ErrNothingToCommit)
	}
	headRef, err := r.r.Storer.Reference(plumbing.HEAD)
	if err != nil {
		return "", fmt.Errorf("reading HEAD: %w", err)
	}
	var parent *object.Commit
	if h, err := r.headHash(); err == nil {
		if parent, err = r.r.CommitObject(h); err != nil {
			return "", fmt.Errorf("reading HEAD commit %s: %w", h, err)
		}
	} else if !errors.Is(err, ErrNoCommits) {
		return "", err
	}

	fileMode := !strings.EqualFold(r.configValue("core", "filemode"), "false")
	idx, err := r.r.Storer.Index()
	if err != nil {
		return "", fmt.Errorf("reading index of %q: %w", r.root, err)
	}

	// Write the blobs and collect the edits.
	edits := map[string]*object.TreeEntry{} // nil entry = delete
	stats := map[string]fs.FileInfo{}
	for _, p := range paths {
		rel, err := cleanRel(p)
		if err != nil {
			return "", fmt.Errorf("committing: %w", err)
		}
		abs := filepath.Join(r.root, filepath.FromSlash(rel))
		st, err := os.Lstat(abs)
		if errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENOTDIR) {
			edits[rel] = nil
			continue
		}
		if err != nil {
			return "", fmt.Errorf("committing %q: %w", rel, err)
		}
		var content []byte
		var mode filemode.FileMode
		switch {
		case st.Mode()&fs.ModeSymlink != 0:
			t, err := os.Readlink(abs)
			if err != nil {
				return "", fmt.Errorf("committing %q: %w", rel, err)
			}
			content, mode = []byte(filepath.ToSlash(t)), filemode.Symlink
		case st.Mode().IsRegular():
			if content, err = os.ReadFile(abs); err != nil {
				return "", fmt.Errorf("committing %q: %w", rel, err)
			}
			mode = filemode.Regular
			if fileMode && st.Mode()&0o111 != 0 {
				mode = filemode.Executable
			}
			if e, err := idx.Entry(rel); !fileMode && err == nil && e.Mode == filemode.Executable {
				mode = filemode.Executable
			}
		default:
			return "", fmt.Errorf("committing %q: not a regular file or symlink", rel)
		}
		h, err := r.writeBlob(content)
		if err != nil {
			return "", fmt.Errorf("committing %q: writing blob: %w", rel, err)
		}
		edits[rel] = &object.TreeEntry{Name: rel, Mode: mode, Hash: h}
		stats[rel] = st
	}

	var parentTree plumbing.Hash
	if parent != nil {
		parentTree = parent.TreeHash
	}
	tree, err := r.editTree(parentTree, "", edits)
	if err != nil {
		return "", fmt.Errorf("committing: building tree: %w", err)
	}
	if parent != nil && tree == parent.TreeHash {
		return "", fmt.Errorf("committing %s: %w", strings.Join(paths, ", "), ErrNothingToCommit)
	}
	for rel, e := range edits {
		if e == nil && parent == nil {
			return "", fmt.Errorf("committing %q: no such file", rel)
		}
	}

	a := r.signature(author, "AUTHOR")
	c := r.signature(nil, "COMMITTER")
	c.When = a.When
	commit := &object.Commit{
		Author:    a,
		Committer: c,
		Message:   message,
		TreeHash:  tree,
	}
	if parent != nil {
		commit.ParentHashes = []plumbing.Hash{parent.Hash}
	}
	obj := r.r.Storer.NewEncodedObject()
	if err := commit.Encode(obj); err != nil {
		return "", fmt.Errorf("encoding commit: %w", err)
	}
	ch, err := r.r.Storer.SetEncodedObject(obj)
	if err != nil {
		return "", fmt.Errorf("writing commit: %w", err)
	}

	// Move HEAD's branch (or HEAD itself when detached) with a CAS.
	target := plumbing.HEAD
	if headRef.Type() == plumbing.SymbolicReference {
		target = headRef.Target()
	}
	var old *plumbing.Reference
	if parent != nil {
		old = plumbing.NewHashReference(target, parent.Hash)
	}
	if err := r.r.Storer.CheckAndSetReference(plumbing.NewHashReference(target, ch), old); err != nil {
		return "", fmt.Errorf("updating %s to %s: %w", target, ch, err)
	}

	// Bring the index in line with the new commit for these paths.
	for rel, e := range edits {
		if e == nil {
			_, _ = idx.Remove(rel)
			continue
		}
		ie, err := idx.Entry(rel)
		if err != nil {
			ie = idx.Add(rel)
		}
		st := stats[rel]
		ie.Hash, ie.Mode = e.Hash, e.Mode
		ie.ModifiedAt = st.ModTime()
		ie.Size = uint32(st.Size())
		ie.Stage, ie.IntentToAdd, ie.SkipWorktree = stageMerged, false, false
		fillStat(ie, st)
	}
	sort.Slice(idx.Entries, func(i, j int) bool { return idx.Entries[i].Name < idx.Entries[j].Name })
	if err := r.r.Storer.SetIndex(idx); err != nil {
		return "", fmt.Errorf("commit %s written but updating the index failed: %w", ch, err)
	}
	return ch.String(), nil
}

func fillStat(e *index.Entry, st fs.FileInfo) {
	if s, ok := st.Sys().(*syscall.Stat_t); ok {
		e.Dev, e.Inode = uint32(s.Dev), uint32(s.Ino)
		e.UID, e.GID = s.Uid, s.Gid
		e.CreatedAt = time.Unix(s.Ctim.Sec, s.Ctim.Nsec)
	}
}

func (r *Repo) writeBlob(content []byte) (plumbing.Hash, error) {
	obj := r.r.Storer.NewEncodedObject()
	obj.SetType(plumbing.BlobObject)
	obj.SetSize(int64(len(content)))
	w, err := obj.Writer()
	if err != nil {
		return plumbing.ZeroHash, err
	}
	if _, err := w.Write(content); err != nil {
		w.Close()
		return plumbing.ZeroHash, err
	}
	if err := w.Close(); err != nil {
		return plumbing.ZeroHash, err
	}
	return r.r.Storer.SetEncodedObject(obj)
}

// editTree applies edits (keyed by full slash path below prefix; a nil
// entry deletes) to the tree with hash base (zero = empty tree) and returns
// the new tree's hash. Empty trees left by deletions are dropped.
func (r *Repo) editTree(base plumbing.Hash, prefix string, edits map[string]*object.TreeEntry) (plumbing.Hash, error) {
	entries := map[string]object.TreeEntry{}
	if !base.IsZero() {
		t, err := r.r.TreeObject(base)
		if err != nil {
			return plumbing.ZeroHash, fmt.Errorf("reading tree %s: %w", base, err)
		}
		for _, e := range t.Entries {
			entries[e.Name] = e
		}
	}
	sub := map[string]map[string]*object.TreeEntry{}
	for p, e := range edits {
		rest := strings.TrimPrefix(p, prefix)
		if i := strings.IndexByte(rest, '/'); i >= 0 {
			dir := rest[:i]
			if sub[dir] == nil {
				sub[dir] = map[string]*object.TreeEntry{}
			}
			sub[dir][p] = e
			continue
		}
		if e == nil {
			if old, ok := entries[rest]; ok && old.Mode == filemode.Dir {
				return plumbing.ZeroHash, fmt.Errorf("path %q is a directory", p)
			}
			delete(entries, rest)
			continue
		}
		if old, ok := entries[rest]; ok && old.Mode == filemode.Dir {
			return plumbing.ZeroHash, fmt.Errorf("path %q is a directory in HEAD", p)
		}
		entries[rest] = object.TreeEntry{Name: rest, Mode: e.Mode, Hash: e.Hash}
	}
	for dir, ed := range sub {
		var subBase plumbing.Hash
		if old, ok := entries[dir]; ok {
			if old.Mode != filemode.Dir {
				// A file becomes a directory.
				delete(entries, dir)
			} else {
				subBase = old.Hash
			}
		}
		h, err := r.editTree(subBase, prefix+dir+"/", ed)
		if err != nil {
			return plumbing.ZeroHash, err
		}
		if h.IsZero() {
			delete(entries, dir)
			continue
		}
		entries[dir] = object.TreeEntry{Name: dir, Mode: filemode.Dir, Hash: h}
	}
	if len(entries) == 0 && prefix != "" {
		return plumbing.ZeroHash, nil
	}
	t := &object.Tree{}
	for _, e := range entries {
		t.Entries = append(t.Entries, e)
	}
	// git orders tree entries by name, comparing directories as "name/".
	key := func(e object.TreeEntry) string {
		if e.Mode == filemode.Dir {
			return e.Name + "/"
		}
		return e.Name
	}
	sort.Slice(t.Entries, func(i, j int) bool { return key(t.Entries[i]) < key(t.Entries[j]) })
	obj := r.r.Storer.NewEncodedObject()
	if err := t.Encode(obj); err != nil {
		return plumbing.ZeroHash, err
	}
	return r.r.Storer.SetEncodedObject(obj)
}
