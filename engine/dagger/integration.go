package dagger

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"path"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/convoy-ci/convoy/engine"
	"github.com/convoy-ci/convoy/integration"
	"github.com/convoy-ci/convoy/pipeline/config"
	"github.com/convoy-ci/convoy/python"
	"github.com/convoy-ci/convoy/stages"
)

// Integration defaults on the dagger engine.
const (
	// defaultPostgresImage is the Postgres server's image unless IntegrationOptions names one.
	// It must follow the official image's conventions: POSTGRES_USER, POSTGRES_PASSWORD,
	// POSTGRES_DB and /docker-entrypoint-initdb.d.
	defaultPostgresImage = "postgres:16"
	// postgresHostname is the hostname the server is bound under in every service container.
	postgresHostname = "postgres"
	// postgresPort is the port it listens on.
	postgresPort = 5432
	// postgresUser and PostgresPassword are its superuser's credentials: the server lives only
	// for the run and is reachable only from the run's containers.
	postgresUser     = "convoy"
	postgresPassword = "convoy"
	// postgresInitFile creates one database per service when the server first starts.
	postgresInitFile = "/docker-entrypoint-initdb.d/convoy-databases.sql"
	// junitFile is where a pytest suite writes its results in the suite container.
	junitFile = stateRoot + "/junit.xml"
	// integrationStage is the stage name integration containers carry in CONVOY_STAGE.
	integrationStage = "integration"
	// envRunID carries the run id into every integration container, so that no exec of one run
	// is answered from the cache of another (each run has a fresh server).
	envRunID = "CONVOY_RUN_ID"
)

// IntegrationOptions select what the integration translation cannot read from services.yaml.
type IntegrationOptions struct {
	// RunID distinguishes the run's databases (integration.DatabaseName) and busts the cache of
	// its execs; empty means a new random one.
	RunID string
	// Postgres is the server's image: a registry reference, oci-layout:PATH[:TAG] or
	// docker-archive:FILE[:REF] (default: services.yaml's integration.postgres_image, else
	// postgres:16).
	Postgres string
	// SuiteBase is the suite container's base image (default: defaults.base, else python:VERSION-slim).
	SuiteBase string
	// HealthTimeout bounds each service's health check (default integration.DefaultHealthTimeout).
	HealthTimeout time.Duration
	// images are the services started from their images, by name: each an image reference as
	// base: takes it (Integrate exports the built image as docker-archive:FILE:TAG). A service
	// not named here starts from its gated container.
	images map[string]string
}

// integrationRecipe is the integration stage as data: one Postgres server, one database per
// service, every service set up (migrate, populate) and started as a service bound by hostname,
// and the suite in a container bound to all of them.
type integrationRecipe struct {
	// RunID is the run's id.
	RunID string `json:"run_id"`
	// Postgres is the server.
	Postgres postgresRecipe `json:"postgres"`
	// Services are in start order: every service after the services it depends on.
	Services []serviceRecipe `json:"services"`
	// Suite is the cross-service test suite.
	Suite suiteRecipe `json:"suite"`
	// Timeout bounds the whole stage (integration.timeout).
	Timeout time.Duration `json:"timeout,omitempty"`
}

// postgresRecipe is the Postgres server of an integration run.
type postgresRecipe struct {
	Base     imageRef `json:"base"`
	Hostname string   `json:"hostname"`
	Port     int      `json:"port"`
	Env      []envVar `json:"env"`
	// InitFile and InitSQL create the services' databases at the server's first start.
	InitFile string `json:"init_file"`
	InitSQL  string `json:"init_sql"`
}

// serviceRecipe is one service of an integration run.
type serviceRecipe struct {
	// Name is the service's name; Hostname is the name other containers reach it by.
	Name     string `json:"name"`
	Hostname string `json:"hostname"`
	// Port is the port it serves on; URL is http://Hostname:Port.
	Port int    `json:"port"`
	URL  string `json:"url"`
	// Database is its database on the run's server.
	Database string `json:"database"`
	// Setup is its container before it serves: its gated environment with the source mounted,
	// the run's environment, and the migrate and populate execs.
	Setup recipe `json:"setup"`
	// Serve is the argv that starts it, ${HOST} and ${PORT} substituted.
	Serve []string `json:"serve"`
	// Health is the HTTP path that answers 2xx when it is ready.
	Health string `json:"health"`
	// Bindings are the hostnames bound in its containers: the server, then the services it
	// depends on (transitively), in start order.
	Bindings []string `json:"bindings"`
	// Shadow says its failure to come up stops nothing (services.yaml's shadow: true).
	Shadow bool `json:"shadow,omitempty"`
}

