package initgen

import (
	"bufio"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"

	"github.com/pelletier/go-toml/v2"
)

// reqNameRe is the project name at the start of a requirement specifier.
var reqNameRe = regexp.MustCompile(`^([A-Za-z0-9][A-Za-z0-9._-]*)`)

// separatorsRe are the runs PEP 503 folds into one "-".
var separatorsRe = regexp.MustCompile(`[-_.]+`)

// normName normalises a distribution name as PEP 503 does (Django_REST → django-rest).
func normName(n string) string {
	return strings.ToLower(separatorsRe.ReplaceAllString(n, "-"))
}

// dependencyNames are the normalised names of the packages a service's spec (with its dev and
// test groups) lists, for the given tool.
func dependencyNames(dir, tool string) map[string]bool {
	names := map[string]bool{}
	add := func(m map[string]bool) {
		for n := range m {
			names[n] = true
		}
	}
	switch tool {
	case "pipenv":
		add(pipfileNames(filepath.Join(dir, "Pipfile")))
	case "poetry", "uv":
		add(pyprojectNames(filepath.Join(dir, "pyproject.toml")))
	default:
		add(pyprojectNames(filepath.Join(dir, "pyproject.toml")))
		for _, f := range []string{"requirements.txt", "requirements-dev.txt"} {
			add(requirementNames(filepath.Join(dir, f), 0))
		}
	}
	return names
}

// requirementNames reads a requirements file, following its -r includes.
func requirementNames(file string, depth int) map[string]bool {
	names := map[string]bool{}
	f, err := os.Open(file)
	if err != nil || depth > 5 {
		return names
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(strings.SplitN(sc.Text(), " #", 2)[0])
		if inc, ok := strings.CutPrefix(line, "-r"); ok {
			for n := range requirementNames(filepath.Join(filepath.Dir(file), strings.TrimSpace(inc)), depth+1) {
				names[n] = true
			}
			continue
		}
		if m := reqNameRe.FindString(line); m != "" {
			names[normName(m)] = true
		}
	}
	return names
}

// pipfileNames reads a Pipfile's packages and dev-packages.
func pipfileNames(file string) map[string]bool {
	var pf struct {
		Packages    map[string]any `toml:"packages"`
		DevPackages map[string]any `toml:"dev-packages"`
	}
	names := map[string]bool{}
	if b, err := os.ReadFile(file); err != nil || toml.Unmarshal(b, &pf) != nil {
		return names
	}
	for _, sec := range []map[string]any{pf.Packages, pf.DevPackages} {
		for n := range sec {
			names[normName(n)] = true
		}
	}
	return names
}

// pyproject is what the scan reads of a pyproject.toml.
type pyproject struct {
	Project struct {
		Dependencies         []string            `toml:"dependencies"`
		OptionalDependencies map[string][]string `toml:"optional-dependencies"`
	} `toml:"project"`
	DependencyGroups map[string][]any `toml:"dependency-groups"`
	Tool             struct {
		Poetry *struct {
			Dependencies map[string]any `toml:"dependencies"`
			Group        map[string]struct {
				Dependencies map[string]any `toml:"dependencies"`
			} `toml:"group"`
		} `toml:"poetry"`
	} `toml:"tool"`
}

// readPyproject parses a pyproject.toml; ok is false when it is missing or malformed.
func readPyproject(file string) (pyproject, bool) {
	var p pyproject
	b, err := os.ReadFile(file)
	return p, err == nil && toml.Unmarshal(b, &p) == nil
}

// pyprojectNames reads the dependencies of a pyproject.toml: PEP 621 ones, dependency groups,
// optional dependencies and poetry's groups.
func pyprojectNames(file string) map[string]bool {
	names := map[string]bool{}
	p, ok := readPyproject(file)
	if !ok {
		return names
	}
	specs := append([]string(nil), p.Project.Dependencies...)
	for _, l := range p.Project.OptionalDependencies {
		specs = append(specs, l...)
	}
	for _, l := range p.DependencyGroups {
		for _, v := range l {
			if s, ok := v.(string); ok {
				specs = append(specs, s)
			}
		}
	}
	for _, s := range specs {
		if m := reqNameRe.FindString(strings.TrimSpace(s)); m != "" {
			names[normName(m)] = true
		}
	}
	if p.Tool.Poetry != nil {
		for n := range p.Tool.Poetry.Dependencies {
			names[normName(n)] = true
		}
		for _, g := range p.Tool.Poetry.Group {
			for n := range g.Dependencies {
				names[normName(n)] = true
			}
		}
	}
	delete(names, "python")
	return names
}

// dockerfile is what the scan reads of a service's Dockerfile.
type dockerfile struct {
	expose          int
	python          string // X.Y of a FROM python:X.Y… line
	entrypoint, cmd []string
	cmdWhy          string
}

// command is the container's run command: ENTRYPOINT then CMD.
func (d dockerfile) command() []string {
	return append(append([]string(nil), d.entrypoint...), d.cmd...)
}

var fromPythonRe = regexp.MustCompile(`(?i)^FROM\s+(?:\S+/)?python:(\d+\.\d+)`)

// readDockerfile reads the instructions the scan needs; a missing file reads as empty. Only the
// last stage's CMD and ENTRYPOINT count, as in a build.
func readDockerfile(file string) dockerfile {
	var d dockerfile
	b, err := os.ReadFile(file)
	if err != nil {
		return d
	}
	text := strings.ReplaceAll(string(b), "\\\n", " ")
	for _, line := range strings.Split(text, "\n") {
		line = strings.TrimSpace(line)
		instr, args, _ := strings.Cut(line, " ")
		args = strings.TrimSpace(args)
		switch strings.ToUpper(instr) {
		case "FROM":
			if m := fromPythonRe.FindStringSubmatch(line); m != nil {
				d.python = m[1]
			}
		case "EXPOSE":
			d.expose = leadingInt(args)
		case "CMD":
			d.cmd = dockerArgs(args)
		case "ENTRYPOINT":
			d.entrypoint = dockerArgs(args)
		}
	}
	switch {
	case len(d.entrypoint) > 0 && len(d.cmd) > 0:
		d.cmdWhy = "ENTRYPOINT and CMD"
	case len(d.entrypoint) > 0:
		d.cmdWhy = "ENTRYPOINT"
	default:
		d.cmdWhy = "CMD"
	}
	return d
}

// dockerArgs reads an instruction's exec form (a JSON array) or shell form (split on spaces).
func dockerArgs(args string) []string {
	var argv []string
	if json.Unmarshal([]byte(args), &argv) == nil {
		return argv
	}
	return strings.Fields(args)
}

// leadingInt is the number args starts with (80 of "80/tcp 443"), 0 when none.
func leadingInt(args string) int {
	n := 0
	for _, c := range args {
		if c < '0' || c > '9' {
			break
		}
		n = n*10 + int(c-'0')
	}
	return n
}
