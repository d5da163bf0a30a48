package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/moby/patternmatcher"
	"gopkg.in/yaml.v3"

	"github.com/convoy-ci/convoy/image"
	"github.com/convoy-ci/convoy/internal/filekind"
	"github.com/convoy-ci/convoy/python"
)

// Problem is one thing wrong with a manifest, at a position in it.
type Problem struct {
	File string
	Line int
	Col  int
	Msg  string
}

// String formats the problem as FILE:LINE:COL: message, the shape editors and CI annotate.
func (p Problem) String() string {
	return fmt.Sprintf("%s:%d:%d: %s", p.File, p.Line, p.Col, p.Msg)
}

// Error is every Problem found in a manifest. Load returns it (as *Error) when the manifest is
// invalid; nothing should run then.
type Error struct {
	Problems []Problem
}

// Error lists every problem, one per line, in file order.
func (e *Error) Error() string {
	lines := make([]string, len(e.Problems))
	for i, p := range e.Problems {
		lines[i] = p.String()
	}
	return strings.Join(lines, "\n")
}

var (
	// serviceName is a DNS label in which single underscores may stand between letters and
	// digits (user_service): valid as an OCI repository name as it is, and as a hostname once
	// DNSName has replaced them.
	serviceName = regexp.MustCompile(`^[a-z0-9]+((-+|_)[a-z0-9]+)*$`)
	// dnsLabel is a DNS label (RFC 1123): a process's name, part of hostnames and reports.
	dnsLabel   = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$`)
	envName    = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)
	yamlLineRe = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)
)

// Load reads the manifest at file and validates it against the repository at root. A relative
// file is taken relative to root; an empty root means the directory holding file. The returned
// error is an *Error listing every problem when the manifest is invalid, or a plain error when it
// cannot be read.
func Load(file, root string) (*Config, error) {
	if root == "" {
		root = filepath.Dir(file)
	}
	absRoot, err := filepath.Abs(root)
	if err != nil {
		return nil, fmt.Errorf("resolving repository %q: %w", root, err)
	}
	if st, err := os.Stat(absRoot); err != nil || !st.IsDir() {
		return nil, fmt.Errorf("repository %q is not a directory", root)
	}
	path := file
	if !filepath.IsAbs(path) {
		path = filepath.Join(absRoot, file)
	}
	data, err := readManifest(path)
	if err != nil {
		return nil, err
	}
	return Parse(data, file, absRoot)
}

// MaxManifestSize bounds a manifest: a larger file is refused, not read.
const MaxManifestSize = 1 << 20

// readManifest reads the regular file at path, of at most MaxManifestSize bytes: a FIFO or a
// device (-f /dev/zero) is refused before it is opened, so reading never blocks nor grows.
func readManifest(path string) ([]byte, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("reading manifest: %w", err)
	}
	if !st.Mode().IsRegular() {
		return nil, fmt.Errorf("reading manifest: %s is not a regular file (it is a %s; expected a services.yaml)", path, filekind.Of(st.Mode()))
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("reading manifest: %w", err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, MaxManifestSize+1))
	if err != nil {
		return nil, fmt.Errorf("reading manifest: %w", err)
	}
	if len(data) > MaxManifestSize {
		return nil, fmt.Errorf("reading manifest: %s is larger than %d bytes (expected a services.yaml)", path, MaxManifestSize)
	}
	return data, nil
}

// Parse validates manifest bytes; name is used in messages and root must be absolute.
func Parse(data []byte, name, root string) (*Config, error) {
	d := &decoder{file: name, root: root, realRoot: root}
	if real, err := filepath.EvalSymlinks(root); err == nil {
		d.realRoot = real
	}
	cfg := d.decode(data)
	if len(d.problems) > 0 {
		sort.SliceStable(d.problems, func(i, j int) bool {
			a, b := d.problems[i], d.problems[j]
			if a.Line != b.Line {
				return a.Line < b.Line
			}
			return a.Col < b.Col
		})
		return nil, &Error{Problems: d.problems}
	}
	return cfg, nil
}

// decoder walks the YAML node tree, collecting problems instead of stopping at the first.
type decoder struct {
	file     string
	root     string
	realRoot string // root with its symlinks resolved, for containment checks
	problems []Problem
	// integrationEnv is integration.env's node, checked once the defaults are known.
	integrationEnv *yaml.Node
	// baseAt is where each base: value was first written (Config.baseAt).
	baseAt map[string]Problem
}

func (d *decoder) errorf(n *yaml.Node, format string, args ...any) {
	line, col := 1, 1
	if n != nil && n.Line > 0 {
		line, col = n.Line, n.Column
	}
	d.problems = append(d.problems, Problem{File: d.file, Line: line, Col: col, Msg: fmt.Sprintf(format, args...)})
}

func (d *decoder) decode(data []byte) *Config {
	var doc yaml.Node
	dec := yaml.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&doc); err != nil && !errors.Is(err, io.EOF) {
		d.syntaxError(err)
		return nil
	}
	var next yaml.Node
	if err := dec.Decode(&next); err == nil {
		line := 1
		if len(next.Content) > 0 {
			line = next.Content[0].Line
		}
		d.errorf(&yaml.Node{Line: max(line-1, 1), Column: 1}, "a second YAML document (expected one manifest: remove the --- line and what follows it, or merge them)")
		return nil
	}
	if doc.Kind == 0 || len(doc.Content) == 0 {
		d.errorf(nil, "the file is empty (expected a mapping starting with version: 1)")
		return nil
	}
	top := doc.Content[0]
	cfg := &Config{File: d.file, Root: d.root, baseAt: map[string]Problem{}}
	d.baseAt = cfg.baseAt
	var servicesNode, versionNode *yaml.Node
	d.mapping(top, "the top level", map[string]func(k, v *yaml.Node){
		"version": func(k, v *yaml.Node) {
			versionNode = v
			if n, ok := d.integer(v); ok {
				cfg.Version = n
				if n != 1 {
					d.errorf(v, "unsupported version %d (expected 1)", n)
				}
			}
		},
		"defaults":    func(k, v *yaml.Node) { d.defaults(v, &cfg.Defaults) },
		"services":    func(k, v *yaml.Node) { servicesNode = v },
		"integration": func(k, v *yaml.Node) { d.integration(k, v, &cfg.Integration) },
		"release":     func(k, v *yaml.Node) { d.release(v, &cfg.Release) },
		"template": func(k, v *yaml.Node) {
			if t, ok := d.str(v, "template"); ok {
				cfg.Template = d.repoPath(v, t, "template", true)
			}
		},
	})
	if top.Kind != yaml.MappingNode {
		return nil
	}
	if versionNode == nil {
		d.errorf(top, "missing key \"version\" (expected version: 1)")
	}
	applyDefaultDefaults(&cfg.Defaults)
	if d.integrationEnv != nil {
		d.ownedEnv(d.integrationEnv, "integration.env", append(slices.Clone(IntegrationEnv), cfg.Defaults.Database.Env))
	}
	if cfg.Integration.Timeout == 0 {
		cfg.Integration.Timeout = cfg.Defaults.Timeout
	}
	if servicesNode == nil {
		d.errorf(top, "missing key \"services\" (expected a list of services)")
		return cfg
	}
	d.services(servicesNode, cfg)
	return cfg
}

// syntaxError turns a yaml.v3 parse error into positioned problems.
func (d *decoder) syntaxError(err error) {
	var te *yaml.TypeError
	msgs := []string{err.Error()}
	if errors.As(err, &te) {
		msgs = te.Errors
	}
	for _, m := range msgs {
		m = strings.TrimPrefix(m, "yaml: ")
		line := 1
		if sm := yamlLineRe.FindStringSubmatch("yaml: " + m); sm != nil {
			line, _ = strconv.Atoi(sm[1])
			m = sm[2]
		}
		d.problems = append(d.problems, Problem{File: d.file, Line: line, Col: 1,
			Msg: fmt.Sprintf("invalid YAML: %s (expected a well-formed YAML document)", m)})
	}
}

// mapping checks that n is a mapping, reports unknown and duplicate keys, and calls the
// handler of every known key.
func (d *decoder) mapping(n *yaml.Node, what string, fields map[string]func(k, v *yaml.Node)) {
	if n.Kind != yaml.MappingNode {
		d.errorf(n, "%s must be a mapping, not %s (expected key: value pairs)", what, kindName(n))
		return
	}
	seen := map[string]int{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if first, dup := seen[k.Value]; dup {
			d.errorf(k, "duplicate key %q in %s (first set at line %d)", k.Value, what, first)
			continue
		}
		seen[k.Value] = k.Line
		h, ok := fields[k.Value]
		if !ok {
			d.errorf(k, "unknown key %q in %s (expected one of: %s)", k.Value, what, keyList(fields))
			continue
		}
		h(k, v)
	}
}

func keyList(fields map[string]func(k, v *yaml.Node)) string {
	keys := make([]string, 0, len(fields))
	for k := range fields {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return strings.Join(keys, ", ")
}

func kindName(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.AliasNode:
		return "an alias"
	case yaml.ScalarNode:
		if n.Tag == "!!null" {
			return "null"
		}
		return fmt.Sprintf("the scalar %q", n.Value)
	}
	return "nothing"
}

func (d *decoder) str(n *yaml.Node, what string) (string, bool) {
	if n.Kind != yaml.ScalarNode || n.Tag == "!!null" {
		d.errorf(n, "%s must be a string, not %s", what, kindName(n))
		return "", false
	}
	return n.Value, true
}

// base reads base: and checks that it parses (image.ParseBase); what it names on disk is checked
// by Config.NeedImages, for the commands that build images.
func (d *decoder) base(n *yaml.Node) string {
	s, ok := d.str(n, "base")
	if !ok {
		return ""
	}
	if _, err := image.ParseBase(s); err != nil {
		d.errorf(n, "base: %v (%s)", err, baseExpected)
		return s
	}
	if _, seen := d.baseAt[s]; !seen && d.baseAt != nil {
		d.baseAt[s] = Problem{File: d.file, Line: n.Line, Col: n.Column}
	}
	return s
}

// baseExpected is what base: takes, for messages.
const baseExpected = "expected a registry reference like python:3.11-slim, oci-layout:DIR[:TAG] or docker-archive:FILE"

// pythonVersionRE is a Python version as python: gives it: major.minor, python3.11 on PATH.
var pythonVersionRE = regexp.MustCompile(`^3\.[0-9]{1,2}$`)

// pythonVersion reads python: — a version like 3.11, which names an interpreter (python3.11)
// and a directory of the cache, so nothing else is taken.
func (d *decoder) pythonVersion(n *yaml.Node) string {
	s, ok := d.str(n, "python")
	if !ok {
		return ""
	}
	if !pythonVersionRE.MatchString(s) {
		d.errorf(n, "python %q: expected a version like \"3.11\" (convoy runs python3.11 from PATH)", s)
		return ""
	}
	return s
}

func (d *decoder) integer(n *yaml.Node) (int, bool) {
	if n.Kind != yaml.ScalarNode || n.Tag != "!!int" {
		d.errorf(n, "expected an integer, not %s", kindName(n))
		return 0, false
	}
	v, err := strconv.Atoi(n.Value)
	if err != nil {
		d.errorf(n, "expected an integer, not %q", n.Value)
		return 0, false
	}
	return v, true
}

func (d *decoder) duration(n *yaml.Node, what string) (time.Duration, bool) {
	s, ok := d.str(n, what)
	if !ok {
		return 0, false
	}
	v, err := time.ParseDuration(s)
	if err != nil || v <= 0 {
		d.errorf(n, "%s %q is not a positive duration (expected e.g. 90s, 10m, 1h30m)", what, s)
		return 0, false
	}
	return v, true
}

func (d *decoder) strList(n *yaml.Node, what string) ([]string, bool) {
	if n.Kind != yaml.SequenceNode {
		d.errorf(n, "%s must be a list of strings, not %s", what, kindName(n))
		return nil, false
	}
	out := make([]string, 0, len(n.Content))
	ok := true
	for _, item := range n.Content {
		s, good := d.str(item, what+" item")
		ok = ok && good
		out = append(out, s)
	}
	return out, ok
}

// boolean reads true or false.
func (d *decoder) boolean(n *yaml.Node, what string) bool {
	if n.Kind != yaml.ScalarNode || n.Tag != "!!bool" {
		d.errorf(n, "%s must be true or false, not %s", what, kindName(n))
		return false
	}
	return n.Value == "true" || n.Value == "True" || n.Value == "TRUE"
}

// argv reads a command: a non-empty list of strings, never a shell string.
func (d *decoder) argv(n *yaml.Node, what string) []string {
	if n.Kind == yaml.ScalarNode && n.Tag == "!!str" {
		d.errorf(n, "%s must be an argv list, not the string %q (expected e.g. [python, -m, pytest]; write [sh, -c, \"...\"] for a shell command)", what, n.Value)
		return nil
	}
	list, ok := d.strList(n, what)
	if !ok {
		return nil
	}
	if len(list) == 0 || list[0] == "" {
		d.errorf(n, "%s must not be empty (expected a program and its arguments)", what)
		return nil
	}
	return list
}

// argvOrNone is argv, but an empty list ([]) is allowed: it means no command, and is returned
// as an empty, non-nil slice.
func (d *decoder) argvOrNone(n *yaml.Node, what string) []string {
	if n.Kind == yaml.SequenceNode && len(n.Content) == 0 {
		return []string{}
	}
	return d.argv(n, what)
}

func (d *decoder) env(n *yaml.Node, what string) map[string]string {
	if n.Kind != yaml.MappingNode {
		d.errorf(n, "%s must be a mapping of NAME: value, not %s", what, kindName(n))
		return nil
	}
	out := map[string]string{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if !envName.MatchString(k.Value) {
			d.errorf(k, "%s: %q is not a valid variable name (expected letters, digits and _)", what, k.Value)
			continue
		}
		if _, dup := out[k.Value]; dup {
			d.errorf(k, "%s: duplicate variable %q", what, k.Value)
			continue
		}
		if v.Kind != yaml.ScalarNode || v.Tag == "!!null" {
			d.errorf(v, "%s: value of %s must be a string, not %s", what, k.Value, kindName(v))
			continue
		}
		out[k.Value] = v.Value
	}
	return out
}

func (d *decoder) depsTool(n *yaml.Node) string {
	s, ok := d.str(n, "deps")
	if !ok {
		return ""
	}
	if _, ok := python.ToolNamed(s); !ok {
		d.errorf(n, "unknown dependency tool %q (expected one of %s)", s, strings.Join(python.ToolNames(), ", "))
		return ""
	}
	return s
}

// installer reads an installer: value, uv or pip.
func (d *decoder) installer(n *yaml.Node) string {
	return d.oneOf(n, "installer", InstallerUV, InstallerPip)
}

// oneOf reads the string value of key at n, which must be one of allowed; "" when it is not
// (reported at n).
func (d *decoder) oneOf(n *yaml.Node, key string, allowed ...string) string {
	s, ok := d.str(n, key)
	if !ok {
		return ""
	}
	if !slices.Contains(allowed, s) {
		last := len(allowed) - 1
		d.errorf(n, "unknown %s %q (expected %s or %s)", key, s, strings.Join(allowed[:last], ", "), allowed[last])
		return ""
	}
	return s
}

func (d *decoder) defaults(n *yaml.Node, df *Defaults) {
	var envNode *yaml.Node
	d.mapping(n, "defaults", map[string]func(k, v *yaml.Node){
		"python": func(k, v *yaml.Node) { df.Python = d.pythonVersion(v) },
		"base":   func(k, v *yaml.Node) { df.Base = d.base(v) },
		"deps":   func(k, v *yaml.Node) { df.Deps = d.depsTool(v) },
		"installer": func(k, v *yaml.Node) {
			if s := d.installer(v); s != "" {
				df.Installer = s
			}
		},
		"timeout":  func(k, v *yaml.Node) { df.Timeout, _ = d.duration(v, "timeout") },
		"unit":     func(k, v *yaml.Node) { df.Unit = d.argv(v, "unit") },
		"lint":     func(k, v *yaml.Node) { df.Lint = d.argv(v, "lint") },
		"populate": func(k, v *yaml.Node) { df.Populate = d.argvOrNone(v, "populate") },
		"migrate":  func(k, v *yaml.Node) { df.Migrate = d.argvOrNone(v, "migrate") },
		"prestart": func(k, v *yaml.Node) { df.Prestart = d.argvOrNone(v, "prestart") },
		"image":    func(k, v *yaml.Node) { df.Image = d.image(v) },
		"database": func(k, v *yaml.Node) { df.Database = d.database(v).over(Database{}) },
		"tools":    func(k, v *yaml.Node) { df.Tools = d.tools(v) },
		"lint_mode": func(k, v *yaml.Node) {
			if s := d.lintMode(v); s != "" {
				df.LintMode = s
			}
		},
		"env": func(k, v *yaml.Node) {
			df.Env = d.env(v, "env")
			envNode = v
		},
	})
	applyDefaultDefaults(df)
	if envNode != nil {
		d.ownedEnv(envNode, "env", append(slices.Clone(ReservedEnv), df.Database.Env))
	}
}

// database reads a database: block; a key it does not set stays "".
func (d *decoder) database(n *yaml.Node) Database {
	var db Database
	d.mapping(n, "database", map[string]func(k, v *yaml.Node){
		"env": func(k, v *yaml.Node) {
			if s, ok := d.str(v, "database.env"); ok {
				if !envName.MatchString(s) {
					d.errorf(v, "database.env %q is not a valid variable name (expected letters, digits and _, e.g. DATABASE_URL)", s)
					return
				}
				db.Env = s
			}
		},
		"unit": func(k, v *yaml.Node) {
			if s := d.oneOf(v, "database.unit", DatabaseSQLite, DatabaseNone); s != "" {
				db.Unit = s
			}
		},
	})
	return db
}

// lintMode reads a lint_mode: value, fail or warn.
func (d *decoder) lintMode(n *yaml.Node) string { return d.oneOf(n, "lint_mode", LintFail, LintWarn) }

// tools reads a tools: block.
func (d *decoder) tools(n *yaml.Node) Tools {
	var t Tools
	d.mapping(n, "tools", map[string]func(k, v *yaml.Node){
		"requirements": func(k, v *yaml.Node) {
			s, ok := d.str(v, "tools.requirements")
			if !ok {
				return
			}
			if p := d.repoPath(v, s, "tools.requirements", false); p != "" {
				if st, err := os.Stat(filepath.Join(d.root, filepath.FromSlash(p))); err == nil && st.IsDir() {
					d.errorf(v, "tools.requirements %q is a directory (expected a requirements file, e.g. requirements-dev.txt)", s)
					return
				}
				t.Requirements = p
			}
		},
		"packages": func(k, v *yaml.Node) {
			list, _ := d.strList(v, "tools.packages")
			for i, s := range list {
				if strings.TrimSpace(s) == "" || strings.HasPrefix(s, "-") {
					d.errorf(v.Content[i], "tools.packages: %q is not a requirement (expected e.g. pytest or flake8==7.1.1; options belong in tools.requirements' file)", s)
					continue
				}
				t.Packages = append(t.Packages, s)
			}
		},
	})
	return t
}

// over returns db with base's values where db sets none.
func (db Database) over(base Database) Database {
	if db.Env == "" {
		db.Env = base.Env
	}
	if db.Unit == "" {
		db.Unit = base.Unit
	}
	return db
}

// ownedEnv reports every variable of the env mapping n that convoy sets itself (owned): the
// manifest's value would be overridden, or would override convoy's.
func (d *decoder) ownedEnv(n *yaml.Node, what string, owned []string) {
	if n.Kind != yaml.MappingNode {
		return
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if k := n.Content[i]; slices.Contains(owned, k.Value) {
			d.errorf(k, "%s: %s is set by convoy (expected other variables; convoy owns %s)", what, k.Value, strings.Join(owned, ", "))
		}
	}
}

// image reads an image: block; a key it does not set stays nil.
func (d *decoder) image(n *yaml.Node) Image {
	var im Image
	d.mapping(n, "image", map[string]func(k, v *yaml.Node){
		"env":     func(k, v *yaml.Node) { im.Env = d.env(v, "image.env") },
		"include": func(k, v *yaml.Node) { im.Include = d.patterns(v, "image.include") },
	})
	return im
}

// over returns im applied over base: env merged key by key (im's win), include replaced when im
// sets it. The result shares nothing with either.
func (im Image) over(base Image) Image {
	out := Image{Env: maps.Clone(base.Env), Include: slices.Clone(base.Include)}
	if out.Env == nil {
		out.Env = map[string]string{}
	}
	maps.Copy(out.Env, im.Env)
	if im.Include != nil {
		out.Include = slices.Clone(im.Include)
	}
	return out
}

// patterns reads a list of .dockerignore-style path patterns, relative to a directory.
func (d *decoder) patterns(n *yaml.Node, what string) []string {
	list, ok := d.strList(n, what)
	if !ok {
		return nil
	}
	out := make([]string, 0, len(list))
	for i, p := range list {
		at := n.Content[i]
		clean := filepath.Clean(strings.TrimSpace(p))
		switch {
		case strings.TrimSpace(p) == "":
			d.errorf(at, "%s: empty pattern (expected a path pattern such as tests/)", what)
		case strings.HasPrefix(p, "!"):
			d.errorf(at, "%s: pattern %q starts with ! (expected a pattern of files to include; include is already the exception to the dev-only rules)", what, p)
		case filepath.IsAbs(clean) || clean == ".." || strings.HasPrefix(clean, "../"):
			d.errorf(at, "%s: pattern %q leaves the directory (expected a pattern relative to the service's directory)", what, p)
		default:
			if _, err := patternmatcher.New([]string{clean}); err != nil {
				d.errorf(at, "%s: pattern %q is not a valid pattern: %v", what, p, err)
				continue
			}
			out = append(out, clean)
		}
	}
	return out
}

func applyDefaultDefaults(df *Defaults) {
	if df.Python == "" {
		df.Python = DefaultPython
	}
	if df.Deps == "" {
		df.Deps = DefaultDeps
	}
	if df.Installer == "" {
		df.Installer = DefaultInstaller
	}
	if df.Timeout == 0 {
		df.Timeout = DefaultTimeout
	}
	df.Database = df.Database.over(Database{Env: DefaultDatabaseEnv, Unit: DatabaseSQLite})
	if df.LintMode == "" {
		df.LintMode = LintFail
	}
}

// integration decodes the integration: block (key k, value n). A block that is there must be
// usable: the suite's command and requirements file are required.
func (d *decoder) integration(k, n *yaml.Node, in *Integration) {
	in.Line = k.Line
	var envNode *yaml.Node
	var sawCommand, sawRequirements bool
	defer func() {
		if n.Kind != yaml.MappingNode {
			return
		}
		if !sawCommand {
			d.errorf(k, "integration has no command (expected command: the suite's argv, e.g. [python, -m, pytest, tests/integration])")
		}
		if !sawRequirements {
			d.errorf(k, "integration has no requirements (expected requirements: the file installing the suite's tools, e.g. tests/integration/requirements.txt)")
		}
	}()
	d.mapping(n, "integration", map[string]func(k, v *yaml.Node){
		"postgres": func(k, v *yaml.Node) { in.Postgres, _ = d.str(v, "postgres") },
		"postgres_image": func(k, v *yaml.Node) {
			if s, ok := d.str(v, "postgres_image"); ok {
				in.PostgresImage = s
				if err := CheckImageRef(s, d.root); err != nil {
					d.errorf(v, "postgres_image: %v (expected a registry reference, oci-layout:PATH[:TAG] or docker-archive:FILE[:REF], e.g. oci-layout:/var/cache/convoy/postgres:postgres)", err)
				}
			}
		},
		"requirements": func(k, v *yaml.Node) {
			sawRequirements = true
			if s, ok := d.str(v, "requirements"); ok {
				in.Requirements = d.repoPath(v, s, "requirements", false)
			}
		},
		"command": func(k, v *yaml.Node) {
			sawCommand = true
			in.Command = d.argv(v, "command")
		},
		"env": func(k, v *yaml.Node) {
			in.Env = d.env(v, "env")
			envNode = v
		},
		"timeout": func(k, v *yaml.Node) { in.Timeout, _ = d.duration(v, "timeout") },
	})
	d.integrationEnv = envNode
}

func (d *decoder) release(n *yaml.Node, r *Release) {
	d.mapping(n, "release", map[string]func(k, v *yaml.Node){
		"tag_pattern": func(k, v *yaml.Node) {
			s, ok := d.str(v, "tag_pattern")
			if !ok {
				return
			}
			if _, err := regexp.Compile(s); err != nil {
				d.errorf(v, "tag_pattern %q is not a valid regular expression: %v", s, err)
				return
			}
			r.TagPattern = s
		},
		"registry": func(k, v *yaml.Node) { r.Registry, _ = d.str(v, "registry") },
	})
}

// repoPath checks that rel names an existing file or directory inside the repository and returns
// it slash-separated and cleaned; it returns "" after reporting a problem.
func (d *decoder) repoPath(n *yaml.Node, rel, what string, wantDir bool) string {
	if rel == "" {
		d.errorf(n, "%s is empty (expected a path inside the repository)", what)
		return ""
	}
	if filepath.IsAbs(rel) {
		d.errorf(n, "%s %q is absolute (expected a path relative to the repository root)", what, rel)
		return ""
	}
	clean := filepath.Clean(filepath.FromSlash(rel))
	if clean == ".." || strings.HasPrefix(clean, ".."+string(filepath.Separator)) {
		d.errorf(n, "%s %q escapes the repository (expected a path inside it)", what, rel)
		return ""
	}
	abs := filepath.Join(d.root, clean)
	real, err := filepath.EvalSymlinks(abs)
	if err != nil {
		d.errorf(n, "%s %q does not exist (expected an existing path inside the repository)", what, rel)
		return ""
	}
	if r, err := filepath.Rel(d.realRoot, real); err != nil || r == ".." || strings.HasPrefix(r, ".."+string(filepath.Separator)) {
		d.errorf(n, "%s %q resolves outside the repository through a symlink (expected a path inside it)", what, rel)
		return ""
	}
	st, err := os.Stat(real)
	if err != nil {
		d.errorf(n, "%s %q cannot be read: %v", what, rel, err)
		return ""
	}
	if wantDir && !st.IsDir() {
		d.errorf(n, "%s %q is a file (expected a directory)", what, rel)
		return ""
	}
	return filepath.ToSlash(clean)
}

// CheckImageRef checks an image reference as base: and postgres_image: take it (image.ParseBase)
// and, for oci-layout: and docker-archive:, that its path (relative ones from root) exists.
func CheckImageRef(ref, root string) error {
	b, err := image.ParseBase(ref)
	if err != nil {
		return err
	}
	if b.Kind == image.FromRegistry {
		return nil
	}
	p := b.Path
	if !filepath.IsAbs(p) {
		p = filepath.Join(root, filepath.FromSlash(p))
	}
	if _, err := os.Stat(p); err != nil {
		return fmt.Errorf("image %q: %w", ref, err)
	}
	return nil
}
