package dagger

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/convoy-ci/convoy/engine"
	"github.com/convoy-ci/convoy/image"
	"github.com/convoy-ci/convoy/pipeline/config"
	"github.com/convoy-ci/convoy/pipeline/images"
	"github.com/convoy-ci/convoy/stages"
)

// Engine tests need a Dagger engine. They run when one is reachable (see Reachable and
// docs/dagger.md) and skip, saying why, when none is. Their images come from
// CONVOY_DAGGER_TEST_BASE and CONVOY_DAGGER_TEST_POSTGRES — registry references, or
// oci-layout:/docker-archive: ones for an engine without registry access — else from the offline
// layouts scripts/base-image.sh and scripts/postgres-image.sh build, when they are there, else
// python:3.11-slim and DefaultPostgresImage.

var (
	shared     *Engine
	sharedErr  error
	sharedSkip string
	sharedOnce sync.Once
)

func TestMain(m *testing.M) {
	code := m.Run()
	if shared != nil {
		shared.Close()
	}
	os.Exit(code)
}

func testBase() string {
	return testImage("CONVOY_DAGGER_TEST_BASE", baseDir(), "python", defaultBaseImage(config.DefaultPython))
}

func testPostgres() string {
	dir := os.Getenv("CONVOY_POSTGRES_DIR")
	if dir == "" {
		dir = "/var/cache/convoy/postgres"
	}
	return testImage("CONVOY_DAGGER_TEST_POSTGRES", dir, "postgres", defaultPostgresImage)
}

// testImage is $env, else the offline layout in dir (tagged tag) when it is there, else def.
func testImage(env, dir, tag, def string) string {
	if v := os.Getenv(env); v != "" {
		return v
	}
	if _, err := os.Stat(filepath.Join(dir, "index.json")); err == nil {
		return "oci-layout:" + dir + ":" + tag
	}
	return def
}

// engineOrSkip returns the engine all engine tests share, connecting on first use, or skips.
func engineOrSkip(t *testing.T) *Engine {
	t.Helper()
	if testing.Short() || os.Getenv("CONVOY_DAGGER_TESTS") == "skip" {
		t.Skip("-short or CONVOY_DAGGER_TESTS=skip: skipping the tests that need a Dagger engine")
	}
	sharedOnce.Do(func() {
		how, err := Reachable(context.Background())
		if err != nil {
			reason := err.Error()
			var ue *UnreachableError
			if errors.As(err, &ue) {
				reason = ue.Reason
			}
			sharedSkip = "no Dagger engine reachable: set _EXPERIMENTAL_DAGGER_RUNNER_HOST or DAGGER_SESSION_PORT/DAGGER_SESSION_TOKEN " +
				"(e.g. run `dagger run go test ./engine/dagger/`), or run where Docker can start one; see docs/dagger.md (" + reason + ")"
			if os.Getenv("CI") == "true" {
				sharedSkip += ". CI=true: this project's CI machines cannot run a Dagger engine (no registry for the engine image, no privileged containers), so CI skips these tests"
			}
			return
		}
		base := testBase()
		ci := os.Getenv("CI") == "true"
		timeout := defaultConnectTimeout
		if ci {
			timeout = time.Minute
		}
		shared, sharedErr = Connect(context.Background(), WithJobs(2), WithConnectTimeout(timeout),
			WithDefaultBase(func(string) string { return base }))
		if sharedErr != nil {
			sharedErr = errors.New("an engine looked reachable (" + how + ") but no session opened: " + sharedErr.Error())
			if ci {
				// A Docker daemon is not enough here: the engine image cannot be pulled.
				sharedSkip, sharedErr = "CI=true: this project's CI machines cannot run a Dagger engine, so CI skips these tests; "+sharedErr.Error(), nil
			}
		}
	})
	if sharedSkip != "" {
		t.Skip(sharedSkip)
	}
	if sharedErr != nil {
		t.Fatal(sharedErr)
	}
	return shared
}

// run runs one stage of svc and returns its log.
func run(t *testing.T, ctx context.Context, e *Engine, cfg *config.Config, svc *config.Service, st stages.Stage) (string, error) {
	t.Helper()
	var log bytes.Buffer
	_, err := e.Run(ctx, engine.Request{Config: cfg, Service: svc, Stage: st, Log: &log})
	t.Logf("%s/%s log:\n%s", svc.Name, st.Name, log.String())
	return log.String(), err
}

