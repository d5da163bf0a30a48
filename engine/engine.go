// Package engine defines how convoy's plan is carried out: by host processes (engine/local,
// the default) or by containers on a Dagger engine (engine/dagger).
//
// The interface is deliberately small — what both kinds of engine can honour. The scheduler
// decides what runs when; an Engine only runs one stage of one service when asked.
package engine

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"

	"github.com/convoy-ci/convoy/integration"
	"github.com/convoy-ci/convoy/integration/model"
	"github.com/convoy-ci/convoy/pipeline/config"
	"github.com/convoy-ci/convoy/stages"
)

// Request asks an engine to run one stage of one service.
type Request struct {
	// Config is the loaded manifest (repository root, defaults).
	Config *config.Config
	// Service is the service the stage belongs to.
	Service *config.Service
	// Stage is what to run.
	Stage stages.Stage
	// Log receives everything the stage prints (stdout and stderr, interleaved).
	Log io.Writer
	// JUnit, when set, is the host file where the stage's test runner must leave its JUnit XML
	// (Stage.Counts; see WithJUnit). A stage that writes none leaves no file there.
	JUnit string
}

// WithJUnit returns st with its test runner told to write JUnit XML to path (Stage.Counts'
// JUnitEnv over its Env): the local engine gives Request.JUnit, the Dagger engine a container
// path it exports there. A stage without Counts is returned as it is.
func WithJUnit(st stages.Stage, path string) stages.Stage {
	if st.Counts == nil || st.Counts.JUnitEnv == nil {
		return st
	}
	env := make(map[string]string, len(st.Env)+1)
	for k, v := range st.Env {
		env[k] = v
	}
	for k, v := range st.Counts.JUnitEnv(path) {
		env[k] = v
	}
	st.Env = env
	return st
}

// Result is what a stage that passed reports beyond its success.
type Result struct {
	// Note is a short remark for reports, e.g. "virtualenv reused".
	Note string
	// Image is repo@sha256:… for an image stage.
	Image string
	// Digest is the image's manifest digest, for an image stage.
	Digest string
}

// Engine runs stages. Implementations must be safe for concurrent use: the scheduler calls Run
// for many services at once.
type Engine interface {
	// Name is the engine's name as given to --engine.
	Name() string
	// Run carries out one stage and returns when it has finished and every process it started
	// is gone. A stage that did not pass returns a *StageError.
	Run(ctx context.Context, req Request) (Result, error)
	// Close releases what the engine holds (connections, temporary files).
	Close() error
}

// Reason says why a stage did not pass.
type Reason string

// Reasons a stage did not pass.
const (
	Failed      Reason = "failed"      // a command exited non-zero or could not start
	TimedOut    Reason = "timeout"     // the stage ran past its timeout and was killed
	Interrupted Reason = "interrupted" // the run was cancelled (signal, --fail-fast) and the stage killed
)

// StageError describes a stage that did not pass.
type StageError struct {
	// Reason says why.
	Reason Reason
	// ExitCode is the failing command's exit code, or -1 when it did not exit by itself.
	ExitCode int
	// Command is the argv that failed.
	Command []string
	// Err is the underlying cause.
	Err error
}

// Error says what failed and how.
func (e *StageError) Error() string {
	running := ""
	if len(e.Command) > 0 {
		running = fmt.Sprintf(" running %q", e.Command)
	}
	switch e.Reason {
	case TimedOut:
		return fmt.Sprintf("timed out%s: %v", running, e.Err)
	case Interrupted:
		if running == "" {
			return "interrupted"
		}
		return "interrupted while" + running
	}
	if e.ExitCode >= 0 {
		return fmt.Sprintf("%q exited with code %d", e.Command, e.ExitCode)
	}
	if running == "" {
		return fmt.Sprint(e.Err) // no command applies: the cause says what failed
	}
	return fmt.Sprintf("running %q: %v", e.Command, e.Err)
}

// Unwrap returns the underlying cause.
func (e *StageError) Unwrap() error { return e.Err }

// AsStageError returns err's *StageError, or wraps any other error as a failure.
func AsStageError(err error) *StageError {
	var se *StageError
	if errors.As(err, &se) {
		return se
	}
	return &StageError{Reason: Failed, ExitCode: -1, Err: err}
}

// IntegrationRequest asks an engine to bring every service up together and run the
// cross-service suite.
type IntegrationRequest struct {
	// Config is the loaded manifest (integration settings, repository root).
	Config *config.Config
	// Services are the services to start, dependencies first.
	Services []*config.Service
	// Postgres is the URL of an existing server; "" means a throwaway cluster.
	Postgres string
	// LogDir receives one log per service and the suite's.
	LogDir string
	// Events receives progress, synchronously.
	Events func(model.Event)
	// From says what the services run from: FromImage (their images, the default) or FromVenv.
	From From
	// Image returns, for FromImage, a service's image as repo@sha256:… (built by this run or
	// found in the cache), waiting until it is built: integration may start while images are
	// still being built, each service once its own is there. It fails for a service whose image
	// will not be built (a gate failed, the run was cancelled).
	Image func(ctx context.Context, service string) (string, error)
	// RunID names the run's databases and containers; empty means a new one.
	RunID string
	// Jobs bounds how many services start at once (each once what it depends_on is healthy);
	// 0 or 1 starts them one after another.
	Jobs int
}

// From says what integration starts the services from.
type From string

// What integration starts services from.
const (
	// FromImage starts every service from its image in a container runtime: what ships is tested.
	FromImage From = "image"
	// FromVenv starts every service from the host virtualenv that passed its gates; the images
	// are not proven.
	FromVenv From = "venv"
)

// Integrator is an Engine that can run the integration stage. Both engines are.
type Integrator interface {
	// Integrate starts Postgres and every service, runs the suite, and tears everything down
	// before it returns, whatever happened. The report is never nil.
	Integrate(ctx context.Context, req IntegrationRequest) (*model.Report, error)
}

// IntegrationSteps returns the commands that set svc up for integration, in order: its
// migration, its populator (with "--scenario NAME" when svc names a scenario) and its pre-start
// command. A step the manifest leaves out takes integration's default (Django's migrate and
// populate; no pre-start); one it sets to [] is empty, and is skipped.
func IntegrationSteps(svc *config.Service) (migrate, populate, prestart []string) {
	migrate = svc.Migrate
	if migrate == nil {
		migrate = integration.DefaultMigrate
	}
	populate = svc.Populate
	if populate == nil {
		populate = integration.DefaultPopulate
	}
	if len(populate) > 0 && svc.Scenario != "" {
		populate = append(slices.Clone(populate), "--scenario", svc.Scenario)
	}
	return slices.Clone(migrate), slices.Clone(populate), slices.Clone(svc.Prestart)
}
