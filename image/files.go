package image

import (
	"bufio"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/go-git/go-git/v5/plumbing/format/gitignore"
	"github.com/moby/patternmatcher"
	"github.com/moby/patternmatcher/ignorefile"
)

// file is one file of a source tree, with its mode normalised the way git
// sees it: a symlink, or a regular file that is executable or not.
type file struct {
	rel  string // slash-separated, relative to the tree's root
	abs  string
	mode fs.FileMode // fs.ModeSymlink|0o777, 0o755 or 0o644
	link string      // symlink target
	size int64
}

// filter decides, for a path relative to a tree's root, whether to leave it out.
// Leaving a directory out leaves out everything under it unless descend.
type filter func(rel string, isDir bool) (exclude, descend bool, err error)

// alwaysExcluded are never a service's source: VCS metadata and bytecode
// (which records host mtimes).
func alwaysExcluded(rel string, isDir bool) bool {
	base := filepath.Base(rel)
	if isDir {
		return base == ".git" || base == "__pycache__"
	}
	return strings.HasSuffix(base, ".pyc") || strings.HasSuffix(base, ".pyo")
}

// walkTree lists root's files in a stable order (lexical per directory),
// leaving out what keep says and what alwaysExcluded says.
func walkTree(root string, keep filter) ([]file, error) {
	var files []file
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if path == root {
			return nil
		}
		rel, err := filepath.Rel(root, path)
		if err != nil {
			return err
		}
		rel = filepath.ToSlash(rel)
		isDir := d.IsDir()
		if alwaysExcluded(rel, isDir) {
			if isDir {
				return filepath.SkipDir
			}
			return nil
		}
		if keep != nil {
			exclude, descend, err := keep(rel, isDir)
			if err != nil {
				return err
			}
			if exclude {
				if isDir && !descend {
					return filepath.SkipDir
				}
				return nil
			}
		}
		if isDir {
			// Like git, a tree is its files: directories are implied by them,
			// and an empty one is not part of it.
			return nil
		}
		f := file{rel: rel, abs: path}
		info, err := d.Info()
		if err != nil {
			return err
		}
		switch t := info.Mode().Type(); {
		case t == fs.ModeSymlink:
			f.mode = fs.ModeSymlink | 0o777
			if f.link, err = os.Readlink(path); err != nil {
				return err
			}
		case t.IsRegular():
			f.mode = 0o644
			if info.Mode().Perm()&0o111 != 0 {
				f.mode = 0o755
			}
			f.size = info.Size()
		default:
			return fmt.Errorf("%q is a %s, not a file, directory or symlink", path, t)
		}
		files = append(files, f)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("listing %q: %w", root, err)
	}
	return files, nil
}

// dockerignore returns the filter of root's .dockerignore (none when it has
// none), with docker's semantics (github.com/moby/patternmatcher).
func dockerignore(root string) (filter, error) {
	path := filepath.Join(root, ".dockerignore")
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading %q: %w", path, err)
	}
	defer f.Close()
	patterns, err := ignorefile.ReadAll(f)
	if err != nil {
		return nil, fmt.Errorf("reading %q: %w", path, err)
	}
	pm, err := patternmatcher.New(patterns)
	if err != nil {
		return nil, fmt.Errorf("parsing %q: %w", path, err)
	}
	// Match results of the directories walked so far: WalkDir visits a
	// directory before its entries.
	parents := map[string]patternmatcher.MatchInfo{}
	return func(rel string, isDir bool) (bool, bool, error) {
		parent := parents[filepath.ToSlash(filepath.Dir(rel))]
		excluded, info, err := pm.MatchesUsingParentResults(rel, parent)
		if err != nil {
			return false, false, fmt.Errorf("matching %q against %q: %w", rel, path, err)
		}
		if isDir {
			parents[rel] = info
		}
		return excluded, pm.Exclusions(), nil
	}, nil
}

// gitignored returns the filter of the .gitignore files that apply to dir:
// those of the enclosing repository from its root down to dir, and those met
// while walking it. Outside a repository it filters nothing.
func gitignored(dir string) (filter, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, err
	}
	top := abs
	for {
		if _, err := os.Stat(filepath.Join(top, ".git")); err == nil {
			break
		}
		parent := filepath.Dir(top)
		if parent == top {
			return nil, nil
		}
		top = parent
	}
	var prefix []string // dir's path inside the repository
	if rel, _ := filepath.Rel(top, abs); rel != "." {
		prefix = strings.Split(filepath.ToSlash(rel), "/")
	}
	var patterns []gitignore.Pattern
	load := func(domain []string) error {
		path := filepath.Join(top, filepath.Join(domain...), ".gitignore")
		f, err := os.Open(path)
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		if err != nil {
			return err
		}
		defer f.Close()
		s := bufio.NewScanner(f)
		for s.Scan() {
			line := s.Text()
			if strings.HasPrefix(line, "#") || strings.TrimSpace(line) == "" {
				continue
			}
			patterns = append(patterns, gitignore.ParsePattern(line, domain))
		}
		return s.Err()
	}
	for i := 0; i <= len(prefix); i++ {
		if err := load(prefix[:i]); err != nil {
			return nil, fmt.Errorf("reading .gitignore files above %q: %w", dir, err)
		}
	}
	return func(rel string, isDir bool) (bool, bool, error) {
		path := append(append([]string{}, prefix...), strings.Split(rel, "/")...)
		if gitignore.NewMatcher(patterns).Match(path, isDir) {
			return true, false, nil
		}
		if isDir {
			if err := load(path); err != nil {
				return false, false, fmt.Errorf("reading %q: %w", filepath.Join(dir, rel, ".gitignore"), err)
			}
		}
		return false, false, nil
	}, nil
}