func TestEngineGates(t *testing.T) {
	e := engineOrSkip(t)
	ctx := context.Background()
	cfg := load(t, "engine.yaml")
	web := cfg.Service("web")

	log, err := run(t, ctx, e, cfg, web, stage(t, web, stages.Deps))
	if err != nil {
		t.Fatalf("deps: %v", err)
	}
	for _, want := range []string{" venv --no-config --quiet --python python3.11 /convoy/venv\n", " pip install --no-config -r requirements-dev.txt\n"} {
		if !strings.Contains(log, want) {
			t.Errorf("deps log lacks %q", want)
		}
	}

	// The unit stage checks its own environment (testdata/repo/services/web/check_env.py).
	if log, err := run(t, ctx, e, cfg, web, stage(t, web, stages.Unit)); err != nil || !strings.Contains(log, "environment ok: kit") {
		t.Errorf("unit: %v", err)
	}

	// lint exits 3: failed, with the code and the argv.
	lint := stage(t, web, stages.Lint)
	log, err = run(t, ctx, e, cfg, web, lint)
	var se *engine.StageError
	if !errors.As(err, &se) || se.Reason != engine.Failed || se.ExitCode != 3 || strings.Join(se.Command, " ") != strings.Join(lint.Commands[0], " ") {
		t.Errorf("lint: %#v; want failed with exit code 3 running %q", err, lint.Commands[0])
	}
	if !strings.Contains(log, "lint says no\n") || !strings.Contains(log, "exited with code 3") {
		t.Errorf("lint log lacks the command's output or the failure")
	}

	// A stage past its timeout timed out. Its command is new to the engine (a fresh argument),
	// so that Dagger cannot give back an earlier run's exec.
	slow := stage(t, web, stages.Populate)
	slow.Commands = [][]string{{"python", "-c", "import time; time.sleep(600)", newRunID()}}
	slow.Timeout = 5 * time.Second
	if _, err := run(t, ctx, e, cfg, web, slow); !errors.As(err, &se) || se.Reason != engine.TimedOut {
		t.Errorf("a stage past its timeout: %v; want timed out", err)
	}

	// Cancelled: interrupted. Another new command: an identical exec would be joined to the one
	// that just timed out.
	cctx, cancel := context.WithCancel(ctx)
	defer cancel()
	slow.Commands = [][]string{{"python", "-c", "import sys, time; print('started', flush=True); time.sleep(600)", newRunID()}}
	slow.Timeout = time.Minute
	// Cancelled once the command is on its way to the engine: its "$ argv" line is written.
	_, err = e.Run(cctx, engine.Request{Config: cfg, Service: web, Stage: slow, Log: cancelOn{"$ python", cancel}})
	if !errors.As(err, &se) || se.Reason != engine.Interrupted {
		t.Errorf("a cancelled stage: %v; want interrupted", err)
	}
}

// cancelOn is a log that calls cancel when a write contains what.
type cancelOn struct {
	what   string
	cancel context.CancelFunc
}

func (c cancelOn) Write(p []byte) (int, error) {
	if strings.Contains(string(p), c.what) {
		c.cancel()
	}
	return len(p), nil
}

func TestEngineIntegration(t *testing.T) {
	e := engineOrSkip(t)
	ctx := context.Background()
	cfg := load(t, "engine.yaml")
	o := IntegrationOptions{RunID: newRunID(), Postgres: testPostgres(), SuiteBase: testBase()}
	tr, err := e.hostTranslator(ctx)
	if err != nil {
		t.Fatal(err)
	}
	r, err := tr.integrationRun(cfg, cfg.Services, o)
	if err != nil {
		t.Fatal(err)
	}
	logs := t.TempDir()
	rs := newRunState(&r, logs, nil)
	err = e.runIntegration(ctx, &r, rs, nil)
	for _, name := range []string{"api.log", "web.log", "suite.log"} {
		b, _ := os.ReadFile(filepath.Join(logs, name))
		t.Logf("%s:\n%s", name, b)
	}
	if err != nil {
		t.Fatalf("Integrate: %v", err)
	}
	if rs.rep.Suite.ExitCode != 0 {
		t.Errorf("suite exit code %d", rs.rep.Suite.ExitCode)
	}
	web, _ := os.ReadFile(filepath.Join(logs, "web.log"))
	for _, want := range []string{"migrated " + r.Services[1].Database, "populated demo"} {
		if !strings.Contains(string(web), want) {
			t.Errorf("web.log lacks %q", want)
		}
	}
	suite, _ := os.ReadFile(filepath.Join(logs, "suite.log"))
	if !strings.Contains(string(suite), "2 passed, 0 failed") {
		t.Errorf("suite.log lacks the suite's result")
	}
}

