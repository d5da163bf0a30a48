package image

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	git "github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing/filemode"
	"github.com/go-git/go-git/v5/plumbing/format/gitignore"
	"github.com/go-git/go-git/v5/storage/filesystem"
)

// gitRepo is what decides which files of a git worktree git lists (git ls-files -co
// --exclude-standard): its tracked files and its ignore rules. The user's global excludes file
// (core.excludesFile) is not read: it belongs to one machine, and images and their input hashes
// must not depend on who builds them.
type gitRepo struct {
	// top is the worktree's root.
	top string
	// tracked holds the index's paths (slash-separated, relative to top); trackedDirs every
	// directory above one of them.
	tracked, trackedDirs map[string]bool
	// exclude are the patterns of .git/info/exclude (of the main repository, for a linked
	// worktree).
	exclude []gitignore.Pattern
}

// openGit opens the git worktree holding dir; outside one it returns nil and no error.
func openGit(dir string) (*gitRepo, error) {
	repo, err := git.PlainOpenWithOptions(dir, &git.PlainOpenOptions{DetectDotGit: true, EnableDotGitCommonDir: true})
	if errors.Is(err, git.ErrRepositoryNotExists) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("opening the git repository of %q: %w", dir, err)
	}
	wt, err := repo.Worktree()
	if err != nil {
		return nil, fmt.Errorf("opening the git worktree of %q: %w", dir, err)
	}
	st, ok := repo.Storer.(*filesystem.Storage)
	if !ok {
		return nil, fmt.Errorf("opening the git repository of %q: unexpected storage %T", dir, repo.Storer)
	}
	g := &gitRepo{top: wt.Filesystem.Root()}
	if g.tracked, g.trackedDirs, err = trackedFiles(repo, st); err != nil {
		return nil, fmt.Errorf("reading the git index of %q: %w", g.top, err)
	}
	// The storage's filesystem maps info/ to the common directory of a linked worktree.
	f, err := st.Filesystem().Open("info/exclude")
	if err == nil {
		g.exclude, err = readGitignore(f, nil)
		f.Close()
	}
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("reading .git/info/exclude of %q: %w", g.top, err)
	}
	return g, nil
}

// indexCache keeps what the index files read so far track, each as long as its file is
// unchanged (same size, modification time and inode; git replaces an index by renaming a new
// file over it): decoding an index is most of a no-op run otherwise, once per service and lib.
var indexCache struct {
	sync.Mutex
	m map[string]indexEntry
}

type indexEntry struct {
	stamp                indexStamp
	tracked, trackedDirs map[string]bool
}

type indexStamp struct {
	size  int64
	mtime time.Time
	ino   uint64
}

// trackedFiles returns the paths the index of repo tracks and every directory above them. The
// maps may be shared: they are read-only.
func trackedFiles(repo *git.Repository, st *filesystem.Storage) (tracked, dirs map[string]bool, err error) {
	file := filepath.Join(st.Filesystem().Root(), "index") // a linked worktree's own index
	var stamp indexStamp
	info, statErr := os.Stat(file)
	if statErr == nil {
		stamp = indexStamp{size: info.Size(), mtime: info.ModTime()}
		if sys, ok := info.Sys().(*syscall.Stat_t); ok {
			stamp.ino = sys.Ino
		}
		indexCache.Lock()
		e, hit := indexCache.m[file]
		indexCache.Unlock()
		if hit && e.stamp == stamp {
			return e.tracked, e.trackedDirs, nil
		}
	}
	idx, err := repo.Storer.Index()
	if err != nil {
		return nil, nil, err
	}
	tracked, dirs = map[string]bool{}, map[string]bool{}
	for _, e := range idx.Entries {
		if e.Mode == filemode.Submodule {
			continue // a submodule's files are not the superproject's: git's ignore rules decide
		}
		tracked[e.Name] = true
		for d := path.Dir(e.Name); d != "."; d = path.Dir(d) {
			dirs[d] = true
		}
	}
	if statErr == nil {
		indexCache.Lock()
		if indexCache.m == nil {
			indexCache.m = map[string]indexEntry{}
		}
		indexCache.m[file] = indexEntry{stamp: stamp, tracked: tracked, trackedDirs: dirs}
		indexCache.Unlock()
	}
	return tracked, dirs, nil
}

