package repo

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"syscall"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/filemode"
	"github.com/go-git/go-git/v5/plumbing/format/gitignore"
	"github.com/go-git/go-git/v5/plumbing/format/index"
	"github.com/go-git/go-git/v5/plumbing/object"
)

// Status codes used in Change, the same letters `git status --porcelain`
// prints.
const (
	Unmodified byte = ' '
	Modified   byte = 'M'
	Added      byte = 'A'
	Deleted    byte = 'D'
	Untracked  byte = '?'
	Unmerged   byte = 'U'
)

// Change is one path that makes the worktree dirty.
type Change struct {
	// Path is slash-separated and relative to the worktree root. An
	// untracked nested repository is reported once, with a trailing slash.
	Path string
	// Staging is the index-versus-HEAD status (the X of porcelain XY).
	Staging byte
	// Worktree is the worktree-versus-index status (the Y of porcelain XY).
	Worktree byte
}

// String renders the change the way `git status --porcelain` does: "XY path".
func (c Change) String() string {
	return string([]byte{c.Staging, c.Worktree}) + " " + c.Path
}

// Dirty returns the sorted paths that are modified, staged, deleted or
// untracked (and not ignored). An empty result means the worktree is clean.
// See Changes for what is and is not taken into account.
func (r *Repo) Dirty() ([]string, error) {
	cs, err := r.Changes()
	if err != nil {
		return nil, err
	}
	out := make([]string, 0, len(cs))
	for _, c := range cs {
		out = append(out, c.Path)
	}
	return out, nil
}

// Changes compares HEAD, the index and the worktree, like
// `git status --porcelain --untracked-files=all`, and returns the paths that
// differ, sorted.
//
// It does not use go-git's Worktree.Status, which hashes every file of the
// worktree — including ignored trees such as virtualenvs and .convoy/ — and
// ignores the global excludes file. Instead: tracked files are compared with
// their index entry by size and mtime first and by content only when those
// disagree (or the entry is racy); untracked files are found by a walk that
// never descends into ignored directories, honouring .gitignore files at
// every level, .git/info/exclude and core.excludesFile (or
// $XDG_CONFIG_HOME/git/ignore). Submodule contents are not inspected;
// end-of-line conversion (core.autocrlf, .gitattributes) is not applied.
func (r *Repo) Changes() ([]Change, error) {
	idx, err := r.r.Storer.Index()
	if err != nil {
		return nil, fmt.Errorf("reading index of %q: %w", r.root, err)
	}
	changes := map[string]*Change{}
	get := func(p string) *Change {
		c, ok := changes[p]
		if !ok {
			c = &Change{Path: p, Staging: Unmodified, Worktree: Unmodified}
			changes[p] = c
		}
		return c
	}

	// HEAD versus index.
	headEntries := map[string]object.TreeEntry{}
	if h, err := r.headHash(); err == nil {
		c, err := r.r.CommitObject(h)
		if err != nil {
			return nil, fmt.Errorf("reading HEAD commit %s: %w", h, err)
		}
		t, err := c.Tree()
		if err != nil {
			return nil, fmt.Errorf("reading tree of %s: %w", h, err)
		}
		w := object.NewTreeWalker(t, true, nil)
		for {
			name, e, err := w.Next()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				w.Close()
				return nil, fmt.Errorf("walking tree of %s: %w", h, err)
			}
			if e.Mode == filemode.Dir {
				continue
			}
			headEntries[name] = e
		}
		w.Close()
	} else if !errors.Is(err, ErrNoCommits) {
		return nil, err
	}
	inIndex := make(map[string]*index.Entry, len(idx.Entries))
	for _, e := range idx.Entries {
		if e.Stage != stageMerged {
			get(e.Name).Staging, get(e.Name).Worktree = Unmerged, Unmerged
			inIndex[e.Name] = e
			continue
		}
		inIndex[e.Name] = e
		he, ok := headEntries[e.Name]
		switch {
		case !ok || e.IntentToAdd:
			get(e.Name).Staging = Added
		case he.Hash != e.Hash || he.Mode != e.Mode:
			get(e.Name).Staging = Modified
		}
	}
	for name := range headEntries {
		if _, ok := inIndex[name]; !ok {
			get(name).Staging = Deleted
		}
	}

	// Index versus worktree, for tracked paths.
	fileMode := !strings.EqualFold(r.configValue("core", "filemode"), "false")
	indexTime := indexMTime(r)
	for _, e := range idx.Entries {
		if e.Stage != stageMerged || e.SkipWorktree || e.Mode == filemode.Submodule {
			continue
		}
		st, err := r.worktreeState(e, fileMode, indexTime)
		if err != nil {
			return nil, err
		}
		if st != Unmodified {
			get(e.Name).Worktree = st
		}
	}

	// Untracked, not ignored.
	untracked, err := r.untracked(inIndex)
	if err != nil {
		return nil, err
	}
	for _, p := range untracked {
		c := get(p)
		c.Staging, c.Worktree = Untracked, Untracked
	}

	out := make([]Change, 0, len(changes))
	for _, c := range changes {
		if c.Staging == Unmodified && c.Worktree == Unmodified {
			continue
		}
		out = append(out, *c)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Path < out[j].Path })
	return out, nil
}

