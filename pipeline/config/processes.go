package config

import (
	"regexp"
	"slices"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// BackingKinds are the backing services integration can start for a service (backing: key).
var BackingKinds = []string{"rabbitmq", "redis"}

// Process is an entry of a service's processes: a command run in the service's image beside
// serve in integration (a Celery worker, a beat scheduler).
type Process struct {
	// Name is the key of the entry, a DNS label other than serve.
	Name string
	// Command is its argv; ${HOST} and ${PORT} are substituted as in serve.
	Command []string
	// ReadyLog is a regular expression matching a line of its output once it is ready.
	ReadyLog string
	// ReadyCommand exits 0 once it is ready.
	ReadyCommand []string
	// ReadyTimeout bounds the wait for readiness (0: integration's default).
	ReadyTimeout time.Duration
}

// backing reads a service's backing: list.
func (d *decoder) backing(n *yaml.Node, svc *Service) {
	list, ok := d.strList(n, "backing")
	if !ok {
		return
	}
	for i, kind := range list {
		switch {
		case !slices.Contains(BackingKinds, kind):
			d.errorf(n.Content[i], "unknown backing service %q (expected one of: %s)", kind, strings.Join(BackingKinds, ", "))
		case slices.Contains(svc.Backing, kind):
			d.errorf(n.Content[i], "backing service %q is listed twice", kind)
		default:
			svc.Backing = append(svc.Backing, kind)
		}
	}
}

// processes reads a service's processes: mapping of name to {command, ready}.
func (d *decoder) processes(n *yaml.Node, svc *Service) {
	if n.Kind != yaml.MappingNode {
		d.errorf(n, "processes must be a mapping of name: {command: [...]}, not %s", kindName(n))
		return
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if !dnsLabel.MatchString(k.Value) || k.Value == "serve" {
			d.errorf(k, "process name %q is not a DNS label other than serve (expected e.g. worker, beat)", k.Value)
			continue
		}
		if slices.ContainsFunc(svc.Processes, func(p Process) bool { return p.Name == k.Value }) {
			d.errorf(k, "duplicate process %q", k.Value)
			continue
		}
		p := Process{Name: k.Value}
		d.mapping(v, "process "+k.Value, map[string]func(k, v *yaml.Node){
			"command": func(_, v *yaml.Node) { p.Command = d.argv(v, "command") },
			"ready":   func(_, v *yaml.Node) { d.ready(v, &p) },
		})
		if v.Kind == yaml.MappingNode && p.Command == nil && !hasKey(v, "command") {
			d.errorf(v, "process %q has no command (expected command: [program, args...])", p.Name)
		}
		svc.Processes = append(svc.Processes, p)
	}
}

// ready reads a process's ready: {log: REGEXP} or {command: [...]}, with an optional timeout.
func (d *decoder) ready(n *yaml.Node, p *Process) {
	kinds := 0
	d.mapping(n, "ready", map[string]func(k, v *yaml.Node){
		"log": func(_, v *yaml.Node) {
			kinds++
			if s, ok := d.str(v, "ready.log"); ok {
				if _, err := regexp.Compile(s); err != nil {
					d.errorf(v, "ready.log %q is not a valid regular expression: %v", s, err)
				}
				p.ReadyLog = s
			}
		},
		"command": func(_, v *yaml.Node) {
			kinds++
			p.ReadyCommand = d.argv(v, "ready.command")
		},
		"timeout": func(_, v *yaml.Node) { p.ReadyTimeout, _ = d.duration(v, "ready.timeout") },
	})
	if n.Kind == yaml.MappingNode && kinds != 1 {
		d.errorf(n, "ready sets %d of log and command (expected exactly one)", kinds)
	}
}

// hasKey reports whether mapping n has key.
func hasKey(n *yaml.Node, key string) bool {
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == key {
			return true
		}
	}
	return false
}
