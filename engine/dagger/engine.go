package dagger

import (
	"archive/tar"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"

	"dagger.io/dagger"

	"github.com/convoy-ci/convoy/engine"
	"github.com/convoy-ci/convoy/pipeline/config"
	"github.com/convoy-ci/convoy/python"
	"github.com/convoy-ci/convoy/stages"
)

// Engine runs convoy's stages as container execs on a Dagger engine. Create it with Connect
// (or New, given a client). It is safe for concurrent use.
type Engine struct {
	client       *dagger.Client
	o            options
	tr           translator
	closeSession func() error

	offlineOnce sync.Once
	retries     *retries

	mu       sync.Mutex
	done     map[string]*dagger.Container // recipe key → its container after its execs passed
	users    map[string]string            // base ref → the user its image runs as
	tarballs map[string]string            // oci-layout directory → its tarball
	deps     map[string]stages.Stage      // service → the deps stage this engine ran for it
	tmpDir   string
}

var _ engine.Engine = (*Engine)(nil)

// New returns an engine working through client, which the caller keeps and closes (Close does
// not close it). Connect is the usual way to get an engine.
func New(client *dagger.Client, opts ...Option) *Engine {
	o := makeOptions(opts...)
	e := &Engine{
		client:   client,
		o:        o,
		done:     map[string]*dagger.Container{},
		users:    map[string]string{},
		tarballs: map[string]string{},
		deps:     map[string]stages.Stage{},
		retries:  &retries{dir: o.retryDir},
	}
	e.tr = translator{LookupEnv: o.hostEnv, Environ: o.environ, DefaultBase: o.defaultBase, DepsStage: e.depsStage}
	return e
}

// depsStage returns the deps stage Run carried out for svc, if it did.
func (e *Engine) depsStage(svc *config.Service) (stages.Stage, bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	st, ok := e.deps[svc.Name]
	return st, ok
}

// hostTranslator returns the engine's translator with the host's uv (translator.UV), which the
// engine's python.Tools find or provision once.
func (e *Engine) hostTranslator(ctx context.Context) (translator, error) {
	uv, err := e.o.tools.UV(ctx)
	if err != nil {
		return translator{}, fmt.Errorf("finding the uv copied into the containers: %w", err)
	}
	t := e.tr
	t.UV = uv.Path
	return t, nil
}

// scratchLocked returns a new directory under the engine's temporary directory; e.mu is held.
func (e *Engine) scratchLocked(prefix string) (string, error) {
	if e.tmpDir == "" {
		d, err := os.MkdirTemp(e.o.tempDir, "convoy-dagger-")
		if err != nil {
			return "", fmt.Errorf("creating a temporary directory: %w", err)
		}
		e.tmpDir = d
	}
	return os.MkdirTemp(e.tmpDir, prefix)
}

// Name returns "dagger".
func (e *Engine) Name() string { return Name }

// Close removes the engine's temporary files and, when Connect opened the session, ends it:
// the engine stops every service it started.
func (e *Engine) Close() error {
	e.mu.Lock()
	dir := e.tmpDir
	e.tmpDir = ""
	e.mu.Unlock()
	var errs []error
	if dir != "" {
		errs = append(errs, os.RemoveAll(dir))
	}
	if e.closeSession != nil {
		errs = append(errs, e.closeSession())
		e.closeSession = nil
	}
	return errors.Join(errs...)
}

