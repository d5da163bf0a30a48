package local

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/convoy-ci/convoy/engine"
	"github.com/convoy-ci/convoy/pipeline/config"
	"github.com/convoy-ci/convoy/python"
	"github.com/convoy-ci/convoy/stages"
)

// BenchmarkDepsInstall times the deps stage of the events service — a new virtualenv with
// services/events/requirements-dev.txt installed — in the same run with installer: pip (pip's
// cache off: cold), installer: uv with an empty uv cache (cold) and with the cache the cold
// install filled (warm), and reports the seconds of each and pip's time over uv's.
// scripts/bench-deps.sh runs it.
func BenchmarkDepsInstall(b *testing.B) {
	needPyPI(b)
	b.Setenv("PIP_NO_CACHE_DIR", "1") // pip's cold run downloads everything, as uv's does
	shared, err := python.NewTools(testCache(b)).UV(context.Background())
	if err != nil {
		b.Fatal(err)
	}
	var pip, uvCold, uvWarm time.Duration
	for b.Loop() {
		pip += timeDeps(b, config.InstallerPip, nil)
		tools := python.NewTools(b.TempDir(), python.WithUV(shared.Path)) // an empty uv cache
		uvCold += timeDeps(b, config.InstallerUV, tools)
		uvWarm += timeDeps(b, config.InstallerUV, tools)
	}
	n := float64(b.N)
	b.ReportMetric(pip.Seconds()/n, "pip-s/op")
	b.ReportMetric(uvCold.Seconds()/n, "uv-cold-s/op")
	b.ReportMetric(uvWarm.Seconds()/n, "uv-warm-s/op")
	b.ReportMetric(pip.Seconds()/uvCold.Seconds(), "pip/uv-cold")
	b.ReportMetric(pip.Seconds()/uvWarm.Seconds(), "pip/uv-warm")
}

// timeDeps runs the events service's deps stage with installer into a new virtualenv (an engine
// with an empty cache directory; tools, when given, are its uv) and returns how long it took.
func timeDeps(b *testing.B, installer string, tools *python.Tools) time.Duration {
	b.Helper()
	dir := b.TempDir()
	for _, name := range []string{"requirements.txt", "requirements-dev.txt"} {
		data, err := os.ReadFile(filepath.Join("..", "..", "services", "events", name))
		if err != nil {
			b.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o644); err != nil {
			b.Fatal(err)
		}
	}
	svc := &config.Service{Name: "events", Dir: dir, Python: config.DefaultPython, Deps: python.Pip,
		Installer: installer, Timeout: 10 * time.Minute, Env: map[string]string{}}
	opts := []Option{WithCacheDir(b.TempDir())}
	if tools != nil {
		opts = append(opts, WithTools(tools))
	}
	e := New(filepath.Join(dir, ".convoy"), opts...)
	var log bytes.Buffer
	start := time.Now()
	_, err := e.Run(context.Background(), engine.Request{Config: &config.Config{Root: dir}, Service: svc,
		Stage: stages.ForService(svc)[0], Log: &log})
	took := time.Since(start)
	if err != nil {
		b.Fatalf("deps with %s: %v\n%s", installer, err, log.String())
	}
	return took
}
