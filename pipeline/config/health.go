package config

import "gopkg.in/yaml.v3"

// The kinds of health check of a service's serve command in integration (Service.Check).
const (
	// CheckHTTP: GET Service.Health answers 2xx (health: /path, the default).
	CheckHTTP = "http"
	// CheckTCP: the service's port accepts a TCP connection (health: tcp).
	CheckTCP = "tcp"
	// CheckCommand: Service.CheckCommand exits 0 (health: {command: [...]}).
	CheckCommand = "command"
	// CheckNone: the service is up once started (health: none).
	CheckNone = "none"
)

// health reads a service's health: key: a path (/healthz), tcp, none, or a mapping with one of
// http, tcp or command, and optionally timeout.
func (d *decoder) health(n *yaml.Node, svc *Service) {
	svc.Health, svc.CheckCommand = "", nil
	if n.Kind == yaml.ScalarNode && n.Tag == "!!str" {
		switch s := n.Value; {
		case s == CheckTCP || s == CheckNone:
			svc.Check = s
		case len(s) > 0 && s[0] == '/':
			svc.Check, svc.Health = CheckHTTP, s
		default:
			d.errorf(n, "health %q is not an HTTP path, tcp or none (expected /healthz, tcp, none, or {command: [...]})", s)
		}
		return
	}
	var kinds []string
	d.mapping(n, "health", map[string]func(k, v *yaml.Node){
		"http": func(k, v *yaml.Node) {
			kinds = append(kinds, k.Value)
			if s, ok := d.str(v, "health.http"); ok {
				if len(s) == 0 || s[0] != '/' {
					d.errorf(v, "health.http %q is not an HTTP path (expected it to start with /)", s)
				}
				svc.Check, svc.Health = CheckHTTP, s
			}
		},
		"tcp": func(k, v *yaml.Node) {
			kinds = append(kinds, k.Value)
			if v.Kind != yaml.ScalarNode || v.Tag != "!!bool" || v.Value != "true" {
				d.errorf(v, "health.tcp must be true, not %s (expected tcp: true, or leave it out)", kindName(v))
			}
			svc.Check = CheckTCP
		},
		"command": func(k, v *yaml.Node) {
			kinds = append(kinds, k.Value)
			svc.Check, svc.CheckCommand = CheckCommand, d.argv(v, "health.command")
		},
		"timeout": func(k, v *yaml.Node) { svc.HealthTimeout, _ = d.duration(v, "health.timeout") },
	})
	if n.Kind == yaml.MappingNode && len(kinds) != 1 {
		d.errorf(n, "health sets %d kinds of check %v (expected exactly one of http, tcp, command)", len(kinds), kinds)
	}
}
