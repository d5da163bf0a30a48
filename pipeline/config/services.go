package config

import (
	"fmt"
	"maps"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/convoy-ci/convoy/python"
)

// serviceNodes keeps the YAML nodes a cross-service check needs to point at.
type serviceNodes struct {
	svc       *Service
	name      *yaml.Node
	deps      *yaml.Node
	dependsOn []*yaml.Node
}

func (d *decoder) services(n *yaml.Node, cfg *Config) {
	if n.Kind != yaml.SequenceNode {
		d.errorf(n, "services must be a list, not %s (expected - name: ... entries)", kindName(n))
		return
	}
	if len(n.Content) == 0 {
		d.errorf(n, "services is empty (expected at least one service)")
		return
	}
	var all []*serviceNodes
	firstLine := map[string]int{}
	byDNS := map[string]*serviceNodes{}
	for _, item := range n.Content {
		sn := d.service(item, &cfg.Defaults)
		if sn == nil {
			continue
		}
		if sn.svc.Name != "" {
			other, clash := byDNS[sn.svc.DNSName()]
			switch line, dup := firstLine[sn.svc.Name]; {
			case dup:
				d.errorf(sn.name, "duplicate service name %q (first defined at line %d)", sn.svc.Name, line)
			case clash:
				d.errorf(sn.name, "service names %q and %q (line %d) are both %q as hostnames (expected names that differ in more than '-' and '_')", sn.svc.Name, other.svc.Name, other.name.Line, sn.svc.DNSName())
			default:
				firstLine[sn.svc.Name], byDNS[sn.svc.DNSName()] = sn.name.Line, sn
			}
		}
		all = append(all, sn)
		cfg.Services = append(cfg.Services, sn.svc)
	}
	d.checkDependsOn(all, firstLine)
}

func (d *decoder) service(n *yaml.Node, df *Defaults) *serviceNodes {
	svc := &Service{
		Python: df.Python, Base: df.Base, Deps: df.Deps, Installer: df.Installer, Timeout: df.Timeout, Database: df.Database,
		Tools: df.Tools, LintMode: df.LintMode,
		Env: maps.Clone(df.Env), Image: df.Image.over(Image{}),
		Unit: df.Unit, Lint: df.Lint, Populate: df.Populate, Migrate: df.Migrate, Prestart: df.Prestart,
		Port: DefaultPort, Health: DefaultHealth, Check: CheckHTTP, Line: n.Line,
	}
	if svc.Env == nil {
		svc.Env = map[string]string{}
	}
	sn := &serviceNodes{svc: svc}
	var pathNode, envNode *yaml.Node
	d.mapping(n, "a service", map[string]func(k, v *yaml.Node){
		"name": func(k, v *yaml.Node) {
			sn.name = v
			if s, ok := d.str(v, "name"); ok {
				if err := ValidServiceName(s); err != nil {
					d.errorf(v, "%v", err)
				}
				svc.Name = s
			}
		},
		"path": func(k, v *yaml.Node) {
			pathNode = v
			if s, ok := d.str(v, "path"); ok {
				svc.Path = d.repoPath(v, s, "path", true)
			}
		},
		"python": func(k, v *yaml.Node) { svc.Python = d.pythonVersion(v) },
		"base":   func(k, v *yaml.Node) { svc.Base = d.base(v) },
		"deps": func(k, v *yaml.Node) {
			sn.deps = v
			svc.Deps = d.depsTool(v)
		},
		"installer": func(k, v *yaml.Node) {
			if s := d.installer(v); s != "" {
				svc.Installer = s
			}
		},
		"libs": func(k, v *yaml.Node) {
			if v.Kind != yaml.SequenceNode {
				d.errorf(v, "libs must be a list of paths, not %s", kindName(v))
				return
			}
			d.libs(v, svc)
		},
		"depends_on": func(k, v *yaml.Node) {
			if v.Kind != yaml.SequenceNode {
				d.errorf(v, "depends_on must be a list of service names, not %s", kindName(v))
				return
			}
			for _, item := range v.Content {
				if s, ok := d.str(item, "depends_on item"); ok {
					svc.DependsOn = append(svc.DependsOn, s)
					sn.dependsOn = append(sn.dependsOn, item)
				}
			}
		},
		"env": func(k, v *yaml.Node) {
			maps.Copy(svc.Env, d.env(v, "env"))
			envNode = v
		},
		"database": func(k, v *yaml.Node) { svc.Database = d.database(v).over(svc.Database) },
		"tools":    func(k, v *yaml.Node) { svc.Tools = d.tools(v) },
		"lint_mode": func(k, v *yaml.Node) {
			if s := d.lintMode(v); s != "" {
				svc.LintMode = s
			}
		},
		"image":    func(k, v *yaml.Node) { svc.Image = d.image(v).over(svc.Image) },
		"timeout":  func(k, v *yaml.Node) { svc.Timeout, _ = d.duration(v, "timeout") },
		"unit":     func(k, v *yaml.Node) { svc.Unit = d.argv(v, "unit") },
		"lint":     func(k, v *yaml.Node) { svc.Lint = d.argv(v, "lint") },
		"populate": func(k, v *yaml.Node) { svc.Populate = d.argvOrNone(v, "populate") },
		"migrate":  func(k, v *yaml.Node) { svc.Migrate = d.argvOrNone(v, "migrate") },
		"prestart": func(k, v *yaml.Node) { svc.Prestart = d.argvOrNone(v, "prestart") },
		"serve":    func(k, v *yaml.Node) { svc.Serve = d.argv(v, "serve") },
		"port": func(k, v *yaml.Node) {
			if p, ok := d.integer(v); ok {
				if p < 1 || p > 65535 {
					d.errorf(v, "port %d is out of range (expected 1-65535)", p)
				}
				svc.Port = p
			}
		},
		"health":    func(k, v *yaml.Node) { d.health(v, svc) },
		"backing":   func(k, v *yaml.Node) { d.backing(v, svc) },
		"processes": func(k, v *yaml.Node) { d.processes(v, svc) },
		"scenario":  func(k, v *yaml.Node) { svc.Scenario, _ = d.str(v, "scenario") },
		"shadow":    func(k, v *yaml.Node) { svc.Shadow = d.boolean(v, "shadow") },
	})
	if n.Kind != yaml.MappingNode {
		return nil
	}
	if envNode != nil {
		d.ownedEnv(envNode, "env", append(slices.Clone(ReservedEnv), svc.Database.Env))
	}
	if sn.name == nil {
		d.errorf(n, "service has no name (expected name: <dns-label>)")
		sn.name = n
	}
	if pathNode == nil {
		d.errorf(n, "service %q has no path (expected path: <directory in the repository>)", svc.Name)
	}
	if svc.Path != "" {
		svc.Dir = filepath.Join(d.root, filepath.FromSlash(svc.Path))
		d.checkDepsSpec(sn, pathNode)
	}
	return sn
}

