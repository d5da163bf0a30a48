package config

import (
	"os"
	"path"
	"path/filepath"
)

// PackageMarker is the file that makes a directory a regular Python package.
const PackageMarker = "__init__.py"

// Lib is a shared lib of a service and how Python imports it. A lib is one of two layouts:
//
//   - a project: the directory holds the package (libs/convoykit/convoykit/__init__.py), so the
//     directory itself goes on PYTHONPATH;
//   - a package: the directory is the package (libs/shared/__init__.py, imported as `import
//     shared`), so its parent goes on PYTHONPATH.
//
// ImportRoot is the one place that rule lives: the local engine applies it to the host
// directory, the Dagger engine and images to where they put the lib.
type Lib struct {
	// Path is the lib's directory relative to the repository root, slash-separated, as in libs:.
	Path string
	// Dir is its absolute directory on the host.
	Dir string
	// Package is set when the directory is itself a Python package (it holds PackageMarker).
	Package bool
}

// NewLib describes the lib at path (relative to root), reading whether it is a package.
func NewLib(root, rel string) Lib {
	dir := filepath.Join(root, filepath.FromSlash(rel))
	st, err := os.Stat(filepath.Join(dir, PackageMarker))
	return Lib{Path: rel, Dir: dir, Package: err == nil && st.Mode().IsRegular()}
}

// Name is the lib's directory name: containers and images hold the lib as LIBS/Name, where
// LIBS is their directory of libs (image.LibsRoot).
func (l Lib) Name() string { return path.Base(l.Path) }

// ImportRoot returns the PYTHONPATH entry that makes the lib importable when its directory is
// at dir (its host Dir, or where a container or image has it): dir itself for a project, dir's
// parent for a package. Only the lib is copied into images, so a package's parent there holds
// nothing but libs, even when on the host it is the repository root.
func (l Lib) ImportRoot(dir string) string {
	if l.Package {
		return filepath.Dir(dir)
	}
	return dir
}

// ImportRoots returns the PYTHONPATH entries of the service's libs, in manifest order without
// repeats, when each lib's directory is at(lib): Lib.Dir on the host, LIBS/Name in a container.
func (s *Service) ImportRoots(at func(Lib) string) []string {
	var out []string
	seen := map[string]bool{}
	for _, l := range s.Libs {
		root := l.ImportRoot(at(l))
		if !seen[root] {
			seen[root] = true
			out = append(out, root)
		}
	}
	return out
}
