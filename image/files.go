package image

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"

	"github.com/moby/patternmatcher"
	"github.com/moby/patternmatcher/ignorefile"
)

// File is one file of a source tree, with its mode normalised the way git sees it: a symlink,
// or a regular file that is executable or not.
type File struct {
	// Rel is its slash-separated path relative to the tree's directory.
	Rel string
	// Abs is its path on the host.
	Abs string
	// Mode is fs.ModeSymlink|0o777, 0o755 or 0o644.
	Mode fs.FileMode
	// Link is a symlink's target.
	Link string
	// Size is a regular file's size.
	Size int64
}

// filter decides, for a path relative to a tree's root, whether to leave it out.
// Leaving a directory out leaves out everything under it unless descend.
type filter func(rel string, isDir bool) (exclude, descend bool, err error)

// allOf leaves out what any of filters leaves out, and descends into a directory left out only
// when every filter that left it out descends. Every filter sees every path walked, in order:
// filters keep state about the directories above.
func allOf(filters ...filter) filter {
	return func(rel string, isDir bool) (bool, bool, error) {
		exclude, descend := false, true
		for _, f := range filters {
			ex, de, err := f(rel, isDir)
			if err != nil {
				return false, false, err
			}
			if ex {
				exclude = true
				descend = descend && de
			}
		}
		return exclude, exclude && descend, nil
	}
}

// alwaysExcluded are never a service's source: VCS metadata (a .git directory, or the .git file
// of a linked worktree or submodule) and bytecode (which records host mtimes).
func alwaysExcluded(rel string, isDir bool) bool {
	base := path.Base(rel)
	if base == ".git" {
		return true
	}
	if isDir {
		return base == "__pycache__"
	}
	return strings.HasSuffix(base, ".pyc") || strings.HasSuffix(base, ".pyo")
}

// walkTree lists root's files in a stable order (lexical per directory),
// leaving out what keep says and what alwaysExcluded says.
func walkTree(root string, keep filter) ([]File, error) {
	return walk(root, keep, alwaysExcluded)
}

// walkInstalled lists root's files like walkTree, bytecode included: a tree convoy installed and
// compiled itself (python.Tools.Bytecode), whose .pyc files depend on nothing but the sources.
func walkInstalled(root string) ([]File, error) {
	return walk(root, nil, func(rel string, _ bool) bool { return path.Base(rel) == ".git" })
}

// walk lists root's files in a stable order, leaving out what keep and skip say.
func walk(root string, keep filter, skip func(rel string, isDir bool) bool) ([]File, error) {
	var files []File
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if p == root {
			return nil
		}
		rel, err := filepath.Rel(root, p)
		if err != nil {
			return err
		}
		rel = filepath.ToSlash(rel)
		isDir := d.IsDir()
		if skip(rel, isDir) {
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
		f, err := treeFile(p, rel, d)
		if err != nil {
			return err
		}
		files = append(files, f)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("listing %q: %w", root, err)
	}
	return files, nil
}

// treeFile describes the file at p (rel in its tree).
func treeFile(p, rel string, d fs.DirEntry) (File, error) {
	f := File{Rel: rel, Abs: p}
	info, err := d.Info()
	if err != nil {
		return File{}, err
	}
	switch t := info.Mode().Type(); {
	case t == fs.ModeSymlink:
		f.Mode = fs.ModeSymlink | 0o777
		if f.Link, err = os.Readlink(p); err != nil {
			return File{}, err
		}
	case t.IsRegular():
		f.Mode = 0o644
		if info.Mode().Perm()&0o111 != 0 {
			f.Mode = 0o755
		}
		f.Size = info.Size()
	default:
		return File{}, fmt.Errorf("%q is a %s, not a file, directory or symlink", p, t)
	}
	return f, nil
}

// dockerignore returns the filter of dir's .dockerignore (nil when it has none), with docker's
// semantics (github.com/moby/patternmatcher), for a tree at prefix (slash-separated, "." for
// dir itself) inside dir.
func dockerignore(dir, prefix string) (filter, error) {
	file := filepath.Join(dir, ".dockerignore")
	f, err := os.Open(file)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading .dockerignore of %q: %w", dir, err)
	}
	defer f.Close()
	patterns, err := ignorefile.ReadAll(f)
	if err != nil {
		return nil, fmt.Errorf("reading .dockerignore of %q: %w", dir, err)
	}
	pm, err := patternmatcher.New(patterns)
	if err != nil {
		return nil, fmt.Errorf("parsing .dockerignore of %q: %w", dir, err)
	}
	return patternFilter(pm, file, prefix)
}

// devOnly returns the filter that leaves DevOnly files out, but those include names.
func devOnly(include []string) (filter, error) {
	patterns := append([]string{}, DevOnly...)
	for _, p := range include {
		patterns = append(patterns, "!"+strings.TrimPrefix(path.Clean(p), "/"))
	}
	pm, err := patternmatcher.New(patterns)
	if err != nil {
		return nil, fmt.Errorf("parsing the dev-only patterns and %q: %w", include, err)
	}
	return patternFilter(pm, "the dev-only patterns", ".")
}

// patternFilter applies pm to a tree at prefix inside the patterns' directory; what names the
// patterns in errors.
func patternFilter(pm *patternmatcher.PatternMatcher, what, prefix string) (filter, error) {
	// Match results of the directories walked so far, by path inside the patterns' directory:
	// WalkDir visits a directory before its entries.
	parents := map[string]patternmatcher.MatchInfo{}
	match := func(p string) (bool, patternmatcher.MatchInfo, error) {
		excluded, info, err := pm.MatchesUsingParentResults(p, parents[path.Dir(p)])
		if err != nil {
			return false, info, fmt.Errorf("matching %q against %s: %w", p, what, err)
		}
		return excluded, info, nil
	}
	if prefix != "." {
		// The tree's own directory and those above it, down from the patterns' directory.
		parts := strings.Split(prefix, "/")
		for i := range parts {
			p := strings.Join(parts[:i+1], "/")
			_, info, err := match(p)
			if err != nil {
				return nil, err
			}
			parents[p] = info
		}
	}
	return func(rel string, isDir bool) (bool, bool, error) {
		excluded, info, err := match(path.Join(prefix, rel))
		if err != nil {
			return false, false, err
		}
		if isDir {
			parents[path.Join(prefix, rel)] = info
		}
		return excluded, pm.Exclusions(), nil
	}, nil
}
