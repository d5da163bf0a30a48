package integration

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sync/errgroup"
	"golang.org/x/sync/semaphore"

	"github.com/convoy-ci/convoy/integration/backing"
	"github.com/convoy-ci/convoy/integration/internal/freeport"
	"github.com/convoy-ci/convoy/integration/model"
	"github.com/convoy-ci/convoy/integration/pgcluster"
)

// Option configures Run.
type Option func(*options)

type options struct {
	events      func(model.Event)
	grace       time.Duration
	pgBinDir    string
	pgParentDir string
	pickPort    func() (int, error)
	parallel    int
	runDir      string
	containers  ContainerSweeper
}

// WithEvents calls fn with every event of the run, in order, one at a time (services starting
// in parallel emit from their own goroutines). fn should return quickly: the run waits for it.
func WithEvents(fn func(model.Event)) Option { return func(o *options) { o.events = fn } }

// WithGracePeriod sets how long a process group has to exit after SIGTERM before it gets SIGKILL
// (DefaultGracePeriod by default).
func WithGracePeriod(d time.Duration) Option { return func(o *options) { o.grace = d } }

// WithPostgresBinDir uses the PostgreSQL programs in dir for the throwaway cluster instead of
// searching PATH and /usr/lib/postgresql/*/bin.
func WithPostgresBinDir(dir string) Option { return func(o *options) { o.pgBinDir = dir } }

// WithClusterParentDir creates the throwaway cluster's directory in dir instead of
// pgcluster.DefaultParentDir() (memory when there is room, else os.TempDir()).
func WithClusterParentDir(dir string) Option { return func(o *options) { o.pgParentDir = dir } }

// WithParallel lets up to n services start at once (migrate, populate, serve and health check);
// a service still starts only once every service of its DependsOn is healthy. The default, 1,
// starts them one after another in the order given.
func WithParallel(n int) Option { return func(o *options) { o.parallel = max(n, 1) } }

// maxPortAttempts bounds how often a service is moved to another port because its port was taken.
const maxPortAttempts = 5

// Run brings the services of spec up and runs the suite against them, then tears everything down.
//
// In order: a PostgreSQL server (spec.Postgres, or a throwaway cluster), one database per service,
// then for each service in order its migration, its populator and its serve command on a free
// 127.0.0.1 port, health-checked; then the suite. Teardown always runs before Run returns, whether the
// run passed, failed or ctx was cancelled: every process group started is stopped (SIGTERM, then
// SIGKILL after the grace period) and reaped, the databases are dropped, the throwaway cluster is
// stopped and its directory removed.
//
// The error is nil only if every service came up and the suite passed. Otherwise it wraps
// model.ErrInvalidSpec (nothing started), a *model.ServiceError, model.ErrSuiteFailed or
// model.ErrInterrupted (and context.Cause(ctx)); teardown failures are joined to it. The report
// is never nil.
//
// To honour SIGINT and SIGTERM, pass a context from signal.NotifyContext: processes run in their own
// process groups, so a terminal's SIGINT reaches convoy only, and Run takes them down in order.
func Run(ctx context.Context, spec Spec, opts ...Option) (rep *model.Report, err error) {
	o := options{grace: DefaultGracePeriod, pickPort: freeport.Pick, parallel: 1}
	for _, opt := range opts {
		opt(&o)
	}
	start := time.Now()
	r := &runner{o: o, used: map[int]bool{}, backing: map[string]*backing.Server{}, outer: ctx}
	if err := r.init(spec); err != nil {
		r.report.Duration = time.Since(start)
		return r.report, fmt.Errorf("%w: %w", model.ErrInvalidSpec, err)
	}
	r.sweep(ctx)
	if r.record, err = writeRecord(o.runDirFor(r.spec.Repo), r.spec.RunID, r.recordOf()); err != nil {
		r.report.Duration = time.Since(start)
		return r.report, err
	}
	rctx, cancel := context.WithCancel(ctx)
	defer func() {
		cancel() // launchers still preparing (waiting for an image) give up before teardown
		r.preparing.Wait()
		if terr := r.teardown(); terr != nil {
			err = errors.Join(err, fmt.Errorf("integration teardown: %w", terr))
		} else {
			_ = os.RemoveAll(r.record) // nothing of the run is left for a sweep to find
		}
		r.report.Duration = time.Since(start)
	}()
	err = r.run(rctx)
	if err != nil && ctx.Err() != nil {
		// Whatever failed did so because the run was being cancelled.
		err = fmt.Errorf("%w while %s: %w", model.ErrInterrupted, r.phase, context.Cause(ctx))
	}
	return r.report, err
}

