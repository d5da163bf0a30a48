package stages

import (
	"github.com/convoy-ci/convoy/integration"
	"github.com/convoy-ci/convoy/pipeline/config"
)

// populate loads the service's populator scenarios into a fresh database of its own, offline:
// a populator must not depend on other services being up. The database is migrated first, as
// integration does (a populator expects its tables): with the manifest's migrate when it sets
// one, and with Django's when the populator is Django's default one.
var populate = Definition{Name: Populate, For: func(svc *config.Service) Stage {
	cmds := command(svc.Populate, integration.DefaultPopulate...)
	if len(cmds) > 0 && (svc.Migrate != nil || svc.Populate == nil) {
		cmds = append(command(svc.Migrate, integration.DefaultMigrate...), cmds...)
	}
	return Stage{
		Name: Populate, Commands: cmds,
		Timeout: svc.Timeout, Needs: []string{Unit, Lint}, Offline: true, FreshDB: true, Expected: expectPopulate,
	}
}}