// Run carries out one stage of one service: it translates the stage into a recipe and runs the
// recipe's execs, each one's combined output going to req.Log after a "$ argv" line, as on the
// local engine. A stage that does not pass returns a *engine.StageError with the failing argv
// and its exit code. Later stages of a service continue the container of the deps stage Run
// last carried out for it. An image stage resolves the runtime requirements in that container
// and assembles, stores and pushes the image with the WithImages builder (see image).
func (e *Engine) Run(ctx context.Context, req engine.Request) (engine.Result, error) {
	if req.Stage.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, req.Stage.Timeout)
		defer cancel()
	}
	switch req.Stage.Kind {
	case stages.KindImage:
		return e.image(ctx, req)
	case stages.KindLayer:
		return e.layer(ctx, req)
	case stages.KindDeps:
		e.mu.Lock()
		e.deps[req.Service.Name] = req.Stage
		e.mu.Unlock()
	}
	tr, err := e.hostTranslator(ctx)
	if err != nil {
		return engine.Result{}, e.failure(ctx, req.Log, nil, err)
	}
	r, err := tr.stage(req.Config, req.Service, req.Stage)
	if err != nil {
		fmt.Fprintf(req.Log, "convoy: %v\n", err)
		return engine.Result{}, &engine.StageError{Reason: engine.Failed, ExitCode: -1, Err: err}
	}
	if r.Offline {
		e.offlineOnce.Do(func() {
			e.o.notify("the dagger engine cannot take the network away from a container: stages that ask for none (unit, populate) run with the engine's container network")
		})
	}
	if r.JUnit != "" && req.JUnit != "" {
		return engine.Result{}, e.runWithJUnit(ctx, &r, req)
	}
	_, err = e.runRecipe(ctx, &r, req.Log)
	return engine.Result{}, err
}

// runWithJUnit is runRecipe for a recipe whose runner leaves JUnit XML at r.JUnit: after the
// execs, passed or failed (failing tests are counted too), the file is exported to
// req.JUnit. A runner that wrote none leaves no file there (its counts are unavailable).
func (e *Engine) runWithJUnit(ctx context.Context, r *recipe, req engine.Request) error {
	ctr, err := e.container(ctx, r)
	if err != nil {
		return e.failure(ctx, req.Log, nil, fmt.Errorf("preparing the container of %s/%s: %w", r.Service, r.Stage, err))
	}
	var runErr error
	for i, x := range r.Execs {
		next, err := e.exec(ctx, ctr, execKey(r, i), x, req.Log)
		if next != nil {
			ctr = next
		}
		if runErr = err; err != nil {
			break
		}
	}
	if runErr == nil || engine.AsStageError(runErr).Reason == engine.Failed {
		if _, err := ctr.File(r.JUnit).Export(ctx, req.JUnit); err != nil {
			fmt.Fprintf(req.Log, "convoy: no JUnit XML at %s in the container: %v\n", r.JUnit, err)
		}
	}
	if runErr == nil {
		e.remember(r, ctr)
	}
	return runErr
}

// runRecipe builds r's container (its From chain first) and runs r's execs in order, gated:
// each exec's exit code is read and a non-zero one stops the recipe with a *engine.StageError.
// It returns the container after the last exec, which later recipes From r continue.
func (e *Engine) runRecipe(ctx context.Context, r *recipe, log io.Writer) (*dagger.Container, error) {
	ctr, err := e.container(ctx, r)
	if err != nil {
		return nil, e.failure(ctx, log, nil, fmt.Errorf("preparing the container of %s/%s: %w", r.Service, r.Stage, err))
	}
	ctr, err = e.execs(ctx, ctr, r, log)
	if err != nil {
		return nil, err
	}
	e.remember(r, ctr)
	return ctr, nil
}

// execs runs r's execs on ctr in order, gated (see exec), and returns the container after the
// last.
func (e *Engine) execs(ctx context.Context, ctr *dagger.Container, r *recipe, log io.Writer) (*dagger.Container, error) {
	for i, x := range r.Execs {
		next, err := e.exec(ctx, ctr, execKey(r, i), x, log)
		if err != nil {
			return nil, err
		}
		ctr = next
	}
	return ctr, nil
}

// execKey names the i-th exec of r in the failure record (retries).
func execKey(r *recipe, i int) string { return r.key() + "-" + strconv.Itoa(i) }

