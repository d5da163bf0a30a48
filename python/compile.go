package python

import (
	"context"
	"fmt"
	"sort"
	"strings"
)

// Compile resolves a service's runtime requirements for the interpreter and platform of its
// image: the pinned closure of Spec, held to the versions of Constraints, with every
// environment marker evaluated for Target.
type Compile struct {
	// Spec is the requirements file: requirements.txt, or what `pipenv requirements` printed
	// (markers kept). Relative paths in it are relative to the working directory.
	Spec string
	// Constraints, when set, is a constraints file: the versions the gates installed (Freeze),
	// so that the image gets what was tested wherever the target allows it.
	Constraints string
	// Target is what to resolve for.
	Target Target
	// Python is an interpreter uv may use for what it cannot know from Target (the
	// implementation's markers); its own version and platform do not matter. Naming one
	// spares uv a search of PATH.
	Python string
}

// CompileArgv is the `uv pip compile` that resolves c with the uv at uv, printing the pins,
// one name==version a line, on standard output (read them with Pins). Only wheels are
// considered, since only wheels are installed into images; uv's configuration files are
// ignored, so that a service's pyproject.toml or the host's uv.toml changes nothing.
func CompileArgv(uv string, c Compile) []string {
	argv := []string{uv, "pip", "compile", "--no-config"}
	if c.Python != "" {
		argv = append(argv, "--python", c.Python)
	}
	argv = append(argv, c.Target.Args()...)
	argv = append(argv, "--only-binary", ":all:", "--no-header", "--no-annotate")
	if c.Constraints != "" {
		argv = append(argv, "--constraints", c.Constraints)
	}
	return append(argv, c.Spec)
}

// Compile runs CompileArgv(u.Path, c) as x says (with u.Env(x.Env)) and returns the pins,
// sorted.
func (u *UV) Compile(ctx context.Context, c Compile, x Exec) ([]string, error) {
	x.Env = u.Env(x.Env)
	var out strings.Builder
	if err := run(ctx, CompileArgv(u.Path, c), x, &out); err != nil {
		return nil, fmt.Errorf("resolving %s for %s: %w", c.Spec, c.Target, err)
	}
	return Pins(out.String()), nil
}

// Pins returns the requirement lines of a resolution (uv pip compile's output), trimmed and
// sorted: blank lines, comments and option lines (--index-url …) dropped.
func Pins(text string) []string {
	var out []string
	for _, line := range strings.Split(text, "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") || strings.HasPrefix(line, "--") {
			continue
		}
		out = append(out, line)
	}
	sort.Strings(out)
	return out
}
