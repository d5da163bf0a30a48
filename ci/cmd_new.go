package main

import (
	"context"
	"errors"
	"fmt"

	"github.com/spf13/pflag"

	"github.com/convoy-ci/convoy/pipeline/config"
	"github.com/convoy-ci/convoy/scaffold"
)

func init() {
	register(&command{
		name: "new",
		summary: "new service NAME: create a service from the manifest's template: directory or the built-in " +
			"Django+DRF one, and add it to services.yaml (comments kept); it passes convoy gate and build as it is.",
		usage: "service NAME [--deps TOOL] [flags]",
		flags: func(fs *pflag.FlagSet) {
			fs.String("deps", "", "the service's dependency tool (default: the one most services use)")
		},
		run: func(ctx context.Context, c *cli) int { return c.newService() },
	})
}

// newService creates the service the arguments name; a bad manifest or a refused request is
// exit code 2 with nothing written.
func (c *cli) newService() int {
	if len(c.args) != 2 || c.args[0] != "service" {
		fmt.Fprintf(c.stderr, "convoy new: expected service NAME, not %q\n", c.args)
		return exitUsage
	}
	created, err := scaffold.NewService(c.opts.file, c.opts.repo, c.args[1], scaffold.WithDeps(c.flagString("deps")))
	var ce *config.Error
	var refused *scaffold.RefusedError
	switch {
	case errors.As(err, &refused):
		fmt.Fprintf(c.stderr, "convoy new: %v; nothing was written\n", err)
		return exitUsage
	case errors.As(err, &ce):
		return c.refuseManifest(err)
	case err != nil:
		return c.fail(err)
	}
	fmt.Fprintf(c.stdout, "created %s (%s, %d files) and added it to %s: convoy gate --only %s\n",
		created.Path, created.Deps, len(created.Files), created.Manifest, created.Name)
	return exitPassed
}
