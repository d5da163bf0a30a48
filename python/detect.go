package python

import (
	"os"
	"path"
	"path/filepath"

	"github.com/pelletier/go-toml/v2"
)

// Detect names the dependency tool of the service in dir (slash-separated, relative to the
// repository root root) by the files it holds, and the evidence, for convoy init: a uv.lock —
// its own, or its uv workspace root's — (uv), a poetry.lock or a pyproject.toml with a
// [tool.poetry] table (poetry), a Pipfile (pipenv), a requirements.txt (pip), in that order. ok
// is false when it holds none of them.
func Detect(root, dir string) (tool, evidence string, ok bool) {
	has := func(rel string) bool {
		_, err := os.Stat(filepath.Join(root, filepath.FromSlash(rel)))
		return err == nil
	}
	dir = path.Clean(dir)
	if ws, err := findUVWorkspace(Project{Root: root, Dir: dir}); err == nil && has(path.Join(ws.root, uvLockFile)) {
		if ws.root == dir {
			return uvProject{}.Name(), uvLockFile, true
		}
		return uvProject{}.Name(), "the " + uvLockFile + " of its uv workspace, " + ws.root, true
	}
	switch {
	case has(path.Join(dir, poetryLock)):
		return poetryTool{}.Name(), poetryLock, true
	case isPoetryProject(filepath.Join(root, filepath.FromSlash(path.Join(dir, poetrySpec)))):
		return poetryTool{}.Name(), poetrySpec + "'s [tool.poetry]", true
	case has(path.Join(dir, pipenvSpec)):
		return pipenvTool{}.Name(), pipenvSpec, true
	case has(path.Join(dir, pipSpec)):
		return Pip, pipSpec, true
	}
	return "", "", false
}

// isPoetryProject reports whether the pyproject.toml file has a [tool.poetry] table.
func isPoetryProject(file string) bool {
	var p struct {
		Tool struct {
			Poetry map[string]any `toml:"poetry"`
		} `toml:"tool"`
	}
	b, err := os.ReadFile(file)
	return err == nil && toml.Unmarshal(b, &p) == nil && p.Tool.Poetry != nil
}
