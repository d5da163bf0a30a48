package initgen

import (
	"os"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/convoy-ci/convoy/python"
)

// value is a detected setting and the comment saying where it came from (or a TODO).
type value[T any] struct {
	v   T
	why string
}

// service is a service the scan found, each setting with its origin.
type service struct {
	name, path, dir string
	why             string // what made the directory a service
	srcs            []sourceFile
	deps            value[string]
	depNames        map[string]bool
	django          string // the Django settings module ("" when not Django)
	settingsWhy     string
	app             string // module:variable of a FastAPI or Flask app
	appKind         string // "fastapi" or "flask"
	docker          dockerfile
	python          string // from the Dockerfile's FROM python:X.Y
	serve           value[[]string]
	port            value[int]
	migrate         value[[]string] // nil v: the default (Django's migrate)
	populate        value[[]string] // nil v: the default (manage.py populate)
	unit            value[[]string] // nil v: the default (pytest)
	health          value[string]
	libs            value[[]string]
	dependsOn       value[[]string]
	unitDBNone      string // why the unit stage gets no database ("" when it gets one)
	dbEnv           value[string]
	celery          *celeryApp
	todos           []string
}

// celeryApp is a Celery application found in a service.
type celeryApp struct {
	module, broker, why string
}

var (
	settingsRe = regexp.MustCompile(`os\.environ\.setdefault\(\s*["']DJANGO_SETTINGS_MODULE["']\s*,\s*["']([\w.]+)["']`)
	fastapiRe  = regexp.MustCompile(`(?m)^(\w+)\s*=\s*FastAPI\(`)
	flaskRe    = regexp.MustCompile(`(?m)^(\w+)\s*=\s*Flask\(`)
	healthRe   = regexp.MustCompile(`["'](/?(?:healthz|health)/?)["']`)
	celeryRe   = regexp.MustCompile(`(?m)^(\w+)\s*=\s*Celery\(`)
	importRe   = regexp.MustCompile(`(?m)^\s*(?:from\s+([A-Za-z_]\w*)[\w.]*\s+import\b|import\s+([A-Za-z_]\w*))`)
	urlVarRe   = regexp.MustCompile(`["']([A-Z][A-Z0-9_]*)_URL["']`)
	dbEnvRe    = regexp.MustCompile(`(?:environ\.get\(|environ\[|getenv\()\s*["'](\w*(?:DATABASE|SQLALCHEMY|DB_URL)\w*)["']`)
	nameRe     = regexp.MustCompile(`[^a-z0-9]+`)
)

// detect returns the service at dir, or nil when dir is not one.
func (r *repoScan) detect(dir string) *service {
	has := func(f string) bool { return fileExists(filepath.Join(dir, f)) }
	spec := has("pyproject.toml") || has("requirements.txt") || has("Pipfile")
	if !has("manage.py") && !has("Dockerfile") && !spec {
		return nil
	}
	s := &service{path: r.rel(dir), dir: dir, srcs: pySources(dir)}
	s.name = serviceName(path.Base(s.path))
	switch {
	case has("manage.py"):
		s.why = "manage.py"
		s.django, s.settingsWhy = django(dir)
		if s.django == "" {
			s.todos = append(s.todos, s.settingsWhy)
		}
	case has("Dockerfile"):
		s.why = "Dockerfile"
	}
	s.findApp()
	if s.why == "" && s.app == "" {
		return nil // a dependency spec alone: a library or a test suite
	}
	if s.why == "" {
		s.why = "a " + s.appKind + " app in " + s.app
	}
	s.docker = readDockerfile(filepath.Join(dir, "Dockerfile"))
	s.python = s.docker.python
	s.deps = r.depsTool(dir)
	s.depNames = dependencyNames(dir, s.deps.v)
	s.decideServe()
	s.decideSteps()
	s.decideHealth()
	s.decideDatabase()
	s.findCelery()
	return s
}

