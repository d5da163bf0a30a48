package stages

import (
	"os"
	"path/filepath"

	"github.com/convoy-ci/convoy/pipeline/config"
)

// deps installs the service's dependencies into its environment: pip reads requirements-dev.txt
// when the service has one (test and lint tools on top of requirements.txt), else
// requirements.txt; pipenv reads the Pipfile and installs the dev packages too.
var deps = Definition{Name: Deps, For: func(svc *config.Service) Stage {
	st := Stage{Name: Deps, Kind: KindDeps, Timeout: svc.Timeout, HostNetEnv: true, Expected: expectDeps}
	switch svc.Deps {
	case config.DepsPipenv:
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
		st.Commands = [][]string{{"python", "-m", "pip", "install", "-r", spec}}
	}
	return st
}}

// Frozen replaces the deps stage of sts with one that installs exactly svc's committed lockfile
// — requirements.lock with pip, Pipfile.lock through pipenv sync — when it has one. Releases
// build this way, from what QA froze.
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
			st.Commands = [][]string{{"python", "-m", "pip", "install", "-r", lock}}
		}
		out[i] = st
	}
	return out
}
