package stages

import "github.com/convoy-ci/convoy/pipeline/config"

// populate loads the service's populator scenarios into a fresh database of its own, offline:
// a populator must not depend on other services being up.
var populate = Definition{Name: Populate, For: func(svc *config.Service) Stage {
	return Stage{
		Name: Populate, Commands: command(svc.Populate, "python", "manage.py", "populate"),
		Timeout: svc.Timeout, Needs: []string{Unit, Lint}, Offline: true, FreshDB: true, Expected: expectPopulate,
	}
}}