// serviceName makes a directory name a service name: a DNS label with single underscores kept.
func serviceName(dir string) string {
	parts := strings.Split(strings.ToLower(dir), "_")
	for i, p := range parts {
		parts[i] = strings.Trim(nameRe.ReplaceAllString(p, "-"), "-")
	}
	return strings.Trim(strings.Join(parts, "_"), "_")
}

// django reads the settings module manage.py sets.
func django(dir string) (string, string) {
	b, _ := os.ReadFile(filepath.Join(dir, "manage.py"))
	if m := settingsRe.FindStringSubmatch(string(b)); m != nil {
		return m[1], "from manage.py's os.environ.setdefault"
	}
	return "", "manage.py sets no DJANGO_SETTINGS_MODULE: set it in env: and name serve's WSGI module"
}

// findApp finds a FastAPI or Flask application object.
func (s *service) findApp() {
	for _, k := range []struct {
		kind string
		re   *regexp.Regexp
	}{{"fastapi", fastapiRe}, {"flask", flaskRe}} {
		if v, file := firstMatch(s.srcs, k.re); v != "" {
			mod := strings.TrimSuffix(strings.TrimSuffix(file, ".py"), "/__init__")
			s.app, s.appKind = strings.ReplaceAll(mod, "/", ".")+":"+v, k.kind
			return
		}
	}
}

// depsTool decides the dependency tool of the service in dir from its files (python.Detect).
func (r *repoScan) depsTool(dir string) value[string] {
	if tool, why, ok := python.Detect(r.root, r.rel(dir)); ok {
		return value[string]{tool, why}
	}
	return value[string]{python.Pip, "TODO: no dependency spec found (pip reads requirements.txt)"}
}

// decideServe decides the serve command and the port.
func (s *service) decideServe() {
	if argv, why := lastCommand(s.docker.command()); len(argv) > 0 {
		s.serve = value[[]string]{templated(argv), "from the Dockerfile's " + s.docker.cmdWhy + why + ", bound to ${HOST}:${PORT}"}
	} else if s.django != "" && fileExists(filepath.Join(s.dir, strings.ReplaceAll(pkgOf(s.django), ".", "/"), "wsgi.py")) {
		s.serve = value[[]string]{[]string{"python", "-m", "gunicorn", pkgOf(s.django) + ".wsgi", "--bind", "${HOST}:${PORT}"},
			"gunicorn serving " + pkgOf(s.django) + ".wsgi (Django)"}
	} else if s.appKind == "fastapi" {
		s.serve = value[[]string]{[]string{"python", "-m", "uvicorn", s.app, "--host", "${HOST}", "--port", "${PORT}"}, "uvicorn serving the FastAPI app " + s.app}
	} else if s.appKind == "flask" {
		s.serve = value[[]string]{[]string{"python", "-m", "gunicorn", s.app, "--bind", "${HOST}:${PORT}"}, "gunicorn serving the Flask app " + s.app}
	} else {
		s.serve = value[[]string]{[]string{"python", "-m", "http.server", "--bind", "${HOST}", "${PORT}"}, "a placeholder"}
		s.todos = append(s.todos, "no run command found (no Dockerfile CMD, WSGI module or app): replace serve's placeholder")
	}
	server := s.serve.v[min(2, len(s.serve.v)-1)]
	if (server == "gunicorn" || server == "uvicorn") && !s.depNames[server] {
		s.todos = append(s.todos, server+" is not among "+s.path+"'s dependencies: add it, the image runs it")
	}
	switch {
	case s.docker.expose > 0:
		s.port = value[int]{s.docker.expose, "from the Dockerfile's EXPOSE"}
	case portOf(s.serveFrom()) > 0:
		s.port = value[int]{portOf(s.serveFrom()), "from the Dockerfile's run command"}
	default:
		s.port = value[int]{8000, "the default: nothing names another"}
	}
}

// serveFrom is the Dockerfile's server command, before templating.
func (s *service) serveFrom() []string {
	argv, _ := lastCommand(s.docker.command())
	return argv
}

