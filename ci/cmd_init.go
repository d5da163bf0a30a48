package main

import (
	"context"
	"errors"
	"fmt"

	"github.com/spf13/pflag"

	"github.com/convoy-ci/convoy/initgen"
)

func init() {
	register(&command{
		name: "init",
		summary: "Scan the repository for services and write a commented services.yaml (-f names another file); " +
			"never overwrites one without --force.",
		usage: "[--force] [--dry-run] [--base REF] [flags]",
		flags: func(fs *pflag.FlagSet) {
			fs.Bool("force", false, "overwrite the manifest when it exists")
			fs.Bool("dry-run", false, "print the manifest instead of writing it")
			fs.String("base", initgen.DefaultBase, "base image reference to write as defaults.base")
		},
		run: func(ctx context.Context, c *cli) int { return c.initManifest() },
	})
}

// initManifest writes (or, with --dry-run, prints) the manifest convoy init makes of the
// repository; an existing manifest, or a repository with no service, is a usage error.
func (c *cli) initManifest() int {
	if len(c.args) > 0 {
		fmt.Fprintf(c.stderr, "convoy init: unexpected arguments %q\n", c.args)
		return exitUsage
	}
	force, dry := c.flagBool("force"), c.flagBool("dry-run")
	base := initgen.WithBase(c.flagString("base"))
	if dry {
		data, err := initgen.Generate(c.opts.repo, base)
		if err != nil {
			return c.initFailed(err)
		}
		c.stdout.Write(data)
		return exitPassed
	}
	file, err := initgen.Write(c.opts.repo, c.opts.file, force, base)
	if err != nil {
		return c.initFailed(err)
	}
	fmt.Fprintf(c.stdout, "wrote %s: review its TODO comments, then run convoy plan\n", file)
	return exitPassed
}

// initFailed prints err; an existing manifest or a repository with no service is exit code 2.
func (c *cli) initFailed(err error) int {
	fmt.Fprintf(c.stderr, "convoy init: %v\n", err)
	if errors.Is(err, initgen.ErrExists) || errors.Is(err, initgen.ErrNoServices) {
		return exitUsage
	}
	return exitFailed
}
