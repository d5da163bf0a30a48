package container

import (
	"context"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/v1/mutate"

	"github.com/convoy-ci/convoy/integration"
	"github.com/convoy-ci/convoy/internal/procgroup"
)

// BenchmarkStart measures `python3 -c pass` from Start to exit, then Stop, in a container and on
// the host: ns/op is both; start-to-exit-ms and stop-ms split it.
//
//	go test ./integration/container -run '^$' -bench BenchmarkStart -benchtime 20x
func BenchmarkStart(b *testing.B) {
	argv := []string{"python3", "-c", "pass"}
	b.Run("host", func(b *testing.B) {
		path, err := exec.LookPath("/usr/bin/python3") // Debian's, as in the image (not a pyenv shim)
		if err != nil {
			if path, err = exec.LookPath("python3"); err != nil {
				b.Skip("SKIP: no python3 on the host")
			}
		}
		benchStart(b, func() (integration.Process, error) {
			return procgroup.Start(&exec.Cmd{Path: path, Args: argv, Stdout: io.Discard, Stderr: io.Discard})
		})
	})
	b.Run("runc", func(b *testing.B) {
		l := prepared(b, newRunc(b).Launcher("bench", runID(), testImage(b, baseImage(b), "")))
		benchStart(b, func() (integration.Process, error) {
			return l.Start(integration.Command{Name: "pass", Argv: argv, Log: io.Discard})
		})
	})
	b.Run("docker", func(b *testing.B) {
		l := prepared(b, newDocker(b).Launcher("bench", runID(), testImage(b, baseImage(b), "")))
		benchStart(b, func() (integration.Process, error) {
			return l.Start(integration.Command{Name: "pass", Argv: argv, Log: io.Discard})
		})
	})
}

// benchStart runs start, waits for the process to exit and stops it, b.N times.
func benchStart(b *testing.B, start func() (integration.Process, error)) {
	var run, stop time.Duration
	for b.Loop() {
		t0 := time.Now()
		p, err := start()
		if err != nil {
			b.Fatal(err)
		}
		<-p.Done()
		t1 := time.Now()
		if err := p.Stop(syscall.SIGTERM, time.Second); err != nil {
			b.Fatal(err)
		}
		if p.ExitCode() != 0 {
			b.Fatalf("exit code %d: %v", p.ExitCode(), p.Err())
		}
		run += t1.Sub(t0)
		stop += time.Since(t1)
	}
	b.ReportMetric(float64(run.Milliseconds())/float64(b.N), "start-to-exit-ms")
	b.ReportMetric(float64(stop.Milliseconds())/float64(b.N), "stop-ms")
}

// BenchmarkPrepare measures what runc's Prepare costs. flattened: unpacking the base image's
// flattened filesystem into a fresh directory (MB/s is of file content written), what Prepare
// does without an overlay. overlay-warm: Prepare and Close of a launcher of the base image whose
// layers are in the layer cache already (an overlay mount, its upper and work directories, the
// image's user resolved). The directories are in $CONVOY_BENCH_DIR when set (a tmpfs, say), else
// in the test's temporary directory.
//
//	go test ./integration/container -run '^$' -bench BenchmarkPrepare -benchtime 3x
func BenchmarkPrepare(b *testing.B) {
	img := baseImage(b)
	dir := b.TempDir()
	if parent := os.Getenv("CONVOY_BENCH_DIR"); parent != "" {
		var err error
		if dir, err = os.MkdirTemp(parent, "convoy-bench-"); err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { os.RemoveAll(dir) })
	}
	b.Run("flattened", func(b *testing.B) {
		for b.Loop() {
			root := filepath.Join(dir, "rootfs")
			if err := os.Mkdir(root, 0o755); err != nil {
				b.Fatal(err)
			}
			rc := mutate.Extract(img)
			stats, err := untar(context.Background(), rc, root)
			rc.Close()
			if err != nil {
				b.Fatal(err)
			}
			b.SetBytes(stats.Bytes)
			b.StopTimer()
			if err := os.RemoveAll(root); err != nil {
				b.Fatal(err)
			}
			b.StartTimer()
		}
	})
	b.Run("overlay-warm", func(b *testing.B) {
		rt, err := NewRunc(WithWorkDir(filepath.Join(dir, "work")), WithLayerCache(filepath.Join(dir, "layers")))
		if err != nil {
			unavailableHere(b, "%v", err)
		}
		warm := rt.Launcher("bench", runID(), img)
		if err := warm.Prepare(context.Background()); err != nil {
			b.Fatal(err)
		}
		if d := warm.Describe(); !strings.Contains(d, "(overlay of ") {
			b.Fatalf("no overlay: %s", d)
		}
		if err := warm.Close(); err != nil {
			b.Fatal(err)
		}
		for b.Loop() {
			l := rt.Launcher("bench", runID(), img)
			if err := l.Prepare(context.Background()); err != nil {
				b.Fatal(err)
			}
			if err := l.Close(); err != nil {
				b.Fatal(err)
			}
		}
	})
}