// indexMTime is the index file's modification time, used to detect racily
// clean entries (modified in the same timestamp granule the index was
// written in); zero when unknown, which makes every stat match re-checked.
func indexMTime(r *Repo) int64 {
	p := filepath.Join(r.root, ".git", "index")
	if st, err := os.Stat(p); err == nil {
		return st.ModTime().UnixNano()
	}
	return 0
}

func (r *Repo) worktreeState(e *index.Entry, fileMode bool, indexTime int64) (byte, error) {
	p := filepath.Join(r.root, filepath.FromSlash(e.Name))
	st, err := os.Lstat(p)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENOTDIR) {
			return Deleted, nil
		}
		return 0, fmt.Errorf("inspecting %q: %w", e.Name, err)
	}
	var mode filemode.FileMode
	switch {
	case st.Mode()&fs.ModeSymlink != 0:
		mode = filemode.Symlink
	case st.Mode().IsRegular():
		mode = filemode.Regular
		if fileMode && st.Mode()&0o111 != 0 {
			mode = filemode.Executable
		}
		if !fileMode && e.Mode == filemode.Executable {
			mode = filemode.Executable
		}
	default:
		// A directory (or device) where a file is tracked: git reports the
		// file as deleted.
		return Deleted, nil
	}
	if mode != e.Mode {
		return Modified, nil
	}
	if mode == filemode.Regular || mode == filemode.Executable {
		if uint32(st.Size()) != e.Size {
			return Modified, nil
		}
		mt := st.ModTime().UnixNano()
		if mt == e.ModifiedAt.UnixNano() && ctimeMatches(e, st) && (indexTime == 0 || mt < indexTime) {
			return Unmodified, nil
		}
	}
	h, err := hashWorktreeFile(p, mode)
	if err != nil {
		return 0, fmt.Errorf("hashing %q: %w", e.Name, err)
	}
	if h != e.Hash {
		return Modified, nil
	}
	return Unmodified, nil
}

// hashWorktreeFile returns the git blob hash of a worktree file (the link
// target for a symlink).
func hashWorktreeFile(p string, mode filemode.FileMode) (plumbing.Hash, error) {
	if mode == filemode.Symlink {
		t, err := os.Readlink(p)
		if err != nil {
			return plumbing.ZeroHash, err
		}
		return plumbing.ComputeHash(plumbing.BlobObject, []byte(filepath.ToSlash(t))), nil
	}
	f, err := os.Open(p)
	if err != nil {
		return plumbing.ZeroHash, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return plumbing.ZeroHash, err
	}
	h := plumbing.NewHasher(plumbing.BlobObject, st.Size())
	if _, err := io.Copy(h, f); err != nil {
		return plumbing.ZeroHash, err
	}
	return h.Sum(), nil
}

