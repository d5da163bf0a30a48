package model

import "time"

// EventKind says what an Event reports.
type EventKind string

// The kinds of Event, in the order a successful run emits them.
const (
	// EventLeftoverRemoved: before starting, the run removed something a killed run left (a
	// cluster, a database, a container, a bundle, a root filesystem); Message says what and
	// whose. With Err set, Message says what could not be removed.
	EventLeftoverRemoved EventKind = "leftover.removed"
	// EventPostgresReady: the server is accepting connections. URL (password redacted); for a
	// throwaway cluster also PID (postmaster), Dir (cluster directory) and LogPath.
	EventPostgresReady EventKind = "postgres.ready"
	// EventBackingReady: the backing server Backing (redis, rabbitmq) answers its protocol at URL
	// (PID of its server process, Port, Dir, LogPath).
	EventBackingReady EventKind = "backing.ready"
	// EventDatabaseCreated: Service's database Database was created.
	EventDatabaseCreated EventKind = "database.created"
	// EventServiceMigrate: Service's migration started (PID, Argv).
	EventServiceMigrate EventKind = "service.migrate"
	// EventServicePopulate: Service's populator started (PID, Argv).
	EventServicePopulate EventKind = "service.populate"
	// EventServicePrestart: Service's pre-start command started (PID, Argv).
	EventServicePrestart EventKind = "service.prestart"
	// EventServicePortMoved: the port picked for Service was taken by another process; it moves to Port
	// (URL is the new one). Message says which port was taken.
	EventServicePortMoved EventKind = "service.port_moved"
	// EventServiceStart: Service's serve command started (PID, Port, URL, Argv).
	EventServiceStart EventKind = "service.start"
	// EventServiceHealthy: Service answered its health check; Duration is the time since its start.
	EventServiceHealthy EventKind = "service.healthy"
	// EventProcessStart: a process of a service besides serve started; Service is
	// <service>/<process> (PID, Argv, LogPath).
	EventProcessStart EventKind = "process.start"
	// EventProcessReady: that process is ready (Duration since its start).
	EventProcessReady EventKind = "process.ready"
	// EventServiceFailed: a step of Service failed (Step, Err, usually a *ServiceError).
	EventServiceFailed EventKind = "service.failed"
	// EventSuiteStarted: the suite started (PID, Argv, LogPath).
	EventSuiteStarted EventKind = "suite.started"
	// EventTestResult: one test's result (Test), from the suite's JUnit XML, after the suite ended.
	EventTestResult EventKind = "suite.test"
	// EventSuiteFinished: the suite ended (Duration, Suite with the counts, Err when it failed).
	EventSuiteFinished EventKind = "suite.finished"
	// EventDatabaseDropped: Service's database Database was dropped (Err if dropping failed).
	EventDatabaseDropped EventKind = "database.dropped"
	// EventTeardownFinished: every process is gone, databases dropped, throwaway cluster removed
	// (Duration; Err if any of that failed).
	EventTeardownFinished EventKind = "teardown.finished"
)

// Event is one step of progress. Only the fields its Kind documents are set.
type Event struct {
	Kind     EventKind
	Time     time.Time
	Service  string
	Step     string // "migrate", "populate", "serve" or "health" (EventServiceFailed)
	PID      int    // process (and process group) started
	Port     int
	URL      string
	Database string
	Backing  string // kind of backing server (EventBackingReady)
	Dir      string
	LogPath  string
	Argv     []string
	Test     *TestResult
	Suite    *SuiteReport
	Duration time.Duration
	Message  string
	Err      error
}
