package main

import (
	"context"
	"fmt"
	"os"

	"github.com/spf13/pflag"

	"github.com/convoy-ci/convoy/doctor"
	"github.com/convoy-ci/convoy/integration/container"
)

func init() {
	register(&command{
		name: "doctor",
		summary: "Check what convoy needs on this machine for the manifest (Pythons, installers, PostgreSQL, " +
			"container runtime, base images, registry, disk, network namespaces): one line each, the fix for each failure.",
		usage: "[--runtime KIND] [--registry REGISTRY/NAMESPACE] [--insecure] [flags]",
		flags: func(fs *pflag.FlagSet) {
			fs.String("runtime", container.KindAuto, "container runtime to check: runc, docker or auto; env CONVOY_RUNTIME")
			fs.String("registry", "", "registry to check instead of release.registry")
			fs.Bool("insecure", false, "reach the registry over plain HTTP")
		},
		run: func(ctx context.Context, c *cli) int { return c.doctor(ctx) },
	})
}

// doctor runs every check and exits 1 when one failed.
func (c *cli) doctor(ctx context.Context) int {
	if len(c.args) > 0 {
		fmt.Fprintf(c.stderr, "convoy doctor: unexpected arguments %q\n", c.args)
		return exitUsage
	}
	cfg, code := c.load()
	if cfg == nil {
		return code
	}
	kind := c.flagString("runtime")
	if env := os.Getenv("CONVOY_RUNTIME"); env != "" && !c.fs.Changed("runtime") {
		kind = env
	}
	opts := []doctor.Option{doctor.WithCacheDir(c.cacheDir(cfg)), doctor.WithEngine(c.opts.engine), doctor.WithRuntime(kind),
		doctor.WithInsecure(c.flagBool("insecure"))}
	if r := c.flagString("registry"); r != "" {
		opts = append(opts, doctor.WithRegistry(r))
	}
	failed, err := doctor.Report(ctx, cfg, c.stdout, c.opts.output, opts...)
	if err != nil {
		return c.fail(err)
	}
	if failed {
		return exitFailed
	}
	return exitPassed
}