// lastCommand is the server a run command starts: the command itself, or the last command of
// a shell line (sh -c "alembic upgrade head && uvicorn …"), whose earlier steps are
// integration's migrate and prestart.
func lastCommand(argv []string) ([]string, string) {
	if len(argv) != 3 || (path.Base(argv[0]) != "sh" && path.Base(argv[0]) != "bash") || argv[1] != "-c" {
		return argv, ""
	}
	steps := strings.Split(argv[2], "&&")
	last := strings.Fields(steps[len(steps)-1])
	if len(last) > 0 && last[0] == "exec" {
		last = last[1:]
	}
	return last, " (the last command of its shell line)"
}

// pkgOf is the package of a dotted module name (a.b.settings → a.b).
func pkgOf(mod string) string {
	if i := strings.LastIndex(mod, "."); i >= 0 {
		return mod[:i]
	}
	return mod
}

// templated runs argv's server on ${HOST} and ${PORT}, through python -m for the servers a
// virtualenv installs.
func templated(argv []string) []string {
	out := append([]string(nil), argv...)
	if out[0] == "gunicorn" || out[0] == "uvicorn" || out[0] == "celery" {
		out = append([]string{"python", "-m"}, out...)
	}
	for i := 1; i < len(out); i++ {
		switch prev := out[i-1]; {
		case prev == "--bind" || prev == "-b":
			out[i] = "${HOST}:${PORT}"
		case prev == "--host":
			out[i] = "${HOST}"
		case prev == "--port" || prev == "-p":
			out[i] = "${PORT}"
		case strings.HasPrefix(out[i], "--bind="):
			out[i] = "--bind=${HOST}:${PORT}"
		}
	}
	return out
}

// portOf is the port a run command binds (--bind HOST:PORT, --port PORT), 0 when none.
func portOf(argv []string) int {
	for i := 1; i < len(argv); i++ {
		v := argv[i]
		switch argv[i-1] {
		case "--bind", "-b":
			v = v[strings.LastIndex(v, ":")+1:]
		case "--port", "-p":
		default:
			continue
		}
		if n, err := strconv.Atoi(v); err == nil {
			return n
		}
	}
	return 0
}

// decideSteps decides migrate and populate.
func (s *service) decideSteps() {
	switch {
	case fileExists(filepath.Join(s.dir, "alembic.ini")):
		s.migrate = value[[]string]{[]string{"python", "-m", "alembic", "upgrade", "head"}, "alembic.ini"}
	case s.django != "":
		s.migrate.why = "Django's migrate"
	default:
		s.migrate = value[[]string]{[]string{}, "no migrations found (neither Django nor alembic.ini)"}
	}
	for _, f := range s.srcs {
		if strings.HasSuffix(f.rel, "management/commands/populate.py") && s.django != "" {
			s.populate.why = "a populate management command: " + f.rel
			return
		}
	}
	s.populate = value[[]string]{[]string{}, "no populate command found: no populator"}
}

// decideHealth finds a health route, else checks the port.
func (s *service) decideHealth() {
	if route, file := firstMatch(s.srcs, healthRe); route != "" {
		s.health = value[string]{"/" + strings.TrimPrefix(route, "/"), "the route in " + file}
		return
	}
	s.health = value[string]{"tcp", "no health route found: the port accepting connections"}
}

// decideDatabase finds the database variable and tests that make their own database.
func (s *service) decideDatabase() {
	if v, file := firstMatch(s.srcs, dbEnvRe); v != "" && v != "DATABASE_URL" {
		s.dbEnv = value[string]{v, "read in " + file}
	}
	for _, f := range s.srcs {
		if path.Base(f.rel) == "conftest.py" && strings.Contains(f.text, "sqlite") && !strings.Contains(f.text, "environ") {
			s.unitDBNone = f.rel + " makes its own SQLite database"
			return
		}
	}
}

