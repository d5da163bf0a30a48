package stages

import "github.com/convoy-ci/convoy/pipeline/config"

// unit runs the service's unit tests, offline: unit tests make no calls outside the service.
// They get a fresh SQLite database of their own unless the service says database.unit: none.
var unit = Definition{Name: Unit, For: func(svc *config.Service) Stage {
	return Stage{
		Name: Unit, Commands: command(svc.Unit, "python", "-m", "pytest", "-q"),
		Timeout: svc.Timeout, Needs: []string{Deps}, Offline: true, FreshDB: svc.Database.Unit != config.DatabaseNone, Expected: expectUnit,
		// pytest's cache would write into the source tree and change the image's input hash.
		Env: map[string]string{"PYTEST_ADDOPTS": "-p no:cacheprovider"},
	}
}}
