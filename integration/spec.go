// Package integration brings a monorepo's services up together and runs the cross-service test suite
// against them: one PostgreSQL server (a throwaway cluster convoy starts itself, or an existing one),
// one database per service, each service migrated, populated and started on a free loopback port in
// dependency order and health-checked, then the suite, then everything torn down, whatever happened.
//
// The package knows nothing about services.yaml or convoy's pipeline: the caller describes the run
// with plain values (Spec) and receives progress as events and the outcome as a report, the values of package
// integration/model.
package integration

import (
	"context"
	"time"
)

// Defaults applied to zero fields of Spec, Service and Suite.
var (
	// DefaultMigrate is the migration command of a service whose Migrate is nil.
	DefaultMigrate = []string{"python", "manage.py", "migrate", "--noinput"}
	// DefaultPopulate is the populator command of a service whose Populate is nil; "--scenario NAME"
	// is appended when the service has a Scenario.
	DefaultPopulate = []string{"python", "manage.py", "populate"}
)

// Defaults for durations and paths.
const (
	DefaultHealthPath    = "/healthz"
	DefaultHealthTimeout = 60 * time.Second
	DefaultStepTimeout   = 10 * time.Minute
	DefaultSuiteTimeout  = 10 * time.Minute
	DefaultGracePeriod   = 10 * time.Second
	// InterruptGrace bounds the grace period once a run has been cancelled (SIGINT, SIGTERM).
	InterruptGrace = time.Second
	// DefaultDatabaseVar is the variable a service's database URL is given in when
	// Service.DatabaseVar is empty.
	DefaultDatabaseVar = "DATABASE_URL"
	// DefaultLogDir is the log directory, relative to Spec.Repo, when Spec.LogDir is empty.
	DefaultLogDir = ".convoy/logs/integration"
)

// Spec describes one integration run.
type Spec struct {
	// Repo is the repository root. Relative directories of services and of the suite, and the default
	// LogDir, are resolved against it. Empty means the current directory.
	Repo string

	// LogDir receives one log per service (<name>.log, holding its migrate, populate and serve output),
	// suite.log, junit.xml (when the suite is pytest) and postgres.log (throwaway cluster). Default:
	// <Repo>/.convoy/logs/integration. Logs of a previous run are replaced.
	LogDir string

	// RunID distinguishes this run's databases from others on the same server: each service's database
	// is named <service>_<RunID> (lower-cased, other characters than [a-z0-9_] replaced by '_', at most
	// 63 bytes). Default: generated from the time and random bits.
	RunID string

	// Postgres is the URL (postgres://user:password@host:port/dbname) of an existing server on which the
	// per-service databases are created and dropped; the user needs CREATEDB. Its database is only used
	// to connect. Empty means a throwaway cluster started and removed by Run.
	Postgres string

	// Env holds the shared settings (services.yaml integration.env, such as the JWT key) given to every
	// service and to the suite.
	Env map[string]string

	// Services are started in this order, which must respect depends_on (dependencies first).
	Services []Service

	// Suite is the cross-service test suite, run once every service is healthy.
	Suite Suite
}