// findCelery finds a Celery application and the broker its default URL names.
func (s *service) findCelery() {
	if !s.depNames["celery"] {
		return
	}
	v, file := firstMatch(s.srcs, celeryRe)
	if v == "" {
		return
	}
	mod := strings.ReplaceAll(strings.TrimSuffix(strings.TrimSuffix(file, ".py"), "/__init__"), "/", ".")
	mod = strings.TrimSuffix(mod, ".celery")
	c := &celeryApp{module: mod, broker: "redis", why: "the Celery app in " + file}
	text := ""
	for _, f := range s.srcs {
		if !f.test {
			text += f.text
		}
	}
	switch {
	case strings.Contains(text, "amqp://"):
		c.broker = "rabbitmq"
	case !strings.Contains(text, "redis://"):
		c.why += " (TODO: no broker URL found; redis assumed)"
	}
	s.celery = c
}

// findLibs finds the repository's packages outside the service that it imports.
func (s *service) findLibs(r *repoScan) {
	seen := map[string]bool{}
	var libs, from []string
	for _, f := range s.srcs {
		for _, m := range importRe.FindAllStringSubmatch(f.text, -1) {
			mod := m[1] + m[2]
			if seen[mod] || s.hasModule(mod) {
				continue
			}
			seen[mod] = true
			if lib := r.libFor(mod); lib != "" && !slices.Contains(libs, lib) {
				libs, from = append(libs, lib), append(from, mod)
			}
		}
	}
	s.libs = value[[]string]{libs, "imported: " + strings.Join(from, ", ")}
}

// hasModule reports whether mod is a top-level module of the service itself.
func (s *service) hasModule(mod string) bool {
	return fileExists(filepath.Join(s.dir, mod+".py")) || dirExists(filepath.Join(s.dir, mod))
}

// libFor is the lib directory holding the top-level package mod: at the root, under libs/
// (package layout) or in a project under libs/; "" when the repository has none.
func (r *repoScan) libFor(mod string) string {
	for _, dir := range []string{mod, "libs/" + mod} {
		if fileExists(filepath.Join(r.root, dir, "__init__.py")) {
			return dir
		}
	}
	projects, _ := filepath.Glob(filepath.Join(r.root, "libs", "*", mod, "__init__.py"))
	if len(projects) > 0 {
		return r.rel(filepath.Dir(filepath.Dir(projects[0])))
	}
	return ""
}

// findDependsOn finds the other services whose <NAME>_URL the service reads.
func (s *service) findDependsOn(all []*service) {
	var deps, vars []string
	for _, f := range s.srcs {
		if f.test {
			continue
		}
		for _, m := range urlVarRe.FindAllStringSubmatch(f.text, -1) {
			for _, o := range all {
				if o != s && envName(o.name) == m[1] && !slices.Contains(deps, o.name) {
					deps, vars = append(deps, o.name), append(vars, m[1]+"_URL")
				}
			}
		}
	}
	sort.Strings(deps)
	s.dependsOn = value[[]string]{deps, "it reads " + strings.Join(vars, ", ")}
}

// envName is a service's name as the prefix of its variables (USER_SERVICE for user-service).
func envName(name string) string {
	return strings.ToUpper(strings.ReplaceAll(name, "-", "_"))
}

// decideUnit decides the unit stage's runner.
func (s *service) decideUnit(r *repoScan) {
	pytest := s.depNames["pytest"] || r.toolDeps["pytest"]
	switch {
	case pytest && s.django != "" && !s.depNames["pytest-django"] && !r.toolDeps["pytest-django"]:
		s.unit.why = "pytest"
		s.todos = append(s.todos, "pytest runs a Django service's tests with pytest-django: add it to its test dependencies")
	case s.depNames["pytest"]:
		s.unit.why = "pytest, among its dependencies"
	case pytest:
		s.unit.why = "pytest, in " + r.tools
	case s.django != "":
		s.unit = value[[]string]{[]string{"python", "manage.py", "test"}, "Django's test runner: no pytest among its dependencies"}
	default:
		s.unit.why = "pytest"
		s.todos = append(s.todos, "no test runner found among its dependencies; pytest assumed")
	}
}

func dirExists(p string) bool {
	st, err := os.Stat(p)
	return err == nil && st.IsDir()
}
