package image

import (
	"fmt"
	"path"
	"path/filepath"
	"strings"

	"github.com/convoy-ci/convoy/python"
)

// Source says which files of a repository make a service's source layer. SourceFiles lists
// them; Build copies exactly those and InputHash hashes exactly those.
type Source struct {
	// Root is the repository's root: its .dockerignore applies to every tree, with patterns
	// relative to Root, and the git repository holding it decides what is ignored. Empty
	// means Dir.
	Root string
	// Dir is the service's directory, copied to SourceRoot.
	Dir string
	// Libs are the service's shared libs.
	Libs []Lib
	// Include re-includes files DevOnly leaves out: patterns in .dockerignore syntax, relative
	// to each tree's directory (the service's and each lib's), e.g. "tests".
	Include []string
}

// Lib is a shared lib in an image.
type Lib struct {
	// Dir is the lib's directory on the host.
	Dir string
	// Path is where it is copied in the image, e.g. LibsRoot+"/shared".
	Path string
	// ImportRoot is the directory of the image PYTHONPATH needs for it: Path for a project
	// (Path/kit/__init__.py), Path's parent for a lib that is itself a package
	// (Path/__init__.py). pipeline/config's Lib.ImportRoot decides it; empty means Path.
	ImportRoot string
}

// LibPath is where images hold the lib whose directory is called name.
func LibPath(name string) string { return path.Join(LibsRoot, name) }

// Tree is one host directory of a source layer and the files of it the layer holds.
type Tree struct {
	// Dir is the host directory.
	Dir string
	// Path is where Dir is in the image.
	Path string
	// Files are Dir's files that go into the image, in walk order (lexical per directory).
	Files []File
}

// DevOnly are the files no image needs and every image leaves out unless Source.Include
// re-includes them (patterns in .dockerignore syntax, relative to each tree's directory): test
// packages and modules, test and lint configuration, what test runs leave behind and the
// dependency tools' files only the gates read (python.DevOnly: pip's dev requirements).
// setup.cfg stays (it may hold the package's metadata: leave it out with a .dockerignore when
// it holds lint settings only), and so do the tools' specs and locks (the runtime dependency
// spec, which records where the image's dependencies come from).
var DevOnly = append([]string{
	"**/tests", "**/test", "**/tests.py", "**/test_*.py", "**/*_test.py", "**/conftest.py",
	"**/.flake8", "**/tox.ini", "**/pytest.ini", "**/.coveragerc",
	"**/.coverage", "**/.pytest_cache", "**/.tox",
}, python.DevOnly...)

// SourceFiles lists the files of s's source layer, one Tree for the service and one per lib:
//
//  1. what git would list (git ls-files -co --exclude-standard): tracked files, and untracked
//     ones no .gitignore (from the repository's root down) nor .git/info/exclude ignores;
//     outside a git repository, every file;
//  2. minus what the .dockerignore of Root (patterns relative to Root) and the tree's own
//     .dockerignore (relative to the tree's directory) leave out;
//  3. minus DevOnly files, but those Include names.
//
// VCS metadata (.git) and Python bytecode are never listed.
func SourceFiles(s Source) ([]Tree, error) {
	trees, err := s.listing()
	if err != nil {
		return nil, fmt.Errorf("listing the source of %q: %w", s.Dir, err)
	}
	return trees, nil
}

func (s Source) listing() ([]Tree, error) {
	root := s.Root
	if root == "" {
		root = s.Dir
	}
	repo, err := openGit(root)
	if err != nil {
		return nil, err
	}
	trees, err := s.trees()
	if err != nil {
		return nil, err
	}
	for i := range trees {
		keep, err := s.filter(root, trees[i].Dir, repo)
		if err != nil {
			return nil, err
		}
		if trees[i].Files, err = walkTree(trees[i].Dir, keep); err != nil {
			return nil, err
		}
	}
	return trees, nil
}

// trees are s's directories and their paths in the image, without their files.
func (s Source) trees() ([]Tree, error) {
	trees := []Tree{{Dir: s.Dir, Path: SourceRoot}}
	seen := map[string]string{SourceRoot: s.Dir}
	for _, l := range s.Libs {
		p := path.Clean(l.Path)
		if !strings.HasPrefix(p, LibsRoot+"/") {
			return nil, fmt.Errorf("lib %q: its path in the image %q is not under %s", l.Dir, l.Path, LibsRoot)
		}
		if other, dup := seen[p]; dup {
			return nil, fmt.Errorf("libs %q and %q would both be %s", other, l.Dir, p)
		}
		seen[p] = l.Dir
		trees = append(trees, Tree{Dir: l.Dir, Path: p})
	}
	return trees, nil
}

// filter is what leaves files of the tree at dir out of the image (see SourceFiles).
func (s Source) filter(root, dir string, repo *gitRepo) (filter, error) {
	var filters []filter
	add := func(f filter, err error) error {
		if f != nil {
			filters = append(filters, f)
		}
		return err
	}
	if repo != nil {
		if err := add(repo.filter(dir)); err != nil {
			return nil, err
		}
	}
	prefix, err := relSlash(root, dir)
	if err != nil {
		return nil, err
	}
	if err := add(dockerignore(root, prefix)); err != nil {
		return nil, err
	}
	if prefix != "." { // the tree's own .dockerignore, when it is not the root's
		if err := add(dockerignore(dir, ".")); err != nil {
			return nil, err
		}
	}
	if err := add(devOnly(s.Include)); err != nil {
		return nil, err
	}
	return allOf(filters...), nil
}

// relSlash is target's slash-separated path inside base; it fails when target is not inside.
func relSlash(base, target string) (string, error) {
	rel, err := filepath.Rel(base, target)
	if err == nil && (rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator))) {
		err = fmt.Errorf("%q is not inside %q", target, base)
	}
	if err != nil {
		return "", err
	}
	return filepath.ToSlash(rel), nil
}

// pythonPath is the image's PYTHONPATH: the source, the libs' import roots (without repeats),
// then the dependencies.
func (s Source) pythonPath() []string {
	out := []string{SourceRoot}
	seen := map[string]bool{SourceRoot: true}
	for _, l := range s.Libs {
		root := l.ImportRoot
		if root == "" {
			root = path.Clean(l.Path)
		}
		if !seen[root] {
			seen[root] = true
			out = append(out, root)
		}
	}
	return append(out, SitePackages)
}
