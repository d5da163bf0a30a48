package stages

import "github.com/convoy-ci/convoy/pipeline/config"

// deps installs the service's dependencies into its environment: pip reads requirements.txt,
// pipenv reads the Pipfile and installs the dev packages too (tests and linters live there).
var deps = Definition{Name: Deps, For: func(svc *config.Service) Stage {
	st := Stage{Name: Deps, Kind: KindDeps, Timeout: svc.Timeout, HostNetEnv: true}
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
		st.Commands = [][]string{{"python", "-m", "pip", "install", "-r", config.SpecFile(config.DepsPip)}}
	}
	return st
}}
