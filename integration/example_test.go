package integration_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/convoy-ci/convoy/integration"
	"github.com/convoy-ci/convoy/integration/model"
)

// Run two Django services, payments depending on auth, against a throwaway PostgreSQL cluster, and the
// cross-service suite against both; Ctrl-C tears everything down.
func ExampleRun() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	venv := func(name string) []string { // the controlled environment a service's gates ran in
		return []string{"PATH=/repo/.convoy/venvs/" + name + "/bin:/usr/bin:/bin", "HOME=/root",
			"DJANGO_SETTINGS_MODULE=" + name + "_service.settings"}
	}
	spec := integration.Spec{
		Repo: "/repo",
		Env:  map[string]string{"JWT_SECRET": "dev-only-secret"},
		Services: []integration.Service{
			{Name: "auth", Dir: "services/auth", Env: venv("auth"), Scenario: "default",
				Serve: []string{"python", "-m", "gunicorn", "auth_service.wsgi", "--bind", "${HOST}:${PORT}"}},
			{Name: "payments", Dir: "services/payments", Env: venv("payments"), Scenario: "default",
				Serve: []string{"python", "-m", "gunicorn", "payments_service.wsgi", "--bind", "${HOST}:${PORT}"}},
		},
		Suite: integration.Suite{
			Argv:    []string{"python", "-m", "pytest", "-q", "tests/integration"},
			BinDir:  "/repo/.convoy/venvs/integration/bin",
			Timeout: 10 * time.Minute,
		},
	}
	rep, err := integration.Run(ctx, spec, integration.WithEvents(func(e model.Event) {
		fmt.Println(e.Kind, e.Service)
	}))
	var se *model.ServiceError
	switch {
	case errors.As(err, &se):
		fmt.Printf("%s failed at %s\n", se.Service, se.Step)
	case errors.Is(err, model.ErrSuiteFailed):
		fmt.Printf("%d of %d tests failed\n", rep.Suite.Failed+rep.Suite.Errors, rep.Suite.Total())
	case errors.Is(err, model.ErrInterrupted):
		fmt.Println("interrupted; everything was torn down")
	}
}
