// Command convoy takes a monorepo of Python services from a push to a release: it gates every
// service (deps, unit tests, flake8, populator) in parallel, builds their images, runs the
// cross-service integration suite, and cuts QA releases.
//
// This package holds flags and subcommands only; the work is in pipeline, stages, engine,
// image, integration, repo and release.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/convoy-ci/convoy/engine/local"
)

func main() {
	local.RunNetnsHelper()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	sigs := &signals{}
	ch := make(chan os.Signal, 2)
	signal.Notify(ch, syscall.SIGINT, syscall.SIGTERM)
	go func() {
		s := <-ch
		sigs.set(s)
		cancel()
		// A second signal stops waiting for the clean-up.
		<-ch
		os.Exit(sigs.exitCode())
	}()
	code := Main(ctx, os.Args[1:], os.Stdout, os.Stderr, sigs)
	os.Exit(code)
}
