package doctor

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"sort"
	"strings"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"golang.org/x/sys/unix"

	"github.com/convoy-ci/convoy/engine/dagger"
	"github.com/convoy-ci/convoy/engine/local"
	"github.com/convoy-ci/convoy/image"
	"github.com/convoy-ci/convoy/integration/container"
	"github.com/convoy-ci/convoy/integration/pgcluster"
	"github.com/convoy-ci/convoy/internal/size"
	"github.com/convoy-ci/convoy/pipeline"
	"github.com/convoy-ci/convoy/pipeline/config"
	"github.com/convoy-ci/convoy/python"
	"github.com/convoy-ci/convoy/release"
)

// defaultCacheDir is where convoy caches for cfg when no --cache-dir is given.
func defaultCacheDir(cfg *config.Config) string {
	return filepath.Join(cfg.Root, pipeline.StateDirName, "cache")
}

// venvUser is something convoy makes a virtualenv for: a service, or the integration suite.
type venvUser struct {
	python, deps, installer string
	project                 python.Project
}

// venvUsers are cfg's services and, when the manifest has one, its integration suite (a pip
// project of integration.requirements on defaults.python, as the engines install it).
func venvUsers(cfg *config.Config) []venvUser {
	var out []venvUser
	for _, s := range cfg.Services {
		out = append(out, venvUser{s.Python, s.Deps, s.Installer, python.Project{Root: cfg.Root, Dir: s.Path, Name: s.Name}})
	}
	if req := cfg.Integration.Requirements; req != "" {
		out = append(out, venvUser{cfg.Defaults.Python, python.Pip, cfg.Defaults.Installer,
			python.Project{Root: cfg.Root, Dir: path.Dir(req), Name: "integration", SpecFile: path.Base(req)}})
	}
	return out
}

// installation is how u's virtualenv is made and filled (ok false when the tool cannot say).
func (u venvUser) installation() (python.Installation, bool) {
	inst, err := python.MustTool(u.deps).Install(u.project, python.InstallOptions{Installer: u.installer})
	return inst, err == nil
}

// pythons checks each Python version the manifest's services and suite use: python3.X on PATH,
// with venv and ensurepip when a virtualenv of that version is made by pip (installer: pip, or
// pipenv without a current lock).
func pythons(ctx context.Context, cfg *config.Config, o options) []Result {
	users := venvUsers(cfg)
	versions := map[string]string{}
	for _, u := range users {
		versions[u.python] = u.python
	}
	var out []Result
	for _, v := range sortedKeys(versions) {
		r := Result{Check: "python " + v}
		prog := python.Interpreter(v)
		fix := fmt.Sprintf("apt-get install -y %s %s-venv (or set python: in %s to an installed version)", prog, prog, cfg.File)
		exe, err := exec.LookPath(prog)
		if err != nil {
			r.Status, r.Detail, r.Fix = Fail, prog+" is not on PATH", fix
			out = append(out, r)
			continue
		}
		r.Status, r.Detail = OK, exe
		if pipVenvs(users, v) {
			cctx, cancel := context.WithTimeout(ctx, o.timeout)
			msg, err := exec.CommandContext(cctx, exe, "-c", "import venv, ensurepip").CombinedOutput()
			cancel()
			if err != nil {
				r.Status, r.Fix = Fail, fix
				r.Detail = fmt.Sprintf("%s cannot make virtualenvs with pip (import venv, ensurepip: %v %s)", exe, err, strings.TrimSpace(string(msg)))
			} else {
				r.Detail += " (venv and ensurepip, for pip-made virtualenvs)"
			}
		}
		out = append(out, r)
	}
	return out
}

// pipVenvs reports whether one of users of Python version has its virtualenv made by pip.
func pipVenvs(users []venvUser, version string) bool {
	for _, u := range users {
		if inst, ok := u.installation(); ok && u.python == version && inst.Installer == python.InstallerPip {
			return true
		}
	}
	return false
}

// installers checks the programs convoy provisions for the services' dependency tools: uv (every
// manifest: images are resolved with it) and poetry when a service uses it.
func installers(ctx context.Context, cfg *config.Config, o options) []Result {
	tools := python.NewTools(o.cacheDir)
	programs := map[string]string{python.UVProgram: python.UVVersion}
	for _, u := range venvUsers(cfg) {
		if inst, ok := u.installation(); ok && python.UsesProgram(inst.Commands, python.PoetryProgram) {
			programs[python.PoetryProgram] = python.PoetryVersion
		}
	}
	var out []Result
	for _, prog := range sortedKeys(programs) {
		r := Result{Check: prog + " " + programs[prog]}
		if path, ok := tools.Installed(ctx, prog); ok {
			r.Status, r.Detail = OK, path
		} else {
			r.Status, r.Detail = Warn, fmt.Sprintf("not installed yet: convoy installs it from PyPI into %s on first use",
				filepath.Join(o.cacheDir, "tools"))
			r.Fix = "make PyPI reachable for the first run (python3 -m pip must work)"
			if prog == python.UVProgram {
				r.Fix += ", or put uv " + python.UVVersion + " on PATH"
			}
		}
		out = append(out, r)
	}
	return out
}