// libs reads a service's libs: list; two libs with one directory name would be one directory of
// containers and images.
func (d *decoder) libs(n *yaml.Node, svc *Service) {
	byName := map[string]string{}
	for _, item := range n.Content {
		s, ok := d.str(item, "libs item")
		if !ok {
			continue
		}
		p := d.repoPath(item, s, "lib", true)
		if p == "" {
			continue
		}
		if p == "." {
			d.errorf(item, "lib %q is the repository root (expected a directory inside it)", s)
			continue
		}
		l := NewLib(d.root, p)
		if other, dup := byName[l.Name()]; dup {
			d.errorf(item, "libs %q and %q have the same directory name %q (expected distinct names: images hold each lib as /app/libs/NAME)", other, p, l.Name())
			continue
		}
		byName[l.Name()] = p
		svc.Libs = append(svc.Libs, l)
	}
}

// checkDepsSpec reports a service whose dependency tool has no spec file to read.
func (d *decoder) checkDepsSpec(sn *serviceNodes, pathNode *yaml.Node) {
	at := sn.deps
	if at == nil {
		at = pathNode
	}
	svc := sn.svc
	if _, ok := python.ToolNamed(svc.Deps); !ok {
		return // depsTool reported it
	}
	p := svc.Project()
	want := svc.Tool().Spec(p)
	if _, err := os.Stat(filepath.Join(p.Root, filepath.FromSlash(want))); err != nil {
		d.errorf(at, "service %q uses deps %s but %s has no %s (expected the dependency spec there)", svc.Name, svc.Deps, svc.Path, path.Base(want))
	}
}

// DNSName is the service's name as a hostname (a DNS label): its underscores become '-'. The
// name itself is an image repository name as it is.
func (s *Service) DNSName() string { return strings.ReplaceAll(s.Name, "_", "-") }

// DatabaseEnv is the variable the service's database URLs are given in (Database.Env;
// DefaultDatabaseEnv when it names none, as in a Service built without the loader).
func (s *Service) DatabaseEnv() string {
	if s.Database.Env == "" {
		return DefaultDatabaseEnv
	}
	return s.Database.Env
}