// exec runs x on ctr: its "$ argv" line and combined output go to log and its exit code is read;
// a non-zero one is a *engine.StageError with that code, and is recorded under key (when set)
// so that the next attempt runs it again (retries). The container after x is returned whenever
// x ran, even when it failed (its files may say why).
func (e *Engine) exec(ctx context.Context, ctr *dagger.Container, key string, x execStep, log io.Writer) (*dagger.Container, error) {
	if ctx.Err() != nil {
		return nil, e.failure(ctx, log, x.Argv, ctx.Err())
	}
	fmt.Fprintf(log, "$ %s\n", python.QuoteArgv(x.Argv))
	next := e.withExec(ctr, key, x, dagger.ReturnTypeAny)
	out, err := next.CombinedOutput(ctx)
	if err != nil {
		return nil, e.failure(ctx, log, x.Argv, err)
	}
	if _, err := io.WriteString(log, out); err != nil {
		return nil, e.failure(ctx, log, x.Argv, fmt.Errorf("writing the log: %w", err))
	}
	if out != "" && !strings.HasSuffix(out, "\n") {
		fmt.Fprintln(log)
	}
	code, err := next.ExitCode(ctx)
	if err != nil {
		return nil, e.failure(ctx, log, x.Argv, err)
	}
	if code != 0 {
		se := &engine.StageError{Reason: engine.Failed, ExitCode: code, Command: x.Argv, Err: fmt.Errorf("exit status %d", code)}
		fmt.Fprintf(log, "convoy: %v\n", se)
		if key != "" {
			if err := e.retries.failed(key); err != nil {
				fmt.Fprintf(log, "convoy: %v: the next run may be given this failure from the cache\n", err)
			}
		}
		return next, se
	}
	return next, nil
}

// withExec adds x to ctr, expecting the exit codes expect allows ("" is the SDK's default), with
// retryEnv set for x alone when the exec key failed the last time it ran.
func (e *Engine) withExec(ctr *dagger.Container, key string, x execStep, expect dagger.ReturnType) *dagger.Container {
	retry := ""
	if key != "" {
		retry = e.retries.value(key)
	}
	if retry != "" {
		ctr = ctr.WithEnvVariable(retryEnv, retry)
	}
	ctr = ctr.WithExec(x.Argv, dagger.ContainerWithExecOpts{Expect: expect, RedirectStdout: x.Stdout})
	if retry != "" {
		ctr = ctr.WithoutEnvVariable(retryEnv)
	}
	return ctr
}

// failure turns err into the StageError the local engine would return: timed out or interrupted
// when ctx ended, else failed with no exit code. It says so in the log.
func (e *Engine) failure(ctx context.Context, log io.Writer, argv []string, err error) error {
	var se *engine.StageError
	switch {
	case errors.As(err, &se):
	case errors.Is(ctx.Err(), context.DeadlineExceeded):
		se = &engine.StageError{Reason: engine.TimedOut, ExitCode: -1, Command: argv, Err: ctx.Err()}
	case ctx.Err() != nil:
		se = &engine.StageError{Reason: engine.Interrupted, ExitCode: -1, Command: argv, Err: ctx.Err()}
	default:
		se = &engine.StageError{Reason: engine.Failed, ExitCode: -1, Command: argv, Err: err}
	}
	if len(se.Command) == 0 && se.Reason == engine.Failed {
		fmt.Fprintf(log, "convoy: %v\n", se.Err) // no command to name: the cause says it all
	} else {
		fmt.Fprintf(log, "convoy: %v\n", se)
	}
	return se
}

// container returns r's container, ready for its execs: r.From's container (the one a
// runRecipe of it left behind, or rebuilt — Dagger's cache makes that cheap) or r's base image,
// with r's files, directories, mounts, caches, environment and working directory applied.
func (e *Engine) container(ctx context.Context, r *recipe) (ctr *dagger.Container, err error) {
	if r.From != nil {
		if c, ok := e.lookup(r.From); ok {
			ctr = c
		} else if ctr, err = e.rebuild(ctx, r.From); err != nil {
			return nil, err
		}
	} else {
		c, err := e.base(r.Base)
		if err != nil {
			return nil, err
		}
		ctr = c
	}
	owner, err := e.owner(ctx, r)
	if err != nil {
		return nil, err
	}
	return e.apply(ctr, r, owner)
}