// postgres checks the PostgreSQL server binaries integration starts its throwaway cluster with,
// unless the manifest names a server.
func postgres(ctx context.Context, cfg *config.Config, o options) []Result {
	r := Result{Check: "postgres"}
	if cfg.Integration.Postgres != "" {
		r.Status, r.Detail = OK, "integration.postgres names a server: no cluster is started"
		return []Result{r}
	}
	path := o.pgPath
	if path == nil {
		path = filepath.SplitList(os.Getenv("PATH"))
	}
	dir, err := pgcluster.FindBinDirIn(path, o.pgGlobs)
	if err != nil {
		r.Status, r.Detail = Fail, err.Error()
		r.Fix = "apt-get install -y postgresql (or --postgres URL / integration.postgres for an existing server)"
		return []Result{r}
	}
	r.Status, r.Detail = OK, dir
	return []Result{r}
}

// runtime checks the container runtime integration starts images in.
func runtime(ctx context.Context, cfg *config.Config, o options) []Result {
	r := Result{Check: "container runtime " + o.runtime}
	work, err := os.MkdirTemp("", "convoy-doctor-")
	if err != nil {
		r.Status, r.Detail = Fail, fmt.Sprintf("creating a scratch directory: %v", err)
		return []Result{r}
	}
	defer os.RemoveAll(work)
	rt, err := container.New(o.runtime, container.WithWorkDir(work), container.WithLayerCache(filepath.Join(work, "rootfs")),
		container.WithProbeTimeout(o.timeout))
	if err != nil {
		r.Status, r.Detail = Fail, err.Error()
		r.Fix = "apt-get install -y runc and run as root, or set DOCKER_HOST to a Docker or Podman socket " +
			"(or --integration-from venv, which does not prove the images)"
		return []Result{r}
	}
	r.Status, r.Detail = OK, rt.Kind()
	return []Result{r}
}

// bases checks that every base image the services name can be read and states its Python.
func bases(ctx context.Context, cfg *config.Config, o options) []Result {
	var out []Result
	for _, ref := range distinct(cfg, func(s *config.Service) string { return s.Base }) {
		r := Result{Check: "base " + ref}
		cctx, cancel := context.WithTimeout(ctx, o.timeout)
		b, err := image.LoadBase(cctx, ref, image.WithDir(cfg.Root), image.WithInsecure(o.insecure), image.WithKeychain(o.keychain))
		cancel()
		if err != nil {
			r.Status, r.Detail = Fail, err.Error()
			r.Fix = "make the image available (this repository's offline base: scripts/base-image.sh), " +
				"or set base: in " + cfg.File + " to one that is"
		} else {
			r.Status, r.Detail = OK, fmt.Sprintf("Python %s, %s, %s", b.Python, b.Platform, b.Digest)
		}
		out = append(out, r)
	}
	return out
}

// releaseRegistry checks that the release registry answers, and says whether credentials for it were
// found — never what they are.
func releaseRegistry(ctx context.Context, cfg *config.Config, o options) []Result {
	r := Result{Check: "registry"}
	if o.registry == "" {
		r.Status, r.Detail = OK, "none configured (release.registry or --registry): nothing is pushed"
		return []Result{r}
	}
	r.Check += " " + o.registry
	creds, err := credentials(o)
	if err != nil {
		r.Status, r.Detail, r.Fix = Fail, err.Error(), "fix the docker config ($DOCKER_CONFIG/config.json) or its credential helper"
		return []Result{r}
	}
	cctx, cancel := context.WithTimeout(ctx, o.timeout)
	defer cancel()
	err = release.Ping(cctx, o.registry, release.WithInsecure(o.insecure), release.WithKeychain(o.keychain),
		release.WithRetry(release.RetryPolicy{Attempts: 1, Factor: 1}))
	if err != nil {
		r.Status, r.Detail = Fail, fmt.Sprintf("%v (%s)", err, creds)
		r.Fix = "check the registry's address and that it is up; docker login " + host(o.registry) + " if it needs credentials"
		return []Result{r}
	}
	r.Status, r.Detail = OK, "answers ("+creds+")"
	return []Result{r}
}

