package scaffold

import (
	"bytes"
	"embed"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"text/template"
	"unicode/utf8"

	"github.com/convoy-ci/convoy/pipeline/config"
)

// EntryFile is the file of a template that holds the body of the service's manifest entry
// (every key but name and path, which convoy writes), rendered like the other files and not
// copied into the service.
const EntryFile = "service.yaml"

//go:embed all:templates/django
var builtin embed.FS

// builtinRoot is the built-in template in builtin: common/ for every tool, one directory per
// dependency tool it supports with that tool's files, and EntryFile.
const builtinRoot = "templates/django"

// templateSuffix ends the name of every file of the built-in template ("manage.py.tmpl"), so
// that what scans or checks this repository (convoy init looking for manage.py, flake8, pytest)
// takes none of them for code; rendering drops it.
const templateSuffix = ".tmpl"

// modulePlaceholder stands for Vars.Module in the built-in template's paths.
const modulePlaceholder = "MODULE"

// renderer renders a template for a service.
type renderer interface {
	// render returns the service's files (paths relative to its directory) and the body of its
	// manifest entry.
	render(v Vars) (files map[string][]byte, entry string, err error)
}

// templateFor is the manifest's template directory, or the built-in one.
func templateFor(cfg *config.Config) (renderer, error) {
	if cfg.Template == "" {
		return builtinTemplate{}, nil
	}
	return repoTemplate{dir: filepath.Join(cfg.Root, filepath.FromSlash(cfg.Template)), rel: cfg.Template}, nil
}

// builtinTemplate is convoy's Django+DRF service in text/template syntax ({{.Module}}).
type builtinTemplate struct{}

func (builtinTemplate) render(v Vars) (map[string][]byte, string, error) {
	toolDir := path.Join(builtinRoot, v.Deps)
	if _, err := fs.Stat(builtin, toolDir); err != nil {
		return nil, "", refuse("the built-in template has no %s service (expected --deps %s, or a template: directory of the repository's own)",
			v.Deps, strings.Join(builtinTools(), " or --deps "))
	}
	files := map[string][]byte{}
	for _, dir := range []string{path.Join(builtinRoot, "common"), toolDir} {
		err := fs.WalkDir(builtin, dir, func(p string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return err
			}
			data, err := builtin.ReadFile(p)
			if err != nil {
				return err
			}
			out, err := execute(p, data, v)
			if err != nil {
				return err
			}
			rel := strings.ReplaceAll(strings.TrimPrefix(p, dir+"/"), modulePlaceholder, v.Module)
			rel = strings.TrimSuffix(rel, templateSuffix)
			files[rel] = out
			return nil
		})
		if err != nil {
			return nil, "", fmt.Errorf("rendering the built-in template: %w", err)
		}
	}
	entry, err := builtin.ReadFile(path.Join(builtinRoot, EntryFile))
	if err != nil {
		return nil, "", fmt.Errorf("rendering the built-in template: %w", err)
	}
	out, err := execute(EntryFile, entry, v)
	if err != nil {
		return nil, "", fmt.Errorf("rendering the built-in template: %w", err)
	}
	return files, string(out), nil
}

// builtinTools are the dependency tools the built-in template has files for.
func builtinTools() []string {
	entries, _ := builtin.ReadDir(builtinRoot)
	var tools []string
	for _, e := range entries {
		if e.IsDir() && e.Name() != "common" {
			tools = append(tools, e.Name())
		}
	}
	return tools
}

// execute renders one built-in file with text/template.
func execute(name string, data []byte, v Vars) ([]byte, error) {
	t, err := template.New(name).Option("missingkey=error").Parse(string(data))
	if err != nil {
		return nil, err
	}
	var b bytes.Buffer
	if err := t.Execute(&b, v); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// repoTemplate is a directory of the repository: its files and paths may use
// {{cookiecutter.VAR}} (see cookiecutterVars), substituted as they are (no other template
// syntax); EntryFile is the manifest entry. Files that are not UTF-8 text are copied as they are.
type repoTemplate struct {
	dir string // on disk
	rel string // as the manifest names it
}

// cookiecutterVar is one {{cookiecutter.VAR}} reference.
var cookiecutterVar = regexp.MustCompile(`\{\{\s*cookiecutter\.([A-Za-z_][A-Za-z0-9_]*)\s*\}\}`)

// cookiecutterVars are the variables a repository template may use, by name.
func cookiecutterVars(v Vars) map[string]string {
	return map[string]string{"name": v.Name, "module": v.Module, "class": v.Class, "path": v.Path, "deps": v.Deps,
		"python": v.Python, "database_env": v.DatabaseEnv}
}

func (t repoTemplate) render(v Vars) (map[string][]byte, string, error) {
	vars := cookiecutterVars(v)
	files := map[string][]byte{}
	var entry string
	err := filepath.WalkDir(t.dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(t.dir, p)
		rel = filepath.ToSlash(rel)
		if d.IsDir() || rel == "." {
			return nil
		}
		if !d.Type().IsRegular() {
			return refuse("%s/%s is not a regular file (expected files and directories only)", t.rel, rel)
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		where := path.Join(t.rel, rel)
		name, err := substitute(where, 0, rel, vars)
		if err != nil {
			return err
		}
		if utf8.Valid(data) {
			out, err := substituteLines(where, string(data), vars)
			if err != nil {
				return err
			}
			data = []byte(out)
		}
		if rel == EntryFile {
			entry = string(data)
			return nil
		}
		files[name] = data
		return nil
	})
	if err != nil {
		return nil, "", fmt.Errorf("rendering the template %s: %w", t.rel, err)
	}
	return files, entry, nil
}

// substituteLines replaces every {{cookiecutter.VAR}} in text; an unknown VAR is refused with
// where:LINE.
func substituteLines(where, text string, vars map[string]string) (string, error) {
	lines := strings.SplitAfter(text, "\n")
	for i, line := range lines {
		out, err := substitute(where, i+1, line, vars)
		if err != nil {
			return "", err
		}
		lines[i] = out
	}
	return strings.Join(lines, ""), nil
}

// substitute replaces every {{cookiecutter.VAR}} in s (line of where, 0 for its path).
func substitute(where string, line int, s string, vars map[string]string) (string, error) {
	var bad string
	out := cookiecutterVar.ReplaceAllStringFunc(s, func(m string) string {
		key := cookiecutterVar.FindStringSubmatch(m)[1]
		val, ok := vars[key]
		if !ok && bad == "" {
			bad = key
		}
		return val
	})
	if bad != "" {
		pos := where
		if line > 0 {
			pos = fmt.Sprintf("%s:%d", where, line)
		}
		names := make([]string, 0, len(vars))
		for k := range vars {
			names = append(names, "cookiecutter."+k)
		}
		sort.Strings(names)
		return "", refuse("%s: unknown variable cookiecutter.%s (expected one of %s)", pos, bad, strings.Join(names, ", "))
	}
	return out, nil
}
