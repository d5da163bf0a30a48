// Package dagger is convoy's container engine: the same plan as engine/local, carried out as
// container execs on a Dagger engine (dagger.io/dagger) — on this machine, on a remote engine or
// on a Kubernetes runner.
//
// The package has two layers.
//
// The translation is pure and engine-independent: a translator turns one stage of one service
// (stages.Stage, the same value the local engine runs) into a recipe — a small, serialisable
// description of a container: its base image, the files copied into it (the host's uv among
// them), the host directories mounted, the cache volumes, the environment, the working directory
// and the execs, each with the same argv as on the local engine. Integration translates the same
// way, into an integration recipe; an image stage into a requirements recipe (the runtime
// requirements, resolved in the gated container by the local engine's commands), after which
// the image is assembled on the host by the local engine's own path (images.Builder.Build), so
// both engines give the same digest. Recipes hold no Dagger types, so every rule of the
// translation is tested without an engine; so is the conversion of an integration run into the
// integration.Report and events of the local engine.
//
// The executor is thin: Engine applies recipes to a *dagger.Client (From or Import, WithFile,
// WithMountedDirectory, WithMountedCache, WithEnvVariable, WithWorkdir, WithExec) and reads
// every exec's exit code and combined output into the stage's log, so that events, logs and
// StageErrors have the same shape as the local engine's; an exec that failed runs again next
// time (retries). Engine implements engine.Engine (image stages with WithImages) and
// engine.Integrator. No stage logic lives here: what a stage runs is decided by package stages;
// the engine only says where it runs.
//
// Connect finds an engine the way the Dagger SDK does — an existing session
// (DAGGER_SESSION_PORT and DAGGER_SESSION_TOKEN, as set by `dagger run`), a runner named by
// _EXPERIMENTAL_DAGGER_RUNNER_HOST, or an engine the SDK provisions on the local Docker daemon —
// but first checks, within a few seconds, that one of them is reachable, and otherwise fails with
// an error that names them.
package dagger
