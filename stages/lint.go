package stages

import "github.com/convoy-ci/convoy/pipeline/config"

// lint runs flake8 (pycodestyle included) with the service's own configuration.
var lint = Definition{Name: Lint, For: func(svc *config.Service) Stage {
	return Stage{
		Name: Lint, Commands: command(svc.Lint, "python", "-m", "flake8"),
		Timeout: svc.Timeout, Needs: []string{Deps}, Expected: expectLint,
	}
}}