// rebuild returns the container r's execs left behind, as another process's Run left it: the
// same execs (Expect ANY, the same CONVOY_RETRY values), so that Dagger's cache gives them back
// instead of running them again, each checked to have passed.
func (e *Engine) rebuild(ctx context.Context, r *recipe) (*dagger.Container, error) {
	c, err := e.container(ctx, r)
	if err != nil {
		return nil, err
	}
	for i, x := range r.Execs {
		c = e.withExec(c, execKey(r, i), x, dagger.ReturnTypeAny)
		code, err := c.ExitCode(ctx)
		if err != nil {
			return nil, fmt.Errorf("%s/%s: %q: %w", r.Service, r.Stage, x.Argv, err)
		}
		if code != 0 {
			return nil, fmt.Errorf("%s/%s: %q exited with code %d: its stage did not pass", r.Service, r.Stage, x.Argv, code)
		}
	}
	e.remember(r, c)
	return c, nil
}

// apply adds everything but the execs of r to ctr.
func (e *Engine) apply(ctr *dagger.Container, r *recipe, owner string) (*dagger.Container, error) {
	host := e.client.Host()
	for _, d := range r.Dirs {
		ctr = ctr.WithDirectory(d, e.client.Directory(), dagger.ContainerWithDirectoryOpts{Owner: owner})
	}
	for _, f := range r.Files {
		if f.Host == "" {
			ctr = ctr.WithNewFile(f.Path, f.Contents, dagger.ContainerWithNewFileOpts{Owner: owner})
			continue
		}
		if _, err := os.Stat(f.Host); err != nil {
			if f.Optional && errors.Is(err, fs.ErrNotExist) {
				continue
			}
			return nil, fmt.Errorf("copying %q into the container: %w", f.Host, err)
		}
		opts := dagger.ContainerWithFileOpts{Owner: owner}
		if f.Executable {
			opts.Permissions = 0o755
		}
		ctr = ctr.WithFile(f.Path, host.File(f.Host), opts)
	}
	for _, k := range r.Unset {
		ctr = ctr.WithoutEnvVariable(k)
	}
	for _, p := range r.Unmount {
		ctr = ctr.WithoutMount(p)
	}
	for _, m := range r.Mounts {
		if _, err := os.Stat(m.Host); err != nil {
			return nil, fmt.Errorf("mounting %q into the container: %w", m.Host, err)
		}
		if m.File {
			ctr = ctr.WithMountedFile(m.Path, host.File(m.Host), dagger.ContainerWithMountedFileOpts{Owner: owner})
			continue
		}
		dir := host.Directory(m.Host, dagger.HostDirectoryOpts{Exclude: m.Exclude, Gitignore: m.Gitignore})
		ctr = ctr.WithMountedDirectory(m.Path, dir, dagger.ContainerWithMountedDirectoryOpts{Owner: owner, ReadOnly: m.ReadOnly})
	}
	for _, c := range r.Caches {
		ctr = ctr.WithMountedCache(c.Path, e.client.CacheVolume(c.Key), dagger.ContainerWithMountedCacheOpts{Owner: owner})
	}
	for _, v := range r.Env {
		ctr = ctr.WithEnvVariable(v.Name, v.Value, dagger.ContainerWithEnvVariableOpts{Expand: v.Expand})
	}
	if r.Workdir != "" {
		ctr = ctr.WithWorkdir(r.Workdir)
	}
	return ctr, nil
}

// base returns the container of a base image: From for a registry reference, Import of the
// tarball for a docker-archive or (packed by convoy) an OCI layout.
func (e *Engine) base(b imageRef) (*dagger.Container, error) {
	switch b.Kind {
	case fromRegistry:
		if b.Pinned != "" {
			return e.client.Container().From(b.Pinned), nil
		}
		return e.client.Container().From(b.Ref), nil
	case fromDockerArchive:
		if _, err := os.Stat(b.Path); err != nil {
			return nil, fmt.Errorf("loading base image %q: %w", b.Ref, err)
		}
		return e.client.Container().Import(e.client.Host().File(b.Path), dagger.ContainerImportOpts{Tag: b.Tag}), nil
	case fromOCILayout:
		tarball, err := e.layoutTarball(b.Path)
		if err != nil {
			return nil, fmt.Errorf("loading base image %q: %w", b.Ref, err)
		}
		return e.client.Container().Import(e.client.Host().File(tarball), dagger.ContainerImportOpts{Tag: b.Tag}), nil
	}
	return nil, fmt.Errorf("loading base image %q: unknown kind %q", b.Ref, b.Kind)
}