// suiteRecipe is the cross-service suite's container.
type suiteRecipe struct {
	// Setup creates the suite's virtualenv and installs its requirements.
	Setup recipe `json:"setup"`
	// HealthChecks wait for each service's health path to answer 2xx, in start order.
	HealthChecks []execStep `json:"health_checks"`
	// Command is the suite (with --junitxml added for pytest).
	Command execStep `json:"command"`
	// JUnit is the JUnit XML file the suite writes in its container ("" when not known).
	JUnit string `json:"junit,omitempty"`
	// Bindings are the hostnames bound in the suite's container: every service.
	Bindings []string `json:"bindings"`
}

// healthScript polls the URL in argv[1] until it answers 2xx or argv[2] seconds have passed.
const healthScript = `import sys, time, urllib.request
url, deadline, err = sys.argv[1], time.monotonic() + float(sys.argv[2]), None
while True:
    try:
        with urllib.request.urlopen(url, timeout=5) as r:
            if 200 <= r.status < 300:
                print(url, r.status)
                sys.exit(0)
            err = "HTTP %d" % r.status
    except Exception as e:
        err = e
    if time.monotonic() > deadline:
        print(url, "is not healthy:", err)
        sys.exit(1)
    time.sleep(0.5)
`

// tcpScript waits until argv[1]:argv[2] accepts a TCP connection, for at most argv[3] seconds.
const tcpScript = `import socket, sys, time
host, port, deadline, err = sys.argv[1], int(sys.argv[2]), time.monotonic() + float(sys.argv[3]), None
while True:
    try:
        socket.create_connection((host, port), timeout=5).close()
        print(host, port, "accepts connections")
        sys.exit(0)
    except OSError as e:
        err = e
    if time.monotonic() > deadline:
        print(host, port, "is not healthy:", err)
        sys.exit(1)
    time.sleep(0.5)
`

// unsupported refuses what services.yaml asks of svc's integration that the dagger engine does
// not do: a service must listen on its port (Dagger waits for it) and be checked by HTTP or TCP,
// and have no backing services or processes beside serve.
func unsupported(svc *config.Service) error {
	switch {
	case svc.Check == config.CheckNone || svc.Check == config.CheckCommand:
		return fmt.Errorf("integration: service %q: health %s is not supported by the dagger engine (expected an HTTP path or tcp; use --engine local)", svc.Name, svc.Check)
	case len(svc.Backing) > 0:
		return fmt.Errorf("integration: service %q: backing services (%s) are not started by the dagger engine yet (use --engine local)", svc.Name, strings.Join(svc.Backing, ", "))
	case len(svc.Processes) > 0:
		return fmt.Errorf("integration: service %q: processes beside serve (%s) are not started by the dagger engine yet (use --engine local)", svc.Name, svc.Processes[0].Name)
	}
	return nil
}

// newRunID returns a fresh run id: the time and random bits.
func newRunID() string {
	var b [3]byte
	_, _ = rand.Read(b[:])
	return time.Now().UTC().Format("20060102t150405") + "_" + hex.EncodeToString(b[:])
}

// integrationRun translates the integration stage of services (in services.yaml order; they are
// started in dependency order) into a recipe.
func (t translator) integrationRun(cfg *config.Config, services []*config.Service, o IntegrationOptions) (integrationRecipe, error) {
	if len(services) == 0 {
		return integrationRecipe{}, fmt.Errorf("integration: no services")
	}
	if o.RunID == "" {
		o.RunID = newRunID()
	}
	if o.Postgres == "" {
		o.Postgres = cfg.Integration.PostgresImage
	}
	if o.Postgres == "" {
		o.Postgres = defaultPostgresImage
	}
	if o.HealthTimeout <= 0 {
		o.HealthTimeout = integration.DefaultHealthTimeout
	}
	order, err := startOrder(services)
	if err != nil {
		return integrationRecipe{}, err
	}
	pgBase, err := parseBase(o.Postgres, cfg.Root)
	if err != nil {
		return integrationRecipe{}, fmt.Errorf("integration: Postgres image: %w", err)
	}
	r := integrationRecipe{RunID: o.RunID, Timeout: cfg.Integration.Timeout}
	r.Postgres = postgresRecipe{
		Base: pgBase, Hostname: postgresHostname, Port: postgresPort, InitFile: postgresInitFile,
		Env: envList(map[string]string{
			"POSTGRES_USER": postgresUser, "POSTGRES_PASSWORD": postgresPassword, "POSTGRES_DB": postgresUser,
			envRunID: o.RunID,
		}),
	}
	urls := map[string]string{}
	for _, svc := range order {
		urls[integration.URLVar(svc.Name)] = serviceURL(svc)
	}
	var sql strings.Builder
	for _, svc := range order {
		sr, err := t.integrationService(cfg, svc, order, urls, o)
		if err != nil {
			return integrationRecipe{}, err
		}
		fmt.Fprintf(&sql, "CREATE DATABASE %q;\n", sr.Database)
		r.Services = append(r.Services, sr)
	}
	r.Postgres.InitSQL = sql.String()
	if r.Suite, err = t.suite(cfg, r.Services, urls, o); err != nil {
		return integrationRecipe{}, err
	}
	return r, nil
}