// runner holds the state of one Run.
type runner struct {
	o        options
	outer    context.Context // Run's own: once it is cancelled, processes get InterruptGrace
	spec     Spec
	report   *model.Report
	services []*service
	mu       sync.Mutex   // guards used and procs while services start in parallel
	emitMu   sync.Mutex   // one event at a time
	used     map[int]bool // ports handed out in this run
	phase    string       // what the run is doing, for the interruption message

	cluster   *pgcluster.Cluster
	adminURL  string
	created   []*service                 // whose database exists
	preparing sync.WaitGroup             // Prepare calls still running
	procs     []*started                 // every process group started, in order
	backing   map[string]*backing.Server // by kind, once started (guarded by mu while starting)
	logs      []*os.File
	record    string // the run record's directory
}

// service is a Service with its run-time state.
type service struct {
	Service
	rep     *model.ServiceReport
	dbURL   string
	logPath string
	log     *os.File
	// prepared is closed when its launcher's Prepare returned (at once without a Preparer);
	// prepErr is then what it returned.
	prepared chan struct{}
	prepErr  error
}

type started struct {
	what string
	p    Process
}

// init applies defaults, validates the spec and prepares the report.
func (r *runner) init(spec Spec) error {
	r.report = &model.Report{RunID: spec.RunID, Suite: model.SuiteReport{ExitCode: -1}}
	var err error
	if spec.Repo == "" {
		spec.Repo = "."
	}
	if spec.Repo, err = filepath.Abs(spec.Repo); err != nil {
		return fmt.Errorf("repository %q: %w", spec.Repo, err)
	}
	if spec.LogDir == "" {
		spec.LogDir = filepath.Join(spec.Repo, DefaultLogDir)
	} else if !filepath.IsAbs(spec.LogDir) {
		spec.LogDir = filepath.Join(spec.Repo, spec.LogDir)
	}
	if spec.RunID == "" {
		spec.RunID = NewRunID()
	}
	r.report.RunID, r.report.LogDir = spec.RunID, spec.LogDir
	if spec.Postgres != "" {
		if _, err := parsePostgresURL(spec.Postgres); err != nil {
			return err
		}
		r.report.Postgres = model.Redact(spec.Postgres)
	} else {
		r.report.Throwaway = true
	}
	if len(spec.Suite.Argv) == 0 {
		return errors.New("the suite has no command (services.yaml integration.command)")
	}
	if spec.Suite.Dir == "" {
		spec.Suite.Dir = spec.Repo
	} else if !filepath.IsAbs(spec.Suite.Dir) {
		spec.Suite.Dir = filepath.Join(spec.Repo, spec.Suite.Dir)
	}
	if spec.Suite.Timeout <= 0 {
		spec.Suite.Timeout = DefaultSuiteTimeout
	}

	names, vars, dbs := map[string]bool{}, map[string]string{}, map[string]string{}
	r.report.Services = make([]model.ServiceReport, len(spec.Services))
	for i, s := range spec.Services {
		switch {
		case s.Name == "":
			return fmt.Errorf("service #%d has no name", i+1)
		case names[s.Name]:
			return fmt.Errorf("service %q is listed twice", s.Name)
		case URLVar(s.Name) == s.databaseVar():
			return fmt.Errorf("service %q: its URL variable would be %s, its database's", s.Name, s.databaseVar())
		case vars[URLVar(s.Name)] != "":
			return fmt.Errorf("services %q and %q would both get %s", vars[URLVar(s.Name)], s.Name, URLVar(s.Name))
		case len(s.Serve) == 0:
			return fmt.Errorf("service %q has no serve command", s.Name)
		}
		if err := checkProcs(&s); err != nil {
			return err
		}
		if err := checkBacking(s); err != nil {
			return err
		}
		names[s.Name], vars[URLVar(s.Name)] = true, s.Name
		db := DatabaseName(s.Name, spec.RunID)
		if other, ok := dbs[db]; ok {
			return fmt.Errorf("services %q and %q would share database %q (shorten the run id)", other, s.Name, db)
		}
		dbs[db] = s.Name
		if s.Dir == "" {
			s.Dir = spec.Repo
		} else if !filepath.IsAbs(s.Dir) {
			s.Dir = filepath.Join(spec.Repo, s.Dir)
		}
		if s.Migrate == nil {
			s.Migrate = DefaultMigrate
		}
		if s.Populate == nil {
			s.Populate = DefaultPopulate
			if s.Scenario != "" {
				s.Populate = append(append([]string(nil), DefaultPopulate...), "--scenario", s.Scenario)
			}
		}
		if err := s.defaultCheck(); err != nil {
			return err
		}
		if s.HealthTimeout <= 0 {
			s.HealthTimeout = DefaultHealthTimeout
		}
		if s.Timeout <= 0 {
			s.Timeout = DefaultStepTimeout
		}
		r.report.Services[i] = model.ServiceReport{
			Name:     s.Name,
			Database: db,
			LogPath:  filepath.Join(spec.LogDir, s.Name+".log"),
		}
		r.services = append(r.services, &service{Service: s, rep: &r.report.Services[i], logPath: r.report.Services[i].LogPath})
	}
	r.spec = spec
	return nil
}

