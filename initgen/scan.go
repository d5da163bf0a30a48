package initgen

import (
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
)

// repoScan is what the scan found in a repository.
type repoScan struct {
	root     string
	services []*service
	// tools is the root's test and lint requirements file ("" for none), toolDeps its packages.
	tools    string
	toolDeps map[string]bool
	// lintConfig is the root file with a [flake8] section ("" for none).
	lintConfig string
	// envFiles are the .env files found (never read).
	envFiles []string
	// suite is the cross-service test directory and its requirements file.
	suite, suiteReqs  string
	python, pythonWhy string
	// required are the variables the code reads with no default ("NAME (file)").
	required []string
}

// skipDirs are never scanned: tool state, virtualenvs, VCS.
var skipDirs = map[string]bool{".git": true, ".convoy": true, "node_modules": true, "__pycache__": true,
	".venv": true, "venv": true, ".tox": true, ".pytest_cache": true, ".mypy_cache": true,
	"testdata": true} // a Go convention: other repositories' fixtures

// scan walks root for services and the root's shared tooling.
func scan(root string) (*repoScan, error) {
	r := &repoScan{root: root, python: DefaultPython, pythonWhy: "TODO: no Dockerfile names a python image; the interpreter the gates use"}
	r.scanRoot()
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() {
			if d.Name() == ".env" || strings.HasPrefix(d.Name(), ".env.") {
				r.envFiles = append(r.envFiles, r.rel(p))
			}
			return nil
		}
		if p != root && (skipDirs[d.Name()] || strings.HasPrefix(d.Name(), ".")) {
			return filepath.SkipDir
		}
		if p == root || r.rel(p) == r.suite {
			return nil
		}
		if svc := r.detect(p); svc != nil {
			r.services = append(r.services, svc)
			r.collectEnvFiles(p)
			return filepath.SkipDir
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	r.finish()
	return r, nil
}

// collectEnvFiles notes the .env files under a service directory, which the walk skips.
func (r *repoScan) collectEnvFiles(dir string) {
	for _, f := range []string{".env", ".env.local", ".env.example"} {
		if fileExists(filepath.Join(dir, f)) {
			r.envFiles = append(r.envFiles, r.rel(filepath.Join(dir, f)))
		}
	}
}

// rel is p relative to the root, slash-separated.
func (r *repoScan) rel(p string) string {
	rel, err := filepath.Rel(r.root, p)
	if err != nil {
		return p
	}
	return filepath.ToSlash(rel)
}

// rootToolFiles are the names a repository keeps its shared test and lint tools under.
var rootToolFiles = []string{"requirements-dev.txt", "requirements_dev.txt", "dev-requirements.txt",
	"requirements-test.txt", "test-requirements.txt", "requirements/dev.txt"}

// scanRoot finds the root's tools, lint configuration and integration suite.
func (r *repoScan) scanRoot() {
	for _, f := range rootToolFiles {
		if fileExists(filepath.Join(r.root, f)) {
			r.tools = f
			r.toolDeps = requirementNames(filepath.Join(r.root, f), 0)
			break
		}
	}
	for _, f := range []string{"setup.cfg", "tox.ini", ".flake8"} {
		if b, err := os.ReadFile(filepath.Join(r.root, f)); err == nil && strings.Contains(string(b), "[flake8]") {
			r.lintConfig = f
			break
		}
	}
	for _, d := range []string{"tests/integration", "integration_tests", "tests/e2e", "e2e"} {
		reqs, _ := filepath.Glob(filepath.Join(r.root, d, "requirements*.txt"))
		if len(reqs) > 0 {
			sort.Strings(reqs)
			r.suite, r.suiteReqs = d, r.rel(reqs[0])
			break
		}
	}
}

// finish decides what needs every service: libs, depends_on, the interpreter.
func (r *repoScan) finish() {
	for _, s := range r.services {
		s.findLibs(r)
		s.findDependsOn(r.services)
		s.decideUnit(r)
		r.findRequired(s)
		if s.python != "" && r.python == DefaultPython {
			r.python, r.pythonWhy = s.python, "from "+s.path+"/Dockerfile's FROM"
		}
	}
}

// fileExists reports whether p is a regular file.
func fileExists(p string) bool {
	st, err := os.Stat(p)
	return err == nil && st.Mode().IsRegular()
}

// sourceFile is one Python file of a service.
type sourceFile struct {
	rel  string // relative to the service directory, slash-separated
	text string
	test bool // a test file: under tests/, test_*.py, *_test.py, conftest.py
}

// pySources reads the Python files under dir.
func pySources(dir string) []sourceFile {
	var out []sourceFile
	_ = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return nil
		}
		if d.IsDir() {
			if p != dir && (skipDirs[d.Name()] || strings.HasPrefix(d.Name(), ".")) {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(p, ".py") {
			return nil
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return nil
		}
		rel, _ := filepath.Rel(dir, p)
		rel = filepath.ToSlash(rel)
		out = append(out, sourceFile{rel: rel, text: string(b), test: isTestFile(rel)})
		return nil
	})
	return out
}

// isTestFile reports whether a slash path names a test module.
func isTestFile(rel string) bool {
	base := path.Base(rel)
	if base == "conftest.py" || strings.HasPrefix(base, "test_") || strings.HasSuffix(base, "_test.py") || base == "tests.py" {
		return true
	}
	for _, part := range strings.Split(path.Dir(rel), "/") {
		if part == "tests" || part == "test" {
			return true
		}
	}
	return false
}

// firstMatch returns the first submatch of re in the non-test sources, and the file it is in.
func firstMatch(srcs []sourceFile, re *regexp.Regexp) (string, string) {
	for _, f := range srcs {
		if f.test {
			continue
		}
		if m := re.FindStringSubmatch(f.text); m != nil {
			return m[1], f.rel
		}
	}
	return "", ""
}

// requiredRe matches a variable read with no default: os.environ["X"], os.environ.get("X"),
// os.getenv("X").
var requiredRe = regexp.MustCompile(`os\.environ\[\s*["'](\w+)["']\s*\]|(?:os\.environ\.get|os\.getenv)\(\s*["'](\w+)["']\s*\)`)

// convoySets are variables convoy gives services and stages, never required of the user.
var convoySets = map[string]bool{"DATABASE_URL": true, "HOST": true, "PORT": true, "REDIS_URL": true,
	"RABBITMQ_URL": true, "CELERY_BROKER_URL": true, "DJANGO_SETTINGS_MODULE": true}

// findRequired notes the variables a service's code and its libs read with no default.
func (r *repoScan) findRequired(s *service) {
	files := s.srcs
	prefix := map[int]string{}
	for _, lib := range s.libs.v {
		prefix[len(files)] = lib
		files = append(files, pySources(filepath.Join(r.root, lib))...)
	}
	where := s.path
	for i, f := range files {
		if p, ok := prefix[i]; ok {
			where = p
		}
		if f.test {
			continue
		}
		for _, m := range requiredRe.FindAllStringSubmatch(f.text, -1) {
			v := m[1] + m[2]
			note := v + " (" + where + "/" + f.rel + ")"
			if !convoySets[v] && !strings.HasSuffix(v, "_URL") && !r.hasRequired(v) {
				r.required = append(r.required, note)
			}
		}
	}
}

// hasRequired reports whether the variable v is noted already.
func (r *repoScan) hasRequired(v string) bool {
	for _, n := range r.required {
		if strings.HasPrefix(n, v+" ") {
			return true
		}
	}
	return false
}