func serviceURL(svc *config.Service) string {
	return "http://" + svc.DNSName() + ":" + strconv.Itoa(svc.Port)
}

// integrationService translates one service: its gated environment, the run's variables (as
// integration.Run adds them: integration.env, every <NAME>_URL, its database variable, HOST, PORT),
// migrate and populate, and its serve command.
func (t translator) integrationService(cfg *config.Config, svc *config.Service, order []*config.Service, urls map[string]string, o IntegrationOptions) (serviceRecipe, error) {
	db := integration.DatabaseName(svc.Name, o.RunID)
	port := strconv.Itoa(svc.Port)
	// From its image, a service has the image's environment, working directory and user, with
	// the run's variables on top, as integration.Run starts an image; from its gated container,
	// a stage's environment and its source mounted.
	env := map[string]string{}
	if _, ok := o.images[svc.Name]; !ok {
		env, _ = t.env(cfg, svc, stages.Stage{Name: integrationStage})
	}
	for k, v := range cfg.Integration.Env {
		env[k] = v
	}
	for k, v := range urls {
		env[k] = v
	}
	env[svc.DatabaseEnv()] = fmt.Sprintf("postgresql://%s:%s@%s:%d/%s", postgresUser, postgresPassword, postgresHostname, postgresPort, db)
	env["HOST"] = "0.0.0.0"
	env["PORT"] = port
	env[envRunID] = o.RunID
	var execs []execStep
	migrate, populate, prestart := engine.IntegrationSteps(svc)
	for _, x := range []execStep{{Step: "migrate", Argv: migrate}, {Step: "populate", Argv: populate}, {Step: "prestart", Argv: prestart}} {
		if len(x.Argv) > 0 {
			execs = append(execs, x)
		}
	}
	setup, err := t.serviceSetup(cfg, svc, o, recipe{Service: svc.Name, Stage: integrationStage, Env: envList(env), Timeout: svc.Timeout, Execs: execs})
	if err != nil {
		return serviceRecipe{}, err
	}
	serve := integration.Substitute(svc.Serve, "0.0.0.0", port)
	if len(serve) == 0 {
		return serviceRecipe{}, fmt.Errorf("integration: service %q has no serve: command", svc.Name)
	}
	if err := unsupported(svc); err != nil {
		return serviceRecipe{}, err
	}
	health := svc.Health
	if health == "" && svc.Check != config.CheckTCP {
		health = integration.DefaultHealthPath
	}
	bindings := []string{postgresHostname}
	deps := dependencies(svc, order)
	for _, d := range order {
		if deps[d.Name] {
			bindings = append(bindings, d.DNSName())
		}
	}
	return serviceRecipe{
		Name: svc.Name, Hostname: svc.DNSName(), Port: svc.Port, URL: serviceURL(svc), Database: db,
		Setup: setup, Serve: serve, Health: health, Bindings: bindings, Shadow: svc.Shadow,
	}, nil
}

// serviceSetup completes setup, the container svc is set up and served from: its image when
// o.images names one, else its gated container with its source mounted where the image has it.
func (t translator) serviceSetup(cfg *config.Config, svc *config.Service, o IntegrationOptions, setup recipe) (recipe, error) {
	if ref, ok := o.images[svc.Name]; ok {
		base, err := parseBase(ref, cfg.Root)
		if err != nil {
			return recipe{}, fmt.Errorf("integration: image of %q: %w", svc.Name, err)
		}
		setup.Base = base
		return setup, nil
	}
	prep, err := t.prepared(cfg, svc)
	if err != nil {
		return recipe{}, err
	}
	if setup.Mounts, err = sourceMounts(cfg, svc); err != nil {
		return recipe{}, err
	}
	setup.Base, setup.From, setup.Workdir = prep.Base, &prep, sourceRoot
	setup.Unset, setup.Unmount = leftovers(&prep, &setup)
	return setup, nil
}

