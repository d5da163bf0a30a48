package local

import (
	"bytes"
	"context"
	"os"
	"testing"

	"github.com/convoy-ci/convoy/engine"
	"github.com/convoy-ci/convoy/pipeline/config"
	"github.com/convoy-ci/convoy/stages"
)

// benchCases are the services the image stage is measured with: a pip service with no
// requirements at all, one with the events service's requirements.txt, and the pipenv service
// of the markers fixture.
func benchCases(b *testing.B) []benchCase {
	events, err := os.ReadFile("../../services/events/requirements.txt")
	if err != nil {
		b.Fatal(err)
	}
	return []benchCase{
		{"empty", "pipmarkers", map[string]string{"services/pipmarkers/requirements.txt": ""}},
		{"events", "pipmarkers", map[string]string{"services/pipmarkers/requirements.txt": string(events)}},
		{"pipenv", "pipenvmarkers", map[string]string{}},
	}
}

type benchCase struct {
	name, service string
	files         map[string]string
}

// BenchmarkImageStage times one service's image stage on the local engine once its gates have
// passed — resolve the runtime requirements for the base, assemble the image (its dependency
// layer from the layer cache, as on every build but the first), store it (see benchCases).
func BenchmarkImageStage(b *testing.B) {
	benchImage(b, func(ctx context.Context, e *Engine, req engine.Request, venv string) error {
		_, err := e.Run(ctx, req)
		return err
	})
}

// BenchmarkRuntimeRequirements times the resolution part of the image stage alone.
func BenchmarkRuntimeRequirements(b *testing.B) {
	benchImage(b, func(ctx context.Context, e *Engine, req engine.Request, venv string) error {
		_, err := e.RuntimeRequirements(ctx, req, venv)
		return err
	})
}

func benchImage(b *testing.B, op func(context.Context, *Engine, engine.Request, string) error) {
	needBase(b)
	needPyPI(b)
	for _, bc := range benchCases(b) {
		b.Run(bc.name, func(b *testing.B) {
			cfg := imageRepo(b, "markers", bc.files)
			e, _ := imageEngine(b, cfg)
			svc := cfg.Service(bc.service)
			runStage(b, e, cfg, svc, stages.Deps)
			venv, err := e.Venv(svc)
			if err != nil {
				b.Fatal(err)
			}
			req := engine.Request{Config: cfg, Service: svc, Stage: imageStage(b, svc), Log: &bytes.Buffer{}}
			ctx := context.Background()
			if err := op(ctx, e, req, venv); err != nil { // provisions uv, fills the caches
				b.Fatalf("%v\n%s", err, req.Log)
			}
			b.ResetTimer()
			for b.Loop() {
				if err := op(ctx, e, req, venv); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// imageStage is svc's image stage.
func imageStage(b *testing.B, svc *config.Service) stages.Stage {
	for _, st := range stages.WithImage(svc) {
		if st.Kind == stages.KindImage {
			return st
		}
	}
	b.Fatalf("%s has no image stage", svc.Name)
	return stages.Stage{}
}