// Service describes one service of the run.
type Service struct {
	// Name is the service's name: its log is <Name>.log, its database <Name>_<RunID>, and its URL is
	// given to every process as <NAME>_URL (upper-cased, '-' replaced by '_').
	Name string

	// Dir is the working directory of every command of the service (relative to Spec.Repo).
	Dir string

	// Env is the service's base environment, "KEY=VALUE" entries as in exec.Cmd.Env (PATH with the
	// gated virtualenv's bin first, HOME, VIRTUAL_ENV, PYTHONPATH, declared env). nil means convoy's own
	// environment. Run adds, overriding: Spec.Env, every service's <NAME>_URL, DatabaseVar (this
	// service's database only), HOST and PORT. Commands are looked up in this environment's PATH.
	Env []string

	// DatabaseVar is the variable the service's database URL (postgresql://…) is given in;
	// DefaultDatabaseVar when empty.
	DatabaseVar string

	// Migrate is run first, to completion. nil means DefaultMigrate; an empty non-nil slice skips it.
	Migrate []string

	// Populate is run after Migrate, to completion. nil means DefaultPopulate, followed by
	// "--scenario Scenario" when Scenario is set; an empty non-nil slice skips it.
	Populate []string

	// Prestart is run after Populate, to completion, before Serve (nothing when empty).
	Prestart []string

	// Scenario is the populator scenario to load (see Populate).
	Scenario string

	// Serve starts the service and must keep running. "${HOST}" and "${PORT}" in its arguments are
	// replaced by 127.0.0.1 and the service's port; nothing else is substituted.
	Serve []string

	// Check is how Run knows the service is ready once Serve started: CheckHTTP (the default) on
	// Health, CheckTCP, CheckCommand with CheckCommand, or CheckNone.
	Check Check

	// Health is the HTTP path of CheckHTTP, which answers 2xx once the service is ready
	// (DefaultHealthPath when empty).
	Health string

	// CheckCommand is the command of CheckCommand, run with the service's launcher and environment
	// until it exits 0.
	CheckCommand []string

	// HealthTimeout bounds the wait for the check to pass after Serve starts (DefaultHealthTimeout
	// when zero).
	HealthTimeout time.Duration

	// Timeout bounds Migrate and Populate, each (DefaultStepTimeout when zero).
	Timeout time.Duration

	// Processes run beside Serve (Celery workers, a beat scheduler…), with the same launcher and
	// environment, started in order once the service is healthy, each awaited until ready. The
	// service counts as up (for DependsOn and the suite) once all of them are.
	Processes []Proc

	// Backing names the backing services the service uses (BackingKinds: redis, rabbitmq). Run
	// starts one throwaway server of each kind some service names, before the services, and
	// gives the service (and the suite, every kind's) <KIND>_URL, and CELERY_BROKER_URL:
	// RabbitMQ's URL if it names rabbitmq, else Redis's.
	Backing []string

	// DependsOn names services of the run that must be healthy before this one starts (names of
	// services not in the run are ignored). Services start in parallel under WithParallel.
	DependsOn []string

	// Shadow marks a service whose failure to come up is reported (model.EventServiceFailed) but
	// stops nothing: the others start and the suite runs against them. No service may depend on
	// a shadow service (pipeline/config refuses it); one that does waits for it in vain.
	Shadow bool

	// Launcher starts the service's commands; nil means host processes in Dir with Env. With a
	// Launcher, Dir is not used and Env (nil means empty) is only what the Launcher adds to.
	Launcher Launcher
}

// databaseVar is the variable s's database URL is given in.
func (s Service) databaseVar() string {
	if s.DatabaseVar == "" {
		return DefaultDatabaseVar
	}
	return s.DatabaseVar
}

// Proc is a process of a service besides its serve command. It is reported and logged as
// <service>/<name>, its output in <LogDir>/<service>.<name>.log.
type Proc struct {
	// Name tells the service's processes apart ("worker", "beat").
	Name string
	// Argv is the command; "${HOST}" and "${PORT}" are substituted as in Serve.
	Argv []string
	// ReadyLog is a regular expression: the process is ready once a line of its output matches.
	ReadyLog string
	// ReadyCommand is run with the service's launcher and environment until it exits 0.
	ReadyCommand []string
	// ReadyTimeout bounds the wait for readiness (DefaultHealthTimeout when zero). With neither
	// ReadyLog nor ReadyCommand the process is ready once started.
	ReadyTimeout time.Duration
}

// Check is a kind of readiness check of a service.
type Check string

// The kinds of Check.
const (
	// CheckHTTP waits until GET Service.Health answers 2xx.
	CheckHTTP Check = "http"
	// CheckTCP waits until the service's port accepts a TCP connection.
	CheckTCP Check = "tcp"
	// CheckCommand runs Service.CheckCommand until it exits 0.
	CheckCommand Check = "command"
	// CheckNone takes the service as ready as soon as Serve started.
	CheckNone Check = "none"
)

// Suite describes the cross-service test suite.
type Suite struct {
	// Argv is the command, e.g. [python -m pytest -q tests/integration]. When it runs pytest,
	// --junitxml=<LogDir>/junit.xml is appended (unless Argv has a --junitxml of its own) so that every
	// test's result is reported.
	Argv []string

	// Dir is the working directory (relative to Spec.Repo; default Spec.Repo).
	Dir string

	// Env is the base environment, as Service.Env (nil means convoy's own). Run adds Spec.Env and every
	// service's <NAME>_URL.
	Env []string

	// BinDir, when set, is put first on PATH (the suite's virtualenv's bin directory, for instance).
	BinDir string

	// Timeout bounds the suite (DefaultSuiteTimeout when zero).
	Timeout time.Duration

	// Ready, when set, is called once every service is healthy, right before the suite starts:
	// the engine's last step of making the suite's environment (placing bytecode that the
	// services' builds compiled meanwhile, say). Its error fails the suite.
	Ready func(context.Context) error
}