// Tool is the dependency tool of the service (python.MustTool of Deps; DefaultDeps when it
// names none, as in a Service built without the loader).
func (s *Service) Tool() python.Tool {
	if s.Deps == "" {
		return python.MustTool(DefaultDeps)
	}
	return python.MustTool(s.Deps)
}

// DevTools are the repository's test and lint tools the service's gate virtualenv gets on top
// of its own dependencies (the tools key).
func (s *Service) DevTools() python.DevTools {
	return python.DevTools{Requirements: s.Tools.Requirements, Packages: s.Tools.Packages}
}

// Project locates the service for its Tool: the repository root (Dir without Path) and Path. A
// Service built without the loader, with no Path, is its own root.
func (s *Service) Project() python.Project {
	p := python.Project{Root: s.Dir, Dir: ".", Name: s.Name, SpecFile: s.SpecFile}
	rel := filepath.FromSlash(path.Clean(s.Path))
	if s.Path == "" || rel == "." || !strings.HasSuffix(s.Dir, string(filepath.Separator)+rel) {
		return p
	}
	p.Root, p.Dir = strings.TrimSuffix(s.Dir, string(filepath.Separator)+rel), path.Clean(s.Path)
	return p
}

func (d *decoder) checkDependsOn(all []*serviceNodes, known map[string]int) {
	byName := map[string]*serviceNodes{}
	for _, sn := range all {
		if _, dup := byName[sn.svc.Name]; !dup {
			byName[sn.svc.Name] = sn
		}
	}
	for _, sn := range all {
		for i, dep := range sn.svc.DependsOn {
			switch {
			case dep == sn.svc.Name:
				d.errorf(sn.dependsOn[i], "service %q depends on itself (expected other services' names)", dep)
			case known[dep] == 0:
				d.errorf(sn.dependsOn[i], "depends_on names unknown service %q (expected one of: %s)", dep, serviceNames(all))
			case byName[dep].svc.Shadow:
				d.errorf(sn.dependsOn[i], "service %q depends on shadow service %q (expected no depends_on on a shadow service: its failures never fail a run, so nothing may need it; drop shadow: true from %q first)", sn.svc.Name, dep, dep)
			}
		}
	}
	// Cycles: depth-first search in file order, reporting each cycle once at its first service.
	const (
		unvisited = iota
		active
		done
	)
	state := map[string]int{}
	var stack []string
	var visit func(name string)
	visit = func(name string) {
		state[name] = active
		stack = append(stack, name)
		sn := byName[name]
		for i, dep := range sn.svc.DependsOn {
			if byName[dep] == nil || dep == name {
				continue
			}
			switch state[dep] {
			case unvisited:
				visit(dep)
			case active:
				start := 0
				for j, s := range stack {
					if s == dep {
						start = j
					}
				}
				cycle := append(append([]string{}, stack[start:]...), dep)
				d.errorf(sn.dependsOn[i], "dependency cycle: %s (expected depends_on to form no loop)", strings.Join(cycle, " -> "))
			}
		}
		stack = stack[:len(stack)-1]
		state[name] = done
	}
	for _, sn := range all {
		if state[sn.svc.Name] == unvisited && sn.svc.Name != "" {
			visit(sn.svc.Name)
		}
	}
}

func serviceNames(all []*serviceNodes) string {
	names := make([]string, 0, len(all))
	for _, sn := range all {
		names = append(names, sn.svc.Name)
	}
	return strings.Join(names, ", ")
}

// StartOrder returns the services with every service after the ones it depends on, keeping
// file order otherwise. The manifest has been checked for cycles, so the order always exists.
func (c *Config) StartOrder() []*Service {
	placed := map[string]bool{}
	var out []*Service
	var place func(s *Service)
	place = func(s *Service) {
		if placed[s.Name] {
			return
		}
		placed[s.Name] = true
		for _, dep := range s.DependsOn {
			if ds := c.Service(dep); ds != nil {
				place(ds)
			}
		}
		out = append(out, s)
	}
	for _, s := range c.Services {
		place(s)
	}
	return out
}

// ValidServiceName returns an error saying what a service name must be when name is not one.
func ValidServiceName(name string) error {
	if !serviceName.MatchString(name) || len(name) > 63 {
		return fmt.Errorf("service name %q is not a DNS label (expected lower-case letters, digits, '-' and single '_' between them, at most 63, e.g. auth or user_service)", name)
	}
	return nil
}
