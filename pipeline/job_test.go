package pipeline

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/convoy-ci/convoy/engine"
	"github.com/convoy-ci/convoy/integration/model"
	"github.com/convoy-ci/convoy/pipeline/config"
	"github.com/convoy-ci/convoy/stages"
)

// overlapEngine passes every stage at once, except that slow's image stage waits until
// integration has fast's image in hand (or gives up after a while and fails): it can only pass
// when integration starts while images are still being built. Its Integrate waits for every
// service's image, as the local engine's launchers do.
type overlapEngine struct {
	failStage string // "service/stage" that fails, if any
	fastReady chan struct{}
	once      sync.Once
	mu        sync.Mutex
	imageErrs map[string]error // what Integrate got for each service's image
}

func (e *overlapEngine) Name() string { return "overlap" }
func (e *overlapEngine) Close() error { return nil }

func (e *overlapEngine) Run(ctx context.Context, req engine.Request) (engine.Result, error) {
	id := req.Service.Name + "/" + req.Stage.Name
	switch {
	case id == e.failStage:
		return engine.Result{}, &engine.StageError{Reason: engine.Failed, ExitCode: 1, Err: errors.New("failed on purpose")}
	case id == "slow/image" && e.failStage == "":
		select {
		case <-e.fastReady:
		case <-time.After(30 * time.Second):
			return engine.Result{}, &engine.StageError{Reason: engine.Failed, ExitCode: -1, Err: errors.New("integration never took fast's image while slow's was being built")}
		case <-ctx.Done():
			return engine.Result{}, ctx.Err()
		}
	}
	if req.Stage.Kind == stages.KindImage {
		return engine.Result{Image: "registry.test/" + req.Service.Name + "@sha256:" + req.Service.Name}, nil
	}
	return engine.Result{}, nil
}

func (e *overlapEngine) Integrate(ctx context.Context, req engine.IntegrationRequest) (*model.Report, error) {
	var wg sync.WaitGroup
	for _, svc := range req.Services {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ref, err := req.Image(ctx, svc.Name)
			if err == nil && ref == "" {
				err = fmt.Errorf("empty image of %s", svc.Name)
			}
			if err == nil && svc.Name == "fast" {
				e.once.Do(func() { close(e.fastReady) })
			}
			e.mu.Lock()
			e.imageErrs[svc.Name] = err
			e.mu.Unlock()
		}()
	}
	wg.Wait()
	if ctx.Err() != nil {
		return &model.Report{}, fmt.Errorf("%w: %w", model.ErrInterrupted, context.Cause(ctx))
	}
	return &model.Report{}, nil
}

// overlapJob is a job over two services, fast and slow, building images and integrating.
func overlapJob(t *testing.T, eng *overlapEngine) *Job {
	t.Helper()
	return shadowJob(t, eng, "", false)
}

// shadowJob is overlapJob with slowExtra added to slow's manifest entry ("shadow: true") and
// FailFast as given.
func shadowJob(t *testing.T, eng *overlapEngine, slowExtra string, failFast bool) *Job {
	t.Helper()
	root := t.TempDir()
	for _, svc := range []string{"fast", "slow"} {
		dir := filepath.Join(root, "services", svc)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, "requirements.txt"), nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	manifest := "version: 1\nservices:\n  - {name: fast, path: services/fast}\n  - {name: slow, path: services/slow" + slowExtra + "}\n"
	cfg, err := config.Parse([]byte(manifest), config.FileName, root)
	if err != nil {
		t.Fatal(err)
	}
	plan, err := NewPlan(cfg, PlanOptions{Engine: eng.Name(), Jobs: 2, Stages: stages.WithImage, FailFast: failFast})
	if err != nil {
		t.Fatal(err)
	}
	eng.fastReady, eng.imageErrs = make(chan struct{}), map[string]error{}
	return &Job{Name: "run", Plan: plan, Engine: eng, Bus: NewBus(), StateDir: t.TempDir(), Integrate: true}
}

// TestIntegrationOverlapsImages: integration starts while images are still being built, and
// each service's image reaches it as soon as it is built.
func TestIntegrationOverlapsImages(t *testing.T) {
	eng := &overlapEngine{}
	sum, err := overlapJob(t, eng).Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if sum.Status != StatusPassed || sum.Integration == nil || sum.Integration.Status != StatusPassed {
		t.Fatalf("status %s, integration %+v; want both passed", sum.Status, sum.Integration)
	}
	for svc, err := range eng.imageErrs {
		if err != nil {
			t.Errorf("integration got no image of %s: %v", svc, err)
		}
	}
}

// TestIntegrationOverlapCancelledByGates: a service that fails a gate cancels the integration
// that overlapped the run; the summary reports no integration, and the failed service's image
// was never handed to it.
func TestIntegrationOverlapCancelledByGates(t *testing.T) {
	eng := &overlapEngine{failStage: "slow/unit"}
	sum, err := overlapJob(t, eng).Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if sum.Status != StatusFailed || sum.Integration != nil {
		t.Fatalf("status %s, integration %+v; want failed and no integration", sum.Status, sum.Integration)
	}
	if eng.imageErrs["slow"] == nil {
		t.Errorf("integration was handed an image of slow, whose unit stage failed")
	}
	if eng.imageErrs["fast"] != nil {
		t.Errorf("integration got no image of fast, which passed: %v", eng.imageErrs["fast"])
	}
}

// TestShadowGateFailure: slow, a shadow service, fails its unit stage. The run passes, with slow
// in ShadowFailed and marked Shadow; fast passes every stage even under --fail-fast, and
// integration runs: overlapped (slow's image refused to it) or after every image (slow left out
// of it). The same failure of a service that is not a shadow fails the run (the test above).
func TestShadowGateFailure(t *testing.T) {
	for _, tc := range []struct {
		name        string
		afterImages bool
	}{{"overlapped", false}, {"after every image", true}} {
		t.Run(tc.name, func(t *testing.T) {
			eng := &overlapEngine{failStage: "slow/unit"}
			job := shadowJob(t, eng, ", shadow: true", true)
			job.AfterImages = tc.afterImages
			sum, err := job.Run(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			if sum.Status != StatusPassed || sum.Integration == nil || sum.Integration.Status != StatusPassed {
				t.Fatalf("status %s, integration %+v; want both passed", sum.Status, sum.Integration)
			}
			if len(sum.ShadowFailed) != 1 || sum.ShadowFailed[0] != "slow" || !sum.Services[1].Shadow || sum.Services[0].Shadow {
				t.Errorf("shadow_failed %v, services %+v", sum.ShadowFailed, sum.Services)
			}
			if fast := sum.Services[0]; fast.Status != StatusPassed || fast.Image == "" {
				t.Errorf("fast = %+v, want passed with an image despite --fail-fast", fast)
			}
			if err, handed := eng.imageErrs["slow"]; handed == tc.afterImages || (handed && err == nil) {
				t.Errorf("slow's image in integration: handed %v, err %v", handed, err)
			}
		})
	}
}