// sweep removes what killed runs left before this one starts; what it cannot remove is a
// notice, not a failure of this run.
func (r *runner) sweep(ctx context.Context) {
	opts := []Option{WithRunDir(r.o.runDirFor(r.spec.Repo)), WithClusterParentDir(r.o.pgParentDir),
		WithContainerSweeper(r.o.containers), WithEvents(r.emit)}
	if _, err := Sweep(ctx, r.spec, opts...); err != nil {
		r.emit(model.Event{Kind: model.EventLeftoverRemoved, Message: "could not remove everything killed runs left: " + err.Error(), Err: err})
	}
}

// recordOf is the run record: where its databases will be.
func (r *runner) recordOf() runRecord {
	var rec runRecord
	if r.spec.Postgres != "" {
		rec.Postgres = model.Redact(r.spec.Postgres)
	}
	for _, s := range r.services {
		rec.Databases = append(rec.Databases, s.rep.Database)
	}
	rec.Backing = r.backingRecords()
	return rec
}

// run does everything but the teardown.
func (r *runner) run(ctx context.Context) error {
	r.phase = "preparing the log directory"
	if err := os.MkdirAll(r.spec.LogDir, 0o755); err != nil {
		return fmt.Errorf("creating log directory %q: %w", r.spec.LogDir, err)
	}
	for _, s := range r.services {
		f, err := os.OpenFile(s.logPath, os.O_CREATE|os.O_TRUNC|os.O_WRONLY|os.O_APPEND, 0o644)
		if err != nil {
			return fmt.Errorf("creating log %q: %w", s.logPath, err)
		}
		s.log = f
		r.logs = append(r.logs, f)
	}

	if err := r.prepareAndStartPostgres(ctx); err != nil {
		return err
	}

	r.phase = "picking ports"
	for _, s := range r.services {
		port, err := r.pickPort()
		if err != nil {
			return err
		}
		r.setPort(s, port)
	}

	r.phase = "creating databases"
	if err := r.createDatabases(ctx); err != nil {
		return err
	}

	r.phase = "starting the services"
	if err := r.startServices(ctx); err != nil {
		return err
	}

	r.phase = "running the suite"
	return r.runSuite(ctx)
}

// startServices starts every service, up to options.parallel at once. In parallel, each one is
// migrated and populated as soon as its launcher is prepared — those touch only its own
// database — and started once the services it depends on are healthy. The first failure stops
// the others and is the error.
func (r *runner) startServices(ctx context.Context) error {
	if r.o.parallel == 1 {
		// One at a time, in the order given (which respects DependsOn).
		for _, s := range r.services {
			if s.prepErr != nil {
				continue // a shadow service that could not be prepared: reported, tolerated
			}
			if err := r.startService(ctx, s); err != nil {
				r.serviceFailed(s, err)
				if !r.tolerated(ctx, s) {
					return err
				}
			}
		}
		return nil
	}
	healthy := make(map[string]chan struct{}, len(r.services))
	for _, s := range r.services {
		healthy[s.Name] = make(chan struct{})
	}
	g, gctx := errgroup.WithContext(ctx)
	slots := semaphore.NewWeighted(int64(r.o.parallel))
	for _, s := range r.services {
		g.Go(func() error {
			if err := r.awaitPrepared(gctx, s); err != nil {
				r.serviceFailed(s, err)
				return r.failure(gctx, s, err)
			}
			err := r.inSlot(gctx, slots, func() error { return r.fillDatabase(gctx, s) })
			if err == nil {
				err = awaitHealthy(gctx, healthy, s.DependsOn)
			}
			if err == nil {
				err = r.inSlot(gctx, slots, func() error { return r.serveService(gctx, s) })
			}
			if err != nil {
				r.serviceFailed(s, err)
				return r.failure(gctx, s, err)
			}
			close(healthy[s.Name])
			return nil
		})
	}
	return g.Wait()
}

