package dagger

import (
	"strings"
	"testing"

	"github.com/convoy-ci/convoy/pipeline/config"
)

// TestIntegrationChecks: a TCP-checked service is awaited by a TCP connection from the suite's
// container; checks the dagger engine cannot honour are refused, naming the service and key.
func TestIntegrationChecks(t *testing.T) {
	cfg := load(t, "services.yaml")
	api := cfg.Service("api")
	api.Check, api.Health = config.CheckTCP, ""
	r, err := hostEnv(nil).integrationRun(cfg, cfg.Services, IntegrationOptions{RunID: "r1"})
	if err != nil {
		t.Fatal(err)
	}
	if r.Services[0].Name != "api" || r.Services[0].Health != "" {
		t.Fatalf("api recipe = %+v", r.Services[0])
	}
	same(t, "api check", r.Suite.HealthChecks[0].Argv, []string{"python", "-c", tcpScript, "api", "9000", "60"})
	if web := r.Suite.HealthChecks[1].Argv; web[3] != "http://web:8000/healthz" {
		t.Errorf("web's check = %q, want its HTTP path", web)
	}

	api.Check = config.CheckTCP
	for what, set := range map[string]func(){
		"backing services (redis) are not": func() { api.Backing = []string{"redis"} },
		"processes beside serve (worker)":  func() { api.Backing, api.Processes = nil, []config.Process{{Name: "worker", Command: []string{"w"}}} },
	} {
		set()
		_, err := hostEnv(nil).integrationRun(cfg, cfg.Services, IntegrationOptions{RunID: "r1"})
		if err == nil || !strings.Contains(err.Error(), `service "api": `+what) || !strings.Contains(err.Error(), "--engine local") {
			t.Errorf("err = %v, want a refusal of %s", err, what)
		}
	}
	api.Processes = nil
	for _, check := range []string{config.CheckNone, config.CheckCommand} {
		api.Check, api.CheckCommand = check, []string{"true"}
		_, err := hostEnv(nil).integrationRun(cfg, cfg.Services, IntegrationOptions{RunID: "r1"})
		if err == nil || !strings.Contains(err.Error(), `service "api": health `+check+` is not supported by the dagger engine`) {
			t.Errorf("health %s: err = %v, want a refusal", check, err)
		}
	}
}
