package main

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/spf13/pflag"

	"github.com/convoy-ci/convoy/engine/dagger"
	"github.com/convoy-ci/convoy/engine/local"
	"github.com/convoy-ci/convoy/integration/container"
	"github.com/convoy-ci/convoy/internal/size"
	"github.com/convoy-ci/convoy/pipeline"
)

func init() {
	register(&command{
		name: "cache",
		summary: "cache prune: remove the virtualenvs, dependency layers, runtime requirements, gate records, " +
			"Dagger retry records and unpacked image layers the manifest no longer refers to and no run used lately, with their sizes.",
		usage: "prune [--dry-run] [--keep-for DURATION] [flags]",
		flags: func(fs *pflag.FlagSet) {
			fs.Bool("dry-run", false, "list what would be removed, and its size, without removing anything")
			fs.Duration("keep-for", local.DefaultKeepFor, "keep entries used within this long, referenced or not")
		},
		run: func(ctx context.Context, c *cli) int { return c.cachePrune(ctx) },
	})
}

// cachePrune removes (or, with --dry-run, lists) what the cache holds for nothing, one line per
// entry with its size, and the total.
func (c *cli) cachePrune(ctx context.Context) int {
	if len(c.args) != 1 || c.args[0] != "prune" {
		return c.fail(&pipeline.UsageError{Msg: fmt.Sprintf("cache: expected the subcommand prune, not %q", c.args)})
	}
	dry, keepFor := c.flagBool("dry-run"), c.flagDuration("keep-for")
	if keepFor < 0 {
		return c.fail(&pipeline.UsageError{Msg: fmt.Sprintf("--keep-for %s: expected a duration of 0 or more", keepFor)})
	}
	cfg, code := c.load()
	if cfg == nil {
		return code
	}
	eng := local.New(stateDir(cfg), local.WithCacheDir(c.cacheDir(cfg)))
	rs, err := eng.Prune(ctx, cfg, keepFor, dry)
	if err != nil {
		return c.fail(err)
	}
	retries, err := dagger.PruneRetries(stateDir(cfg), keepFor, dry)
	if err != nil {
		return c.fail(err)
	}
	for _, r := range retries {
		rs = append(rs, local.Reclaimable{Path: r.Path, Size: r.Size, Kind: "dagger retry record", LastUsed: r.LastUsed})
	}
	var layerErr error // what was removed before it is listed all the same
	for i, dir := range []string{c.layerCache(cfg), container.DefaultLayerCache()} {
		if i > 0 && dir == c.layerCache(cfg) {
			break // --cache-dir is the machine's cache directory
		}
		layers, err := container.PruneLayers(dir, time.Now().Add(-keepFor), dry)
		for _, l := range layers {
			rs = append(rs, local.Reclaimable{Path: l.Path, Size: l.Size, Kind: "unpacked layer", LastUsed: l.LastUsed})
		}
		layerErr = errors.Join(layerErr, err)
	}
	var total int64
	for _, r := range rs {
		total += r.Size
		fmt.Fprintf(c.stdout, "%9s  %-20s  %s (last used %s)\n", size.Text(r.Size), r.Kind, r.Path, r.LastUsed.Format(time.DateOnly))
	}
	verb := "reclaimed"
	if dry {
		verb = "would reclaim"
	}
	fmt.Fprintf(c.stdout, "%s %s in %d entries (kept: what services.yaml refers to, and what was used in the last %s)\n",
		verb, size.Text(total), len(rs), keepFor)
	if layerErr != nil {
		return c.fail(fmt.Errorf("pruning unpacked layers: %w", layerErr))
	}
	return exitPassed
}