// credentials says whether the keychain has credentials for the registry's host.
func credentials(o options) (string, error) {
	var nameOpts []name.Option
	if o.insecure {
		nameOpts = append(nameOpts, name.Insecure)
	}
	reg, err := name.NewRegistry(host(o.registry), nameOpts...)
	if err != nil {
		return "", fmt.Errorf("parsing registry %q: %w", o.registry, err)
	}
	auth, err := o.keychain.Resolve(reg)
	if err != nil {
		return "", fmt.Errorf("resolving credentials for %q: %w", reg.RegistryStr(), err)
	}
	if auth == authn.Anonymous {
		return "no credentials found: anonymous", nil
	}
	return "credentials found", nil
}

// host is the registry host of REGISTRY[/NAMESPACE].
func host(repo string) string {
	h, _, _ := strings.Cut(repo, "/")
	return h
}

// disk checks the free space of the cache's file system and reports the cache's size.
func disk(ctx context.Context, cfg *config.Config, o options) []Result {
	free := Result{Check: "disk"}
	dir := existingParent(o.cacheDir)
	var st unix.Statfs_t
	if err := unix.Statfs(dir, &st); err != nil {
		free.Status, free.Detail = Fail, fmt.Sprintf("reading the free space of %s: %v", dir, err)
	} else {
		avail := st.Bavail * uint64(st.Bsize)
		free.Detail = fmt.Sprintf("%s free in %s", size.Text(int64(avail)), dir)
		fix := "free space there, or point --cache-dir (CONVOY_CACHE_DIR) at a larger file system; convoy cache prune removes unused entries"
		switch {
		case avail < o.minFree:
			free.Status, free.Fix = Fail, fix
		case avail < o.comfortable:
			free.Status, free.Fix = Warn, fix
		default:
			free.Status = OK
		}
	}
	cache := Result{Check: "cache", Status: OK}
	n, err := dirSize(o.cacheDir)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		cache.Detail = o.cacheDir + " does not exist yet"
	case err != nil:
		cache.Status, cache.Detail = Warn, fmt.Sprintf("measuring %s: %v", o.cacheDir, err)
	default:
		cache.Detail = fmt.Sprintf("%s in %s (convoy cache prune --dry-run lists what is unused)", size.Text(n), o.cacheDir)
	}
	return []Result{free, cache}
}

// netns checks that unit and populate stages can run in a network namespace of their own.
func netns(ctx context.Context, cfg *config.Config, o options) []Result {
	r := Result{Check: "network namespaces"}
	if err := local.ProbeNetns(); err != nil {
		r.Status, r.Detail = Warn, fmt.Sprintf("unavailable (%v): unit and populate stages run with the host's network", err)
		r.Fix = "run as root, or allow unprivileged user namespaces (sysctl -w kernel.unprivileged_userns_clone=1 " +
			"and kernel.apparmor_restrict_unprivileged_userns=0)"
		return []Result{r}
	}
	r.Status, r.Detail = OK, "unit and populate stages run offline"
	return []Result{r}
}

// daggerEngine checks, with --engine dagger only, that a Dagger engine can be reached.
func daggerEngine(ctx context.Context, cfg *config.Config, o options) []Result {
	if o.engine != dagger.Name {
		return nil
	}
	r := Result{Check: "engine dagger"}
	how, err := dagger.Reachable(ctx)
	if err != nil {
		first, _, _ := strings.Cut(err.Error(), "\n")
		r.Status, r.Detail = Fail, first
		r.Fix = "run convoy under dagger run, set " + dagger.EnvRunnerHost + " to a running engine, or use --engine local"
		return []Result{r}
	}
	r.Status, r.Detail = OK, how
	return []Result{r}
}

// distinct is the sorted distinct non-empty values of f over cfg's services.
func distinct(cfg *config.Config, f func(*config.Service) string) []string {
	seen := map[string]string{}
	for _, s := range cfg.Services {
		if v := f(s); v != "" {
			seen[v] = v
		}
	}
	return sortedKeys(seen)
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// existingParent is dir or its nearest ancestor that exists.
func existingParent(dir string) string {
	for {
		if _, err := os.Stat(dir); err == nil || filepath.Dir(dir) == dir {
			return dir
		}
		dir = filepath.Dir(dir)
	}
}

// dirSize is the total size of the regular files under dir.
func dirSize(dir string) (int64, error) {
	if _, err := os.Stat(dir); err != nil {
		return 0, err
	}
	var n int64
	err := filepath.WalkDir(dir, func(_ string, d fs.DirEntry, err error) error {
		if err != nil {
			return nil // a directory removed or unreadable while walking counts as empty
		}
		if d.Type().IsRegular() {
			if fi, err := d.Info(); err == nil {
				n += fi.Size()
			}
		}
		return nil
	})
	return n, err
}