// untracked walks the worktree and returns untracked, non-ignored files
// (and untracked nested repositories, with a trailing slash).
func (r *Repo) untracked(inIndex map[string]*index.Entry) ([]string, error) {
	base, err := r.basePatterns()
	if err != nil {
		return nil, err
	}
	// Ignored directories are never entered: untracked files below them are
	// ignored too, and tracked ones were compared with the index above.
	var out []string
	var walk func(dir []string, patterns []gitignore.Pattern) error
	walk = func(dir []string, patterns []gitignore.Pattern) error {
		abs := filepath.Join(append([]string{r.root}, dir...)...)
		ps, err := readIgnoreFile(filepath.Join(abs, ".gitignore"), dir)
		if err != nil {
			return err
		}
		if len(ps) > 0 {
			patterns = append(append([]gitignore.Pattern(nil), patterns...), ps...)
		}
		m := gitignore.NewMatcher(patterns)
		ents, err := os.ReadDir(abs)
		if err != nil {
			return fmt.Errorf("reading directory %q: %w", abs, err)
		}
		for _, de := range ents {
			name := de.Name()
			if len(dir) == 0 && name == ".git" {
				continue
			}
			path := append(append([]string(nil), dir...), name)
			rel := strings.Join(path, "/")
			isDir := de.IsDir()
			if isDir {
				if e, ok := inIndex[rel]; ok && e.Mode == filemode.Submodule {
					continue
				}
			}
			if _, tracked := inIndex[rel]; tracked && !isDir {
				continue
			}
			if m.Match(path, isDir) {
				continue
			}
			if !isDir {
				out = append(out, rel)
				continue
			}
			if _, err := os.Lstat(filepath.Join(abs, name, ".git")); err == nil {
				// A nested repository: git reports the directory itself.
				out = append(out, rel+"/")
				continue
			}
			if err := walk(path, patterns); err != nil {
				return err
			}
		}
		return nil
	}
	if err := walk(nil, base); err != nil {
		return nil, err
	}
	return out, nil
}

// basePatterns returns core.excludesFile (or the XDG default) followed by
// .git/info/exclude, in ascending priority.
func (r *Repo) basePatterns() ([]gitignore.Pattern, error) {
	var ps []gitignore.Pattern
	excludes := r.configValue("core", "excludesfile")
	if excludes == "" {
		if x := os.Getenv("XDG_CONFIG_HOME"); x != "" {
			excludes = filepath.Join(x, "git", "ignore")
		} else if h, err := os.UserHomeDir(); err == nil {
			excludes = filepath.Join(h, ".config", "git", "ignore")
		}
	} else if strings.HasPrefix(excludes, "~/") {
		if h, err := os.UserHomeDir(); err == nil {
			excludes = filepath.Join(h, excludes[2:])
		}
	}
	if excludes != "" {
		g, err := readIgnoreFile(excludes, nil)
		if err != nil {
			return nil, err
		}
		ps = append(ps, g...)
	}
	info, err := readIgnoreFile(filepath.Join(r.gitDir(), "info", "exclude"), nil)
	if err != nil {
		return nil, err
	}
	return append(ps, info...), nil
}

// gitDir returns the repository's (common) git directory.
func (r *Repo) gitDir() string {
	p := filepath.Join(r.root, ".git")
	if st, err := os.Stat(p); err == nil && !st.IsDir() {
		// A linked worktree: ".git" is a file "gitdir: PATH".
		if b, err := os.ReadFile(p); err == nil {
			if s, ok := strings.CutPrefix(strings.TrimSpace(string(b)), "gitdir: "); ok {
				if !filepath.IsAbs(s) {
					s = filepath.Join(r.root, s)
				}
				if c, err := os.ReadFile(filepath.Join(s, "commondir")); err == nil {
					cd := strings.TrimSpace(string(c))
					if !filepath.IsAbs(cd) {
						cd = filepath.Join(s, cd)
					}
					return cd
				}
				return s
			}
		}
	}
	return p
}

// readIgnoreFile parses one ignore file; a missing file yields no patterns.
func readIgnoreFile(path string, domain []string) ([]gitignore.Pattern, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENOTDIR) {
			return nil, nil
		}
		return nil, fmt.Errorf("reading ignore file %q: %w", path, err)
	}
	var ps []gitignore.Pattern
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		line := strings.TrimRight(sc.Text(), "\r")
		if strings.HasPrefix(line, "#") || strings.TrimSpace(line) == "" {
			continue
		}
		// Trailing spaces are ignored unless escaped with a backslash.
		for strings.HasSuffix(line, " ") && !strings.HasSuffix(line, "\\ ") {
			line = line[:len(line)-1]
		}
		ps = append(ps, gitignore.ParsePattern(line, domain))
	}
	return ps, nil
}

// ctimeMatches reports whether the inode change time recorded in the index
// entry equals the file's (git's core.trustctime default); a rewrite that
// keeps size and mtime still changes ctime.
func ctimeMatches(e *index.Entry, st fs.FileInfo) bool {
	s, ok := st.Sys().(*syscall.Stat_t)
	if !ok {
		return true
	}
	return e.CreatedAt.Unix() == s.Ctim.Sec && int64(e.CreatedAt.Nanosecond()) == s.Ctim.Nsec
}

// stageMerged is the stage of a normal (not conflicted) index entry. go-git's
// index.Merged constant is 1, which is git's "common ancestor" stage; the
// decoder leaves normal entries at 0.
const stageMerged index.Stage = 0