// inSlot runs fn holding one of slots.
func (r *runner) inSlot(ctx context.Context, slots *semaphore.Weighted, fn func() error) error {
	if err := slots.Acquire(ctx, 1); err != nil {
		return err
	}
	defer slots.Release(1)
	return fn()
}

// awaitHealthy waits until each service of deps that is in this run is healthy.
func awaitHealthy(ctx context.Context, healthy map[string]chan struct{}, deps []string) error {
	for _, dep := range deps {
		if ch, ok := healthy[dep]; ok {
			select {
			case <-ch:
			case <-ctx.Done():
				return ctx.Err()
			}
		}
	}
	return nil
}

// tolerated reports whether s failing to come up lets the run go on: s is a shadow service and
// the run was not cancelled.
func (r *runner) tolerated(ctx context.Context, s *service) bool {
	return s.Shadow && ctx.Err() == nil
}

// failure is what s failing to come up with err stops: nothing when it is tolerated, else
// every other service (err).
func (r *runner) failure(ctx context.Context, s *service, err error) error {
	if r.tolerated(ctx, s) {
		return nil
	}
	return err
}

// serviceFailed reports that s did not come up, unless it was stopped because the run was
// cancelled or another service failed.
func (r *runner) serviceFailed(s *service, err error) {
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return
	}
	step := ""
	var se *model.ServiceError
	if errors.As(err, &se) {
		step = se.Step
	}
	r.emit(model.Event{Kind: model.EventServiceFailed, Service: s.Name, Step: step, LogPath: s.logPath, Err: err})
}

// prepareAndStartPostgres starts preparing every service's Launcher (unpacking an image, or
// waiting for it to be built) while the database server starts. Starting services one at a time,
// it waits until every launcher is ready; in parallel, each service waits for its own only
// (startServices), so that one whose image is ready starts before the others' are.
func (r *runner) prepareAndStartPostgres(ctx context.Context) error {
	for _, s := range r.services {
		r.prepare(ctx, s)
	}
	// RabbitMQ takes seconds to start: every server starts at once.
	r.phase = "starting PostgreSQL and the backing services"
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error { return r.startPostgres(gctx) })
	for _, kind := range r.backingKinds() {
		g.Go(func() error { return r.startBacking(gctx, kind) })
	}
	if err := g.Wait(); err != nil {
		return err
	}
	if r.o.parallel > 1 {
		return nil
	}
	for _, s := range r.services {
		if err := r.awaitPrepared(ctx, s); err != nil {
			r.emit(model.Event{Kind: model.EventServiceFailed, Service: s.Name, Step: "prepare", LogPath: s.logPath, Err: err})
			if !r.tolerated(ctx, s) {
				return err
			}
		}
	}
	return nil
}

// prepare runs the Prepare of s's launcher, if it has one, in the background.
func (r *runner) prepare(ctx context.Context, s *service) {
	s.prepared = make(chan struct{})
	p, ok := s.Launcher.(Preparer)
	if !ok {
		close(s.prepared)
		return
	}
	r.preparing.Add(1)
	go func() {
		defer r.preparing.Done()
		defer close(s.prepared)
		if err := p.Prepare(ctx); err != nil {
			s.prepErr = &model.ServiceError{Service: s.Name, Step: "prepare", ExitCode: -1, LogPath: s.logPath,
				Err: fmt.Errorf("preparing %s: %w", s.Launcher.Describe(), err)}
		}
	}()
}

// awaitPrepared waits until s's launcher is prepared and returns what Prepare returned.
func (r *runner) awaitPrepared(ctx context.Context, s *service) error {
	select {
	case <-s.prepared:
		return s.prepErr
	case <-ctx.Done():
		return ctx.Err()
	}
}