// suite translates the suite's container: the suite's base image with the repository mounted,
// a virtualenv with its requirements, the run's variables, one health check per service, and
// its command.
func (t translator) suite(cfg *config.Config, services []serviceRecipe, urls map[string]string, o IntegrationOptions) (suiteRecipe, error) {
	version := cfg.Defaults.Python
	if version == "" {
		version = config.DefaultPython
	}
	ref := o.SuiteBase
	if ref == "" {
		ref = cfg.Defaults.Base
	}
	if ref == "" {
		def := defaultBaseImage
		if t.DefaultBase != nil {
			def = t.DefaultBase
		}
		ref = def(version)
	}
	base, err := parseBase(ref, cfg.Root)
	if err != nil {
		return suiteRecipe{}, fmt.Errorf("integration: suite base image: %w", err)
	}
	if len(cfg.Integration.Command) == 0 {
		return suiteRecipe{}, fmt.Errorf("integration: no suite command (integration.command in services.yaml)")
	}
	// The suite is not a service: its environment is a stage's with nothing of a service's.
	env, hostMounts := t.env(cfg, &config.Service{Name: ""}, stages.Stage{Name: integrationStage, HostNetEnv: true})
	delete(env, "CONVOY_SERVICE")
	delete(env, "PYTHONPATH")
	for k, v := range cfg.Integration.Env {
		env[k] = v
	}
	for k, v := range urls {
		env[k] = v
	}
	env[envRunID] = o.RunID
	env["PIP_CACHE_DIR"] = pipCacheDir
	setup := recipe{
		Service: "", Stage: integrationStage, Base: base,
		Dirs: []string{venvDir},
		Mounts: append([]mountSpec{{Host: cfg.Root, Path: repoRoot, Gitignore: true,
			Exclude: []string{".git", ".convoy", "**/__pycache__", "**/*.pyc"}}}, hostMounts...),
		Caches:  []cacheVolume{{Key: pipCacheVolume, Path: pipCacheDir}},
		Env:     envList(env),
		Workdir: repoRoot,
		Timeout: cfg.Integration.Timeout,
		Execs:   []execStep{{Argv: python.VenvArgv(python.InstallerPip, "", "python"+version, venvDir)}},
	}
	if req := cfg.Integration.Requirements; req != "" {
		install := python.RequirementsInstallArgv(python.InstallerPip, path.Join(repoRoot, filepath.ToSlash(req)))
		setup.Execs = append(setup.Execs, execStep{Argv: install})
	}
	s := suiteRecipe{Setup: setup}
	secs := strconv.FormatFloat(o.HealthTimeout.Seconds(), 'f', -1, 64)
	for _, sr := range services {
		check := execStep{Argv: []string{"python", "-c", healthScript, sr.URL + sr.Health, secs}}
		if sr.Health == "" {
			check = execStep{Argv: []string{"python", "-c", tcpScript, sr.Hostname, strconv.Itoa(sr.Port), secs}}
		}
		s.HealthChecks = append(s.HealthChecks, check)
		s.Bindings = append(s.Bindings, sr.Hostname)
	}
	argv := append([]string(nil), cfg.Integration.Command...)
	if p, ok := integration.JUnitArg(argv); ok {
		if !path.IsAbs(p) {
			p = path.Join(repoRoot, p)
		}
		s.JUnit = p
	} else if integration.IsPytest(argv) {
		argv = append(argv, "--junitxml="+junitFile)
		s.JUnit = junitFile
	}
	s.Command = execStep{Argv: argv}
	return s, nil
}

// startOrder sorts services so that each comes after the services it depends on, keeping
// services.yaml order otherwise. Dependencies outside services are ignored (not started).
func startOrder(services []*config.Service) ([]*config.Service, error) {
	in := map[string]*config.Service{}
	for _, s := range services {
		in[s.Name] = s
	}
	var out []*config.Service
	state := map[string]int{} // 1 visiting, 2 done
	var visit func(s *config.Service, path []string) error
	visit = func(s *config.Service, path []string) error {
		switch state[s.Name] {
		case 1:
			return fmt.Errorf("integration: depends_on cycle %s", strings.Join(append(path, s.Name), " → "))
		case 2:
			return nil
		}
		state[s.Name] = 1
		for _, d := range s.DependsOn {
			if ds, ok := in[d]; ok {
				if err := visit(ds, append(path, s.Name)); err != nil {
					return err
				}
			}
		}
		state[s.Name] = 2
		out = append(out, s)
		return nil
	}
	for _, s := range services {
		if err := visit(s, nil); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// dependencies returns the services svc depends on, transitively, among order.
func dependencies(svc *config.Service, order []*config.Service) map[string]bool {
	by := map[string]*config.Service{}
	for _, s := range order {
		by[s.Name] = s
	}
	deps := map[string]bool{}
	var walk func(s *config.Service)
	walk = func(s *config.Service) {
		for _, d := range s.DependsOn {
			if ds, ok := by[d]; ok && !deps[d] {
				deps[d] = true
				walk(ds)
			}
		}
	}
	walk(svc)
	return deps
}
