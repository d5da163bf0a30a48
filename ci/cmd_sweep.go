package main

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"

	"github.com/spf13/pflag"

	"github.com/convoy-ci/convoy/integration"
	"github.com/convoy-ci/convoy/integration/container"
	"github.com/convoy-ci/convoy/pipeline"
)

func init() {
	register(&command{
		name:    "sweep",
		summary: "Remove what killed runs left (clusters, databases, containers, mounts, scratch databases, old run directories); runs do this first.",
		usage:   "[flags]",
		flags: func(fs *pflag.FlagSet) {
			fs.String("postgres", "", "URL of the PostgreSQL server whose leftover run databases to drop (default: integration.postgres)")
		},
		run: func(ctx context.Context, c *cli) int { return c.sweep(ctx) },
	})
}

// sweep removes what killed runs of this repository left and prints one line per thing removed.
func (c *cli) sweep(ctx context.Context) int {
	cfg, code := c.load()
	if cfg == nil {
		return code
	}
	pg := c.flagString("postgres")
	if pg == "" {
		pg = cfg.Integration.Postgres
	}
	opts := []integration.Option{integration.WithRunDir(filepath.Join(stateDir(cfg), "run"))}
	// Containers of runc on this machine, and of the docker daemon at DOCKER_HOST.
	if sw := container.Sweeper(container.WithWorkDir(filepath.Join(stateDir(cfg), "run")),
		container.WithLayerCache(c.layerCache(cfg))); sw != nil {
		opts = append(opts, integration.WithContainerSweeper(sw))
	}
	removed, err := integration.Sweep(ctx, integration.Spec{Repo: cfg.Root, Postgres: pg}, opts...)
	pruned, perr := pipeline.PruneRuns(stateDir(cfg), pipeline.KeepRuns)
	removed, err = append(removed, pruned...), errors.Join(err, perr)
	for _, m := range removed {
		fmt.Fprintln(c.stdout, m)
	}
	if err != nil {
		return c.fail(err)
	}
	if len(removed) == 0 {
		fmt.Fprintln(c.stdout, "nothing left behind by killed runs")
	}
	return exitPassed
}