// startPostgres starts the throwaway cluster, if there is to be one.
func (r *runner) startPostgres(ctx context.Context) error {
	if r.spec.Postgres != "" {
		r.adminURL = r.spec.Postgres
		return nil
	}
	logPath := filepath.Join(r.spec.LogDir, "postgres.log")
	opts := []pgcluster.Option{pgcluster.WithLogFile(logPath)}
	if r.o.pgBinDir != "" {
		opts = append(opts, pgcluster.WithBinDir(r.o.pgBinDir))
	}
	if r.o.pgParentDir != "" {
		opts = append(opts, pgcluster.WithParentDir(r.o.pgParentDir))
	}
	c, err := pgcluster.Start(ctx, opts...)
	if err != nil {
		return fmt.Errorf("starting a throwaway PostgreSQL cluster: %w", err)
	}
	r.cluster, r.adminURL = c, c.URL()
	r.mu.Lock()
	r.used[c.Port()] = true
	r.mu.Unlock()
	r.report.Postgres = model.Redact(c.URL())
	r.emit(model.Event{Kind: model.EventPostgresReady, URL: r.report.Postgres, PID: c.PID(), Port: c.Port(), Dir: c.Dir(), LogPath: logPath})
	return nil
}

// createDatabases creates every service's database.
func (r *runner) createDatabases(ctx context.Context) error {
	conn, err := connect(ctx, r.adminURL)
	if err != nil {
		return err
	}
	if r.spec.Postgres != "" {
		r.emit(model.Event{Kind: model.EventPostgresReady, URL: r.report.Postgres})
	}
	defer conn.Close(context.WithoutCancel(ctx))
	for _, s := range r.services {
		if s.dbURL, err = databaseURL(r.adminURL, s.rep.Database); err != nil {
			return err
		}
		if err := createDatabase(ctx, conn, s.rep.Database); err != nil {
			return fmt.Errorf("service %q: %w", s.Name, err)
		}
		r.created = append(r.created, s)
		r.emit(model.Event{Kind: model.EventDatabaseCreated, Service: s.Name, Database: s.rep.Database})
	}
	return nil
}

// pickPort returns a free loopback port not yet handed out in this run.
func (r *runner) pickPort() (int, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for range 100 {
		port, err := r.o.pickPort()
		if err != nil {
			return 0, err
		}
		if !r.used[port] {
			r.used[port] = true
			return port, nil
		}
	}
	return 0, errors.New("picking a free port: the same ports keep coming back")
}

func (r *runner) setPort(s *service, port int) {
	s.rep.Port = port
	s.rep.URL = "http://" + net.JoinHostPort(freeport.Host, strconv.Itoa(port))
}

// movePort gives s another port because its port was taken by another process.
func (r *runner) movePort(s *service) error {
	old := s.rep.Port
	port, err := r.pickPort()
	if err != nil {
		return err
	}
	r.setPort(s, port)
	r.emit(model.Event{Kind: model.EventServicePortMoved, Service: s.Name, Port: port, URL: s.rep.URL,
		Message: fmt.Sprintf("port %d was taken by another process; using %d", old, port)})
	return nil
}

// urlEnv returns every service's <NAME>_URL.
func (r *runner) urlEnv() []string {
	env := make([]string, 0, len(r.services))
	for _, s := range r.services {
		env = append(env, URLVar(s.Name)+"="+s.rep.URL)
	}
	return env
}

// serviceEnv returns what the run adds to the environment of s's commands.
func (r *runner) serviceEnv(s *service) []string {
	return mergeEnv(s.Env, r.backingEnv(s.Backing), envList(r.spec.Env), r.urlEnv(), []string{
		s.databaseVar() + "=" + s.dbURL,
		"HOST=" + freeport.Host,
		"PORT=" + strconv.Itoa(s.rep.Port),
	})
}

// start starts cmd with l and registers it for teardown.
func (r *runner) start(what string, l Launcher, cmd Command) (Process, error) {
	p, err := l.Start(cmd)
	if err != nil {
		return nil, err
	}
	r.mu.Lock()
	r.procs = append(r.procs, &started{what: what, p: p})
	r.mu.Unlock()
	return p, nil
}

// launcher is what starts s's commands.
func (s *service) launcher() Launcher {
	if s.Launcher != nil {
		return s.Launcher
	}
	return hostLauncher{dir: s.Dir, env: s.Env}
}