// owner returns the user files and mounts of r must belong to: "" when its base image runs as
// root (Dagger's default owner), else that user, so that a non-root image can write its
// virtualenv, databases and cache.
func (e *Engine) owner(ctx context.Context, r *recipe) (string, error) {
	if len(r.Files)+len(r.Dirs)+len(r.Mounts)+len(r.Caches) == 0 {
		return "", nil
	}
	root := r.root()
	e.mu.Lock()
	u, ok := e.users[root.Base.Ref]
	e.mu.Unlock()
	if ok {
		return u, nil
	}
	c, err := e.base(root.Base)
	if err != nil {
		return "", err
	}
	u, err = c.User(ctx)
	if err != nil {
		return "", fmt.Errorf("reading the user of base image %q: %w", root.Base.Ref, err)
	}
	if isRoot(u) {
		u = ""
	}
	e.mu.Lock()
	e.users[root.Base.Ref] = u
	e.mu.Unlock()
	return u, nil
}

func isRoot(u string) bool {
	name, _, _ := strings.Cut(u, ":")
	return name == "" || name == "root" || name == "0"
}

// key identifies a recipe: the same key, the same container.
func (r *recipe) key() string {
	b, _ := json.Marshal(r)
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

func (e *Engine) remember(r *recipe, c *dagger.Container) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.done[r.key()] = c
}

func (e *Engine) lookup(r *recipe) (*dagger.Container, bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	c, ok := e.done[r.key()]
	return c, ok
}

// layoutTarball packs the OCI layout at dir into a tarball (once per engine) and returns its path.
func (e *Engine) layoutTarball(dir string) (string, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if p, ok := e.tarballs[dir]; ok {
		return p, nil
	}
	for _, name := range []string{"oci-layout", "index.json"} {
		if _, err := os.Stat(filepath.Join(dir, name)); err != nil {
			return "", fmt.Errorf("%q is not an OCI image layout: %w", dir, err)
		}
	}
	scratch, err := e.scratchLocked("base-")
	if err != nil {
		return "", err
	}
	f, err := os.Create(filepath.Join(scratch, "base.tar"))
	if err != nil {
		return "", err
	}
	if err := writeTar(f, dir); err != nil {
		f.Close()
		return "", fmt.Errorf("packing OCI layout %q: %w", dir, err)
	}
	if err := f.Close(); err != nil {
		return "", err
	}
	e.tarballs[dir] = f.Name()
	return f.Name(), nil
}

// writeTar writes the regular files and directories under dir to w as a tar archive with
// relative, sorted names and no host times or owners: the same directory gives the same bytes.
func writeTar(w io.Writer, dir string) error {
	var paths []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if p != dir && (d.IsDir() || d.Type().IsRegular()) {
			paths = append(paths, p)
		}
		return nil
	})
	if err != nil {
		return err
	}
	sort.Strings(paths)
	tw := tar.NewWriter(w)
	for _, p := range paths {
		rel, err := filepath.Rel(dir, p)
		if err != nil {
			return err
		}
		fi, err := os.Stat(p)
		if err != nil {
			return err
		}
		hdr := &tar.Header{Name: filepath.ToSlash(rel), Mode: 0o644, Format: tar.FormatPAX}
		if fi.IsDir() {
			hdr.Typeflag, hdr.Name, hdr.Mode = tar.TypeDir, hdr.Name+"/", 0o755
			if err := tw.WriteHeader(hdr); err != nil {
				return err
			}
			continue
		}
		hdr.Typeflag, hdr.Size = tar.TypeReg, fi.Size()
		if err := tw.WriteHeader(hdr); err != nil {
			return err
		}
		if err := copyFile(tw, p); err != nil {
			return err
		}
	}
	return tw.Close()
}

func copyFile(w io.Writer, p string) error {
	f, err := os.Open(p)
	if err != nil {
		return err
	}
	defer f.Close()
	_, err = io.Copy(w, f)
	return err
}
