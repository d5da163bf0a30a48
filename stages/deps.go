package stages

import (
	"os"
	"path/filepath"

	"github.com/convoy-ci/convoy/pipeline/config"
	"github.com/convoy-ci/convoy/python"
)

// deps installs the service's dependencies into its environment: pip services read
// requirements-dev.txt when the service has one (test and lint tools on top of
// requirements.txt), else requirements.txt, with the service's installer (uv by default,
// python.RequirementsInstallArgv); pipenv reads the Pipfile and installs the dev packages too,
// in a virtualenv with pip.
var deps = Definition{Name: Deps, For: func(svc *config.Service) Stage {
	st := Stage{Name: Deps, Kind: KindDeps, Timeout: svc.Timeout, HostNetEnv: true, Expected: expectDeps}
	switch svc.Deps {
	case config.DepsPipenv:
		st.Installer = python.InstallerPip
		st.Commands = [][]string{
			{"python", "-m", "pip", "install", "--quiet", "pipenv"},
			{"python", "-m", "pipenv", "install", "--dev"},
		}
		st.Env = map[string]string{
			"PIPENV_VERBOSITY": "-1", "PIPENV_NOSPIN": "1", "PIPENV_YES": "1",
			"PIPENV_IGNORE_VIRTUALENVS": "0",
		}
	default:
		spec := config.SpecFile(config.DepsPip)
		if _, err := os.Stat(filepath.Join(svc.Dir, config.DevSpecFile)); err == nil {
			spec = config.DevSpecFile
		}
		st.Installer = installer(svc)
		st.Commands = [][]string{python.RequirementsInstallArgv(st.Installer, spec)}
	}
	return st
}}

// installer is the installer of a pip service: its manifest's, uv when it names none (a
// Service built without the loader).
func installer(svc *config.Service) string {
	if svc.Installer == config.InstallerPip {
		return python.InstallerPip
	}
	return python.InstallerUV
}

// Frozen replaces the deps stage of sts with one that installs exactly svc's committed lockfile
// — requirements.lock with the service's installer, Pipfile.lock through pipenv sync — when it
// has one. Releases build this way, from what QA froze.
func Frozen(svc *config.Service, sts []Stage) []Stage {
	lock := config.LockFile(svc.Deps)
	if _, err := os.Stat(filepath.Join(svc.Dir, lock)); err != nil {
		return sts
	}
	out := append([]Stage(nil), sts...)
	for i, st := range out {
		if st.Name != Deps {
			continue
		}
		if svc.Deps == config.DepsPipenv {
			st.Commands = [][]string{st.Commands[0], {"python", "-m", "pipenv", "sync", "--dev"}}
		} else {
			st.Commands = [][]string{python.RequirementsInstallArgv(st.Installer, lock)}
		}
		out[i] = st
	}
	return out
}