// startService migrates, populates and starts s, and waits until it is healthy.
func (r *runner) startService(ctx context.Context, s *service) error {
	if err := r.fillDatabase(ctx, s); err != nil {
		return err
	}
	return r.serveService(ctx, s)
}

// fillDatabase migrates s's database and populates it: s's own database only, so it needs no
// other service up.
func (r *runner) fillDatabase(ctx context.Context, s *service) error {
	if err := r.step(ctx, s, "migrate", model.EventServiceMigrate, s.Migrate); err != nil {
		return err
	}
	return r.step(ctx, s, "populate", model.EventServicePopulate, s.Populate)
}

// serveService runs s's prestart command, starts it and waits until it is healthy.
func (r *runner) serveService(ctx context.Context, s *service) error {
	if err := r.step(ctx, s, "prestart", model.EventServicePrestart, s.Prestart); err != nil {
		return err
	}
	if err := r.serveOnFreePort(ctx, s); err != nil {
		return err
	}
	return r.startProcs(ctx, s)
}

// serveOnFreePort starts s's serve command, on another port when its own was taken.
func (r *runner) serveOnFreePort(ctx context.Context, s *service) error {
	for attempt := 1; ; attempt++ {
		if !freeport.Free(s.rep.Port) {
			if err := r.movePort(s); err != nil {
				return err
			}
		}
		p, err := r.serve(ctx, s)
		var se *model.ServiceError
		if err == nil || p == nil || !errors.As(err, &se) || se.Step != "serve" || attempt == maxPortAttempts {
			return err
		}
		// It exited before it was healthy. If that is because another process took its port meanwhile,
		// give it another one; its own processes are gone, so a bound port is someone else's.
		if p.Stop(syscall.SIGTERM, r.grace()) != nil || freeport.Free(s.rep.Port) {
			return err
		}
		if err := r.movePort(s); err != nil {
			return err
		}
	}
}

// step runs one of s's commands (migrate, populate) to completion.
func (r *runner) step(ctx context.Context, s *service, step string, kind model.EventKind, argv []string) error {
	if len(argv) == 0 {
		return nil
	}
	fmt.Fprintf(s.log, "=== convoy: %s: %s (in %s)\n", step, strings.Join(argv, " "), s.launcher().Describe())
	fail := func(err error, start time.Time, timedOut bool, code int) error {
		return &model.ServiceError{Service: s.Name, Step: step, Argv: argv, Waited: time.Since(start), TimedOut: timedOut,
			ExitCode: code, LogPath: s.logPath, LogTail: model.LogTail(s.logPath, model.LogTailLines), Err: err}
	}
	t0 := time.Now()
	p, err := r.start(s.Name+" "+step, s.launcher(), Command{Name: step, Argv: argv, Env: r.serviceEnv(s), Log: s.log})
	if err != nil {
		return fail(err, t0, false, -1)
	}
	r.emit(model.Event{Kind: kind, Service: s.Name, PID: p.PID(), Argv: argv, LogPath: s.logPath})
	sctx, cancel := context.WithTimeout(ctx, s.Timeout)
	defer cancel()
	select {
	case <-p.Done():
	case <-sctx.Done():
	}
	// Also takes down whatever the command left running in its group.
	_ = p.Stop(syscall.SIGTERM, r.grace())
	switch {
	case ctx.Err() != nil:
		return ctx.Err()
	case sctx.Err() != nil:
		return fail(fmt.Errorf("timed out after %s", s.Timeout), t0, true, -1)
	case p.Err() != nil:
		return fail(p.Err(), t0, false, p.ExitCode())
	}
	return nil
}