// TestEngineImageStage runs a service's image stage through Run, as convoy build does: the
// gates' container resolves the runtime requirements, the image is assembled on the engine,
// exported and stored by the WithImages builder, with the builder's input hash.
func TestEngineImageStage(t *testing.T) {
	shared := engineOrSkip(t)
	ctx := context.Background()
	cfg := load(t, "engine.yaml")
	web := *cfg.Service("web")
	web.Base = testBase() // the builder needs a base it can read on this host too
	b, err := images.New(cfg, images.Options{StoreDir: filepath.Join(t.TempDir(), "oci"), CacheDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	hash, err := b.InputHash(ctx, &web)
	if err != nil {
		t.Skipf("reading the test base image %q on this host: %v (set CONVOY_DAGGER_TEST_BASE)", testBase(), err)
	}
	e := New(shared.client, WithImages(b))
	defer e.Close()
	if _, err := run(t, ctx, e, cfg, &web, stage(t, &web, stages.Deps)); err != nil {
		t.Fatalf("deps: %v", err)
	}
	var log bytes.Buffer
	res, err := e.Run(ctx, engine.Request{Config: cfg, Service: &web, Stage: imageStage(t, &web), Log: &log})
	t.Logf("image log:\n%s", log.String())
	if err != nil {
		t.Fatalf("image: %v", err)
	}
	for _, want := range []string{" pip freeze --no-config --python /convoy/venv/bin/python --exclude-editable\n", "convoy: resolving the runtime requirements of web for CPython ", "convoy: runtime requirements of web (0)", "convoy: stored sha256:"} {
		if !strings.Contains(log.String(), want) {
			t.Errorf("image log lacks %q", want)
		}
	}
	if res.Digest == "" || res.Image != "web@"+res.Digest {
		t.Fatalf("result = %+v", res)
	}
	img, err := b.Store().Image(res.Digest)
	if err != nil {
		t.Fatal(err)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	if cf.Config.Labels[image.LabelInputHash] != hash {
		t.Errorf("input hash label %q, want %q", cf.Config.Labels[image.LabelInputHash], hash)
	}
}

// TestEngineIntegrate runs the integration stage through the engine.Integrator adapter and
// checks its report and events.
func TestEngineIntegrate(t *testing.T) {
	shared := engineOrSkip(t)
	cfg := load(t, "engine.yaml")
	e := New(shared.client, WithIntegration(IntegrationOptions{Postgres: testPostgres(), SuiteBase: testBase()}),
		WithDefaultBase(func(string) string { return testBase() }))
	defer e.Close()
	var rec recorder
	logs := t.TempDir()
	rep, err := e.Integrate(context.Background(), engine.IntegrationRequest{Config: cfg, Services: cfg.StartOrder(), LogDir: logs, Events: rec.add})
	if err != nil {
		t.Fatalf("Integrate: %v", err)
	}
	if !rep.Suite.Ran || rep.Suite.ExitCode != 0 || len(rep.Services) != 2 || !rep.Services[0].Healthy || !rep.Services[1].Healthy {
		t.Errorf("report = %+v", rep)
	}
	same(t, "events", rec.kinds()[len(rec.kinds())-4:], []string{"service.healthy api", "service.healthy web", "suite.started", "suite.finished"})
}

// TestRunTranslationError: a stage the engine cannot carry out — here an image or a layer
// stage with no WithImages builder — fails like any stage, with a StageError and a line in its log, without
// touching an engine.
func TestRunTranslationError(t *testing.T) {
	cfg := load(t, "services.yaml")
	e := New(nil)
	var log bytes.Buffer
	_, err := e.Run(context.Background(), engine.Request{Config: cfg, Service: cfg.Service("web"),
		Stage: stages.Stage{Name: "image", Kind: stages.KindImage}, Log: &log})
	var se *engine.StageError
	if !errors.As(err, &se) || se.Reason != engine.Failed || se.ExitCode != -1 {
		t.Fatalf("Run: %#v; want a failed StageError", err)
	}
	if !strings.Contains(log.String(), "convoy: image stage of \"web\": this run builds no images (the dagger engine was created without WithImages)") {
		t.Errorf("log = %q", log.String())
	}
	log.Reset()
	_, err = e.Run(context.Background(), engine.Request{Config: cfg, Service: cfg.Service("web"),
		Stage: stages.Stage{Name: "layer", Kind: stages.KindLayer}, Log: &log})
	if !errors.As(err, &se) || se.Reason != engine.Failed || !strings.Contains(log.String(), "convoy: layer stage of \"web\": this run builds no images") {
		t.Errorf("layer stage: %#v, log %q", err, log.String())
	}
	if e.Name() != "dagger" {
		t.Errorf("Name = %q", e.Name())
	}
	if err := e.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
}
