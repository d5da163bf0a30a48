package python

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
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

// Resolve is Compile that first tries uv's cache alone (--offline, a few milliseconds instead
// of a round trip to the index per package): its answer is taken when every pin in it is a
// version c.Constraints holds or c.Spec pins exactly (name==version, whatever its markers).
// The metadata of a given version never changes, so the index could not have answered
// otherwise. Else — a package nothing pins, or one the cache does not know — it resolves
// online (Compile). The offline attempt's own output is not logged; a line says which way it
// went.
func (u *UV) Resolve(ctx context.Context, c Compile, x Exec) ([]string, error) {
	if c.Constraints != "" {
		pins, why := u.offline(ctx, c, x)
		if why == "" {
			logf(x.Log, "convoy: resolved from uv's cache: the gates' versions and the spec's pins fix every version\n")
			return pins, nil
		}
		logf(x.Log, "convoy: resolving online: %s\n", why)
	}
	return u.Compile(ctx, c, x)
}

// offline resolves c from uv's cache alone and returns the pins, or why they are not the
// answer.
func (u *UV) offline(ctx context.Context, c Compile, x Exec) ([]string, string) {
	held, err := heldPins(c, x.Dir)
	if err != nil {
		return nil, err.Error()
	}
	argv := append(CompileArgv(u.Path, c), "--offline")
	var out strings.Builder
	if err := run(ctx, argv, Exec{Dir: x.Dir, Env: u.Env(x.Env)}, &out); err != nil {
		return nil, "uv's cache cannot answer alone"
	}
	pins := Pins(out.String())
	for _, p := range pins {
		if !held[normalizePin(p)] {
			return nil, p + " is a version neither the constraints nor the spec pin"
		}
	}
	return pins, ""
}

// heldPins are the exact versions c's constraints hold and its spec pins, normalized
// (normalizePin). The spec's lines with an operator other than == (or a wildcard, or extras
// only) pin nothing; its -r includes are not read, which only means fewer pins.
func heldPins(c Compile, dir string) (map[string]bool, error) {
	held := map[string]bool{}
	for _, file := range []string{c.Constraints, c.Spec} {
		if !filepath.IsAbs(file) {
			file = filepath.Join(dir, file)
		}
		data, err := os.ReadFile(file)
		if err != nil {
			return nil, err
		}
		for _, line := range Pins(string(data)) {
			if p, ok := exactPin(line); ok {
				held[p] = true
			}
		}
	}
	return held, nil
}

// exactPin returns the normalized name==version of a requirement line that pins one exact
// version ("Django[argon2]==5.0.4 ; python_version >= '3.10'"), markers and extras aside.
func exactPin(line string) (string, bool) {
	if strings.HasPrefix(line, "-") {
		return "", false
	}
	req, _, _ := strings.Cut(line, ";")
	req, _, _ = strings.Cut(req, " #")
	req = strings.ReplaceAll(req, " ", "")
	if i, j := strings.Index(req, "["), strings.Index(req, "]"); i >= 0 && j > i {
		req = req[:i] + req[j+1:]
	}
	name, version, ok := strings.Cut(req, "==")
	if !ok || name == "" || version == "" || strings.ContainsAny(version, "=<>!~*,@") {
		return "", false
	}
	return normalizePin(name + "==" + version), true
}

// normalizePin spells a name==version pin the way PEP 503 compares names: lower case, runs of
// "-", "_" and "." as one "-".
func normalizePin(pin string) string {
	name, version, ok := strings.Cut(pin, "==")
	if !ok {
		return pin
	}
	name = strings.ToLower(strings.TrimSpace(name))
	name = strings.Join(strings.FieldsFunc(name, func(r rune) bool { return r == '-' || r == '_' || r == '.' }), "-")
	return name + "==" + strings.TrimSpace(version)
}

func logf(w io.Writer, format string, args ...any) {
	if w != nil {
		fmt.Fprintf(w, format, args...)
	}
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