// serve starts s's serve command and waits until its check passes. It returns the process unless
// it could not be started.
func (r *runner) serve(ctx context.Context, s *service) (Process, error) {
	argv := Substitute(s.Serve, freeport.Host, strconv.Itoa(s.rep.Port))
	chk := r.checker(s)
	fmt.Fprintf(s.log, "=== convoy: serve: %s (in %s)\n", strings.Join(argv, " "), s.launcher().Describe())
	t0 := time.Now()
	fail := func(step string, err error, timedOut bool, code int, probe string) error {
		return &model.ServiceError{Service: s.Name, Step: step, Argv: argv, URL: s.rep.URL + s.Health, Awaited: chk.what,
			Waited: time.Since(t0), TimedOut: timedOut, ExitCode: code, LastProbe: probe, LogPath: s.logPath,
			LogTail: model.LogTail(s.logPath, model.LogTailLines), Err: err}
	}
	p, err := r.start(s.Name+" serve", s.launcher(), Command{Name: "serve", Argv: argv, Env: r.serviceEnv(s), Log: s.log})
	if err != nil {
		return nil, fail("serve", err, false, -1, "")
	}
	s.rep.PID = p.PID()
	r.emit(model.Event{Kind: model.EventServiceStart, Service: s.Name, PID: p.PID(), Port: s.rep.Port, URL: s.rep.URL, Argv: argv, LogPath: s.logPath})
	last, err := awaitReady(ctx, p, s.HealthTimeout, chk)
	switch {
	case err == nil:
		s.rep.Healthy, s.rep.Startup = true, time.Since(t0)
		r.emit(model.Event{Kind: model.EventServiceHealthy, Service: s.Name, PID: p.PID(), URL: s.rep.URL, Duration: s.rep.Startup})
		return p, nil
	case ctx.Err() != nil:
		return p, ctx.Err()
	case errors.Is(err, errExited):
		return p, fail("serve", exitErr(p), false, p.ExitCode(), last)
	default:
		return p, fail("health", err, true, -1, last)
	}
}

// emit sends ev to the callback, stamped with the time.
func (r *runner) emit(ev model.Event) {
	if r.o.events == nil {
		return
	}
	r.emitMu.Lock()
	defer r.emitMu.Unlock()
	ev.Time = time.Now()
	r.o.events(ev)
}

// grace is how long a stopped process group has between SIGTERM and SIGKILL: the grace
// period, but at most InterruptGrace once the run has been cancelled — a signal stops convoy
// promptly even when a container's PID 1 has no SIGTERM handler.
func (r *runner) grace() time.Duration {
	if r.outer != nil && r.outer.Err() != nil {
		return min(r.o.grace, InterruptGrace)
	}
	return r.o.grace
}

// teardown stops every process group, then drops the databases on a server given
// (Spec.Postgres) or removes the throwaway cluster.
func (r *runner) teardown() error {
	t0 := time.Now()
	r.phase = "tearing down"
	var (
		mu   sync.Mutex
		errs []error
		wg   sync.WaitGroup
	)
	for _, sp := range r.procs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := sp.p.Stop(syscall.SIGTERM, r.grace()); err != nil {
				mu.Lock()
				errs = append(errs, fmt.Errorf("stopping %s (pid %d): %w", sp.what, sp.p.PID(), err))
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	errs = append(errs, r.stopBacking()...)
	closed := r.closeLaunchers() // while the database goes: nothing uses either any more
	for _, f := range r.logs {
		_ = f.Close()
	}

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if len(r.created) > 0 && r.cluster == nil { // a throwaway cluster goes whole, below
		conn, err := connect(ctx, r.adminURL)
		if err != nil {
			errs = append(errs, fmt.Errorf("dropping databases: %w", err))
		} else {
			for _, s := range r.created {
				err := dropDatabase(ctx, conn, s.rep.Database)
				if err != nil {
					errs = append(errs, err)
				}
				r.emit(model.Event{Kind: model.EventDatabaseDropped, Service: s.Name, Database: s.rep.Database, Err: err})
			}
			_ = conn.Close(ctx)
		}
	}
	if r.cluster != nil {
		if err := r.cluster.Stop(ctx); err != nil {
			errs = append(errs, err)
		}
	}
	errs = append(errs, <-closed...)
	err := errors.Join(errs...)
	r.emit(model.Event{Kind: model.EventTeardownFinished, Duration: time.Since(t0), Err: err})
	return err
}

// closeLaunchers releases every service's launcher (a root filesystem to unmount and remove, a
// container to delete), all at once, in the background; the channel gets what failed.
func (r *runner) closeLaunchers() <-chan []error {
	ch := make(chan []error, 1)
	go func() {
		var (
			mu   sync.Mutex
			errs []error
			wg   sync.WaitGroup
		)
		for _, s := range r.services {
			if s.Launcher == nil {
				continue
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				if err := s.Launcher.Close(); err != nil {
					mu.Lock()
					errs = append(errs, fmt.Errorf("releasing %s of %q: %w", s.Launcher.Describe(), s.Name, err))
					mu.Unlock()
				}
			}()
		}
		wg.Wait()
		ch <- errs
	}()
	return ch
}
