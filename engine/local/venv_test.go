package local

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/convoy-ci/convoy/pipeline/config"
	"github.com/convoy-ci/convoy/python"
	"github.com/convoy-ci/convoy/stages"
)

// TestSpecHash: a virtualenv is reused exactly when what would be installed into it is the same.
func TestSpecHash(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("requirements.txt", "django\n")
	svc := &config.Service{Name: "a", Dir: dir, Python: "3.11", Deps: python.Pip}
	hash := func(s *config.Service) string {
		h, err := SpecHash(s, stages.ForService(s)[0])
		if err != nil {
			t.Fatal(err)
		}
		return h
	}
	base := hash(svc)
	if again := hash(&config.Service{Name: "other-name", Dir: dir, Python: "3.11", Deps: python.Pip}); again != base {
		t.Error("two services with the same spec do not share a virtualenv")
	}
	other := *svc
	other.Python = "3.12"
	if hash(&other) == base {
		t.Error("another Python version shares the virtualenv")
	}
	write("requirements-dev.txt", "-r requirements.txt\npytest\n")
	withDev := hash(svc)
	if withDev == base {
		t.Error("adding requirements-dev.txt keeps the virtualenv")
	}
	write("requirements.lock", "django==5.2\n")
	withLock := hash(svc)
	if withLock == withDev {
		t.Error("a new lockfile keeps the virtualenv")
	}
	frozen, err := SpecHash(svc, stages.Frozen(svc, stages.ForService(svc))[0])
	if err != nil {
		t.Fatal(err)
	}
	if frozen == withLock {
		t.Error("the virtualenv installed from the lockfile is the one installed from the unpinned spec")
	}
	write("requirements.txt", "django\nrequests\n")
	if hash(svc) == withLock {
		t.Error("changing requirements.txt keeps the virtualenv")
	}
}

// TestEnvNamesDevTools: the environment release freezes says which repository tools its deps
// stage installed on top of the service's own dependencies, so that Freeze does not take them
// for packages the service's lock must hold.
func TestEnvNamesDevTools(t *testing.T) {
	dir := t.TempDir()
	for name, content := range map[string]string{"requirements.txt": "django\n", "requirements-tools.txt": "flake8\n"} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	svc := &config.Service{Name: "a", Dir: dir, Python: "3.11", Deps: python.Pip,
		Tools: config.Tools{Requirements: "requirements-tools.txt", Packages: []string{"pytest==8.3.3"}}}
	env, err := New(t.TempDir()).Env(svc)
	if err != nil {
		t.Fatal(err)
	}
	want := python.DevTools{Requirements: "requirements-tools.txt", Packages: []string{"pytest==8.3.3"}}
	if env.DevTools.Requirements != want.Requirements || len(env.DevTools.Packages) != 1 || env.DevTools.Packages[0] != want.Packages[0] {
		t.Errorf("Env().DevTools = %+v, want %+v", env.DevTools, want)
	}
}
