package initgen

import (
	"bytes"
	"fmt"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// header opens every manifest convoy init writes.
const header = `services.yaml written by convoy init (see docs/services-yaml.md for every key).
Each value's comment says where convoy init found it; review every TODO, then run convoy plan.`

// render writes the manifest of r as commented YAML.
func render(r *repoScan, o options) ([]byte, error) {
	doc := mapping()
	doc.HeadComment = header + envFilesNote(r.envFiles) + requiredNote(r.required)
	put(doc, "version", scalar("1"), "")
	put(doc, "defaults", defaultsNode(r, o), "")
	svcs := &yaml.Node{Kind: yaml.SequenceNode}
	for _, s := range r.services {
		svcs.Content = append(svcs.Content, serviceNode(s))
	}
	put(doc, "services", svcs, "")
	if r.suite != "" {
		in := mapping()
		put(in, "requirements", scalar(r.suiteReqs), "the cross-service suite's dependencies")
		put(in, "command", argv([]string{"python", "-m", "pytest", "-q", r.suite}), "the suite in "+r.suite+"/")
		put(doc, "integration", in, "")
	}
	var buf bytes.Buffer
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(&yaml.Node{Kind: yaml.DocumentNode, Content: []*yaml.Node{doc}}); err != nil {
		return nil, fmt.Errorf("writing the manifest: %w", err)
	}
	return buf.Bytes(), enc.Close()
}

// envFilesNote is the header's note on .env files, "" when there are none.
func envFilesNote(files []string) string {
	if len(files) == 0 {
		return ""
	}
	return "\n\nFound " + strings.Join(files, ", ") + ": never read (they may hold secrets). Put what the gates\n" +
		"need in env:, what every container needs at run time in image.env (no secrets) or integration.env."
}

// requiredNote is the header's TODO on variables the code needs and nobody sets.
func requiredNote(required []string) string {
	if len(required) == 0 {
		return ""
	}
	return "\n\nTODO: the code reads these variables with no default; set them in env: (the gates) and\n" +
		"integration.env (secrets) or image.env (settings):\n  " + strings.Join(required, "\n  ")
}

// defaultsNode is the defaults: block.
func defaultsNode(r *repoScan, o options) *yaml.Node {
	df := mapping()
	put(df, "python", quoted(r.python), r.pythonWhy)
	put(df, "base", quoted(o.base), "the image every service's image starts from (TODO: check it has python "+r.python+")")
	put(df, "timeout", scalar("10m"), "per stage")
	if r.tools != "" {
		tools := mapping()
		put(tools, "requirements", scalar(r.tools), "the root's test and lint tools, installed into every service's virtualenv")
		put(df, "tools", tools, "")
	}
	lintWhy := "flake8 finds its configuration in each service, else above it"
	if r.lintConfig != "" {
		lintWhy = "flake8 reads the [flake8] section of " + r.lintConfig + " at the root"
	}
	put(df, "lint_mode", scalar("warn"), "Adopting lint: violations are listed and counted, and the gate passes.\n"+
		lintWhy+".\nSwitch to fail (the default) once they are fixed.")
	return df
}

// serviceNode is one service's entry.
func serviceNode(s *service) *yaml.Node {
	m := mapping()
	put(m, "name", scalar(s.name), "found by "+s.why+in(s.path))
	put(m, "path", scalar(s.path), "")
	put(m, "deps", scalar(s.deps.v), s.deps.why)
	if len(s.libs.v) > 0 {
		put(m, "libs", flowList(s.libs.v), s.libs.why)
	}
	if len(s.dependsOn.v) > 0 {
		put(m, "depends_on", flowList(s.dependsOn.v), s.dependsOn.why)
	}
	if s.django != "" {
		env := mapping()
		env.Style = yaml.FlowStyle
		put(env, "DJANGO_SETTINGS_MODULE", scalar(s.django), "")
		put(m, "env", env, "the gates' settings, "+s.settingsWhy)
	}
	putDatabase(m, s)
	var notes []string
	for _, st := range []struct {
		key string
		v   value[[]string]
	}{{"unit", s.unit}, {"populate", s.populate}, {"migrate", s.migrate}} {
		if note := putArgv(m, st.key, st.v); note != "" {
			notes = append(notes, note)
		}
	}
	put(m, "serve", argv(s.serve.v), s.serve.why)
	m.Content[len(m.Content)-2].HeadComment = strings.Join(notes, "\n")
	put(m, "port", scalar(strconv.Itoa(s.port.v)), s.port.why)
	put(m, "health", scalar(s.health.v), s.health.why)
	putCelery(m, s.celery)
	if len(s.todos) > 0 {
		m.HeadComment = "TODO: " + strings.Join(s.todos, "\nTODO: ")
	}
	return m
}

// in names the directory something was found in.
func in(dir string) string { return " in " + dir + "/" }

// putDatabase writes the service's database: block when it differs from the default.
func putDatabase(m *yaml.Node, s *service) {
	if s.unitDBNone == "" && s.dbEnv.v == "" {
		return
	}
	db := mapping()
	db.Style = yaml.FlowStyle
	var why []string
	if s.dbEnv.v != "" {
		put(db, "env", scalar(s.dbEnv.v), "")
		why = append(why, s.dbEnv.v+" "+s.dbEnv.why)
	}
	if s.unitDBNone != "" {
		put(db, "unit", scalar("none"), "")
		why = append(why, s.unitDBNone)
	}
	put(m, "database", db, strings.Join(why, "; "))
}

// putArgv writes a stage's argv; when it is the default, it writes nothing and returns a note
// saying so.
func putArgv(m *yaml.Node, key string, v value[[]string]) string {
	if v.v == nil {
		return key + ": the default (" + v.why + ")"
	}
	put(m, key, argv(v.v), v.why)
	return ""
}

// putCelery writes the backing broker and worker process of a Celery app.
func putCelery(m *yaml.Node, c *celeryApp) {
	if c == nil {
		return
	}
	put(m, "backing", flowList([]string{c.broker}), "the Celery broker ("+c.why+")")
	worker := mapping()
	put(worker, "command", argv([]string{"python", "-m", "celery", "-A", c.module, "worker", "--loglevel", "info"}), "")
	ready := mapping()
	ready.Style = yaml.FlowStyle
	put(ready, "log", quoted(`celery@\S+ ready\.`), "")
	put(worker, "ready", ready, "the line Celery logs once it takes tasks")
	procs := mapping()
	put(procs, "worker", worker, "")
	put(m, "processes", procs, "a worker beside serve, "+c.why)
}

// mapping is an empty block mapping.
func mapping() *yaml.Node { return &yaml.Node{Kind: yaml.MappingNode} }

// scalar is a plain scalar (the encoder quotes it when YAML needs it).
func scalar(v string) *yaml.Node { return &yaml.Node{Kind: yaml.ScalarNode, Value: v} }

// quoted is a double-quoted scalar.
func quoted(v string) *yaml.Node {
	return &yaml.Node{Kind: yaml.ScalarNode, Value: v, Style: yaml.DoubleQuotedStyle}
}

// flowList is a flow sequence of plain scalars ([a, b]).
func flowList(vs []string) *yaml.Node {
	n := &yaml.Node{Kind: yaml.SequenceNode, Style: yaml.FlowStyle, Content: []*yaml.Node{}}
	for _, v := range vs {
		n.Content = append(n.Content, scalar(v))
	}
	return n
}

// argv is an argv as a flow sequence of strings: quoted where a plain scalar would read as
// another type (2, true) or holds ${…}.
func argv(vs []string) *yaml.Node {
	n := flowList(vs)
	for _, c := range n.Content {
		if c.ShortTag() != "!!str" || strings.ContainsAny(c.Value, "${}:*#") {
			c.Style = yaml.DoubleQuotedStyle
		}
	}
	return n
}

// put appends key: val to m, with a comment at the end of the key's line.
func put(m *yaml.Node, key string, val *yaml.Node, comment string) {
	k := scalar(key)
	switch {
	case strings.Contains(comment, "\n"):
		k.HeadComment = comment
	case val.Kind != yaml.ScalarNode && val.Style == yaml.FlowStyle:
		val.LineComment = comment // the encoder writes a flow collection's comment from its node
	default:
		k.LineComment = comment
	}
	m.Content = append(m.Content, k, val)
}