// readGitignore parses ignore patterns that apply under domain (path components from the
// worktree's root).
func readGitignore(r io.Reader, domain []string) ([]gitignore.Pattern, error) {
	var ps []gitignore.Pattern
	s := bufio.NewScanner(r)
	for s.Scan() {
		line := s.Text()
		if strings.HasPrefix(line, "#") || strings.TrimSpace(line) == "" {
			continue
		}
		ps = append(ps, gitignore.ParsePattern(line, domain))
	}
	return ps, s.Err()
}

// ignores holds the ignore patterns read so far, lowest priority first (info/exclude, then
// .gitignore files from the root down), and their matcher.
type ignores struct {
	top      string
	patterns []gitignore.Pattern
	matcher  gitignore.Matcher
}

// load adds the patterns of the .gitignore in domain (path components from top), if any.
func (ig *ignores) load(domain []string) error {
	file := filepath.Join(ig.top, filepath.Join(domain...), ".gitignore")
	f, err := os.Open(file)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("reading %q: %w", file, err)
	}
	defer f.Close()
	ps, err := readGitignore(f, domain)
	if err != nil {
		return fmt.Errorf("reading %q: %w", file, err)
	}
	if len(ps) > 0 {
		ig.patterns = append(ig.patterns, ps...)
		ig.matcher = gitignore.NewMatcher(ig.patterns)
	}
	return nil
}

func (ig *ignores) match(p []string, isDir bool) bool {
	return ig.matcher.Match(p, isDir)
}

// filter returns the filter of the tree at dir: it leaves out what git would not list. Like
// git, it reads no .gitignore inside an ignored directory, re-includes nothing under one, and
// descends into one only to keep the tracked files in it.
func (g *gitRepo) filter(dir string) (filter, error) {
	prefix, err := g.prefix(dir)
	if err != nil {
		return nil, err
	}
	ig := &ignores{top: g.top, patterns: slices.Clone(g.exclude), matcher: gitignore.NewMatcher(g.exclude)}
	above := false // dir, or a directory above it, is ignored
	for i := 0; i <= len(prefix) && !above; i++ {
		if err := ig.load(prefix[:i]); err != nil {
			return nil, err
		}
		above = i < len(prefix) && ig.match(prefix[:i+1], true)
	}
	ignoredDirs := map[string]bool{}
	return func(rel string, isDir bool) (bool, bool, error) {
		p := append(append([]string{}, prefix...), strings.Split(rel, "/")...)
		key := strings.Join(p, "/")
		ignored := above || ignoredDirs[path.Dir(rel)] || ig.match(p, isDir)
		if !isDir {
			return ignored && !g.tracked[key], false, nil
		}
		if ignored {
			ignoredDirs[rel] = true
			return true, g.trackedDirs[key], nil
		}
		return false, false, ig.load(p)
	}, nil
}

// prefix is dir's path components inside the worktree.
func (g *gitRepo) prefix(dir string) ([]string, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, err
	}
	rel, err := relSlash(g.top, abs)
	if err != nil {
		// The same directories through different symlinks (/tmp and /private/tmp).
		realTop, err1 := filepath.EvalSymlinks(g.top)
		realDir, err2 := filepath.EvalSymlinks(abs)
		if err1 != nil || err2 != nil {
			return nil, err
		}
		if rel, err = relSlash(realTop, realDir); err != nil {
			return nil, err
		}
	}
	if rel == "." {
		return nil, nil
	}
	return strings.Split(rel, "/"), nil
}
