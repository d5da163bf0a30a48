package dagger

import (
	"fmt"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"

	"github.com/convoy-ci/convoy/engine"
	"github.com/convoy-ci/convoy/image"
	"github.com/convoy-ci/convoy/pipeline/config"
	"github.com/convoy-ci/convoy/python"
	"github.com/convoy-ci/convoy/stages"
)

// sourceExclude is left out of every uploaded source or lib directory: VCS metadata and Python
// bytecode, which no stage reads (stages keep theirs under the virtualenv: python.StageEnv).
var sourceExclude = []string{".git", "**/__pycache__", "**/*.pyc", ".pytest_cache"}

// defaultBaseImage is the base image of a service whose services.yaml names none: the official
// slim Python image of its version.
func defaultBaseImage(python string) string { return "python:" + python + "-slim" }

// translator turns convoy's plan into recipes. The zero translator reads the host's own
// environment; its fields replace that for tests and embedding.
type translator struct {
	// LookupEnv reads the host variables that stages asking for HostNetEnv inherit
	// (default os.LookupEnv).
	LookupEnv func(string) (string, bool)
	// Environ lists the host's variables, to find PIP_* ones (default os.Environ).
	Environ func() []string
	// DefaultBase names the base image of services without base: (default python:VERSION-slim).
	DefaultBase func(python string) string
	// UV is the host's uv binary (python.Tools.UV), copied into every container that runs uv
	// at python.UVBin(toolsDir/uv-UVVersion): the containers need no pip and no index to get
	// their installer. It must run on the engine's platform (a static-enough Linux binary of
	// the engine's architecture, as the uv wheel for the host is when both are linux/amd64).
	UV string
	// DepsStage, when set, returns the deps stage that installed svc's environment in this run
	// (a release installs the lockfile: stages.Frozen), so that every later container of svc
	// continues that one. Without it, or when it reports none, the deps stage of
	// stages.ForService is assumed.
	DepsStage func(svc *config.Service) (stages.Stage, bool)
}

func (t translator) lookupEnv(k string) (string, bool) {
	if t.LookupEnv != nil {
		return t.LookupEnv(k)
	}
	return os.LookupEnv(k)
}

func (t translator) environ() []string {
	if t.Environ != nil {
		return t.Environ()
	}
	return os.Environ()
}

// imageOf returns the parsed base image of svc.
func (t translator) imageOf(cfg *config.Config, svc *config.Service) (imageRef, error) {
	ref := svc.Base
	if ref == "" {
		def := defaultBaseImage
		if t.DefaultBase != nil {
			def = t.DefaultBase
		}
		ref = def(svc.Python)
	}
	b, err := parseBase(ref, cfg.Root)
	if err != nil {
		return imageRef{}, fmt.Errorf("base image of %q: %w", svc.Name, err)
	}
	return b, nil
}

// stage returns the recipe of stage st of svc. KindDeps stages start from the base image and
// leave the service's environment — its virtualenv — behind them; KindProcess stages continue
// from the deps stage's container with the source mounted. Either way the execs are st.Commands,
// argv for argv.
func (t translator) stage(cfg *config.Config, svc *config.Service, st stages.Stage) (recipe, error) {
	switch st.Kind {
	case stages.KindDeps:
		return t.deps(cfg, svc, st)
	case stages.KindProcess:
		return t.process(cfg, svc, st)
	}
	if st.Kind == stages.KindImage || st.Kind == stages.KindLayer {
		return recipe{}, fmt.Errorf("stage %q of %q: an image or layer stage is not one container: Engine.Run resolves its requirements in the gated container and builds on the host", st.Name, svc.Name)
	}
	return recipe{}, fmt.Errorf("stage %q of %q: the dagger engine runs no stage of this kind", st.Name, svc.Name)
}

// prepared returns the recipe of svc's environment — its deps stage — whatever stage of the plan
// installs it: every later container of the service starts from it.
func (t translator) prepared(cfg *config.Config, svc *config.Service) (recipe, error) {
	st, err := t.depsStage(svc)
	if err != nil {
		return recipe{}, err
	}
	return t.deps(cfg, svc, st)
}

// depsStage is the stage that installs svc's environment in this run (DepsStage), else the
// deps stage of stages.ForService.
func (t translator) depsStage(svc *config.Service) (stages.Stage, error) {
	if t.DepsStage != nil {
		if st, ok := t.DepsStage(svc); ok {
			return st, nil
		}
	}
	for _, st := range stages.ForService(svc) {
		if st.Kind == stages.KindDeps {
			return st, nil
		}
	}
	return stages.Stage{}, fmt.Errorf("service %q has no deps stage", svc.Name)
}

// deps translates the stage that creates the virtualenv and installs the dependencies into it.
// Only the files the service's tool installs from (python.Tool.Inputs) are copied in, so that
// the container — Dagger's cache key for the install — changes when they do and not when the
// source does, like the local engine's virtualenv, keyed by the same files.
func (t translator) deps(cfg *config.Config, svc *config.Service, st stages.Stage) (recipe, error) {
	if st.Err != nil {
		return recipe{}, st.Err
	}
	base, err := t.imageOf(cfg, svc)
	if err != nil {
		return recipe{}, err
	}
	tool, p := svc.Tool(), svc.Project()
	if _, err := os.Stat(hostPath(p, tool.Spec(p))); err != nil {
		return recipe{}, fmt.Errorf("reading dependency spec of %q: %w", svc.Name, err)
	}
	inputs := tool.Inputs(p)
	dir := projectDir(p, inputs)
	r := recipe{
		Service: svc.Name, Stage: st.Name, Base: base,
		Dirs:    []string{venvDir},
		Workdir: dir,
		Timeout: st.Timeout,
		Offline: st.Offline,
	}
	// Where the stage's argv expects them; only the spec must exist.
	for i, in := range inputs {
		r.Files = append(r.Files, fileCopy{Host: hostPath(p, in), Path: inputPath(p, dir, in), Optional: i > 0})
	}
	for _, in := range st.Inputs { // named relative to the service's directory
		r.Files = append(r.Files, fileCopy{Host: hostPath(p, in), Path: path.Join(dir, python.RelativeTo(p.Dir, in))})
	}
	env, mounts := t.env(cfg, svc, st)
	r.Files = append(r.Files, scratchFiles(svc, st, env)...)
	if len(st.Scratch) > 0 || len(st.ScratchFiles) > 0 {
		r.Dirs = append(r.Dirs, scratchDir(tool)) // the tool writes there (pipenv its lock)
	}
	if st.InScratch {
		r.Workdir = scratchDir(tool)
	}
	for _, k := range st.VenvVars {
		env[k] = venvDir
	}
	if st.HostNetEnv {
		env["PIP_CACHE_DIR"] = pipCacheDir
		r.Caches = []cacheVolume{{Key: pipCacheVolume, Path: pipCacheDir}}
	}
	uv, poetry := "", ""
	if usesUV(st) {
		uv = t.withUV(&r, env)
	}
	if python.UsesProgram(st.Commands, python.PoetryProgram) {
		poetry = withPoetry(&r, env, uv, "python"+svc.Python)
	}
	if st.Libs {
		mounts = append(mounts, libsInPlace(svc)...)
	}
	r.Mounts = mounts
	r.Env = envList(env)
	r.Execs = append(r.Execs, execStep{Argv: python.VenvArgv(st.Installer, uv, "python"+svc.Python, venvDir)})
	for _, argv := range st.Commands {
		argv = python.ResolvePoetry(python.ResolveUV(argv, uv), poetry)
		r.Execs = append(r.Execs, execStep{Argv: append([]string(nil), argv...)})
	}
	return r, nil
}

// libsInPlace mounts svc's libs where the repository has them relative to its directory, as
// seen from sourceRoot ("../../libs/kit" of services/web: /libs/kit), for a deps stage whose
// commands read them there (stages.Stage.Libs: poetry's path dependencies).
func libsInPlace(svc *config.Service) []mountSpec {
	var mounts []mountSpec
	for _, lib := range svc.Libs {
		rel, err := filepath.Rel(filepath.FromSlash(svc.Path), filepath.FromSlash(lib.Path))
		if err != nil {
			continue // both are relative to the repository root: never
		}
		mounts = append(mounts, mountSpec{Host: lib.Dir, Path: path.Join(sourceRoot, filepath.ToSlash(rel)), Exclude: sourceExclude})
	}
	return mounts
}

// scratchDir is the scratch directory of tool's files (python.Installation.Scratch) in a
// service's containers, named after the tool as on the local engine: the tool never writes
// into the source tree.
func scratchDir(tool python.Tool) string { return path.Join(stateRoot, tool.Name()) }

// scratchFiles are the copies of deps stage st's scratch files (the first one required), with
// st's ScratchVars set in env to where they are.
func scratchFiles(svc *config.Service, st stages.Stage, env map[string]string) []fileCopy {
	tool, p := svc.Tool(), svc.Project()
	var files []fileCopy
	for i, f := range st.Scratch {
		files = append(files, fileCopy{Host: hostPath(p, f), Path: path.Join(scratchDir(tool), path.Base(f)), Optional: i > 0})
	}
	for k, base := range st.ScratchVars {
		env[k] = path.Join(scratchDir(tool), base)
	}
	names := make([]string, 0, len(st.ScratchFiles))
	for name := range st.ScratchFiles {
		names = append(names, name)
	}
	sort.Strings(names) // recipes are compared and hashed: one order
	for _, name := range names {
		files = append(files, fileCopy{Path: path.Join(scratchDir(tool), name), Contents: st.ScratchFiles[name]})
	}
	return files
}

// hostPath is where the repository-relative file rel of p is on the host.
func hostPath(p python.Project, rel string) string {
	return filepath.Join(p.Root, filepath.FromSlash(rel))
}

// projectDir is where the deps stage of p places its tool's inputs and runs its commands, and
// where the image stage runs the tool's runtime command: sourceRoot, unless an input is outside
// the service's directory (a uv workspace's root pyproject.toml and lock) — then the service's
// directory under repoRoot, the inputs keeping the repository's layout there, so that a tool
// that looks for its workspace from the service's directory up finds it.
func projectDir(p python.Project, inputs []string) string {
	for _, in := range inputs {
		if _, ok := serviceRel(p, in); !ok {
			return path.Join(repoRoot, p.Dir)
		}
	}
	return sourceRoot
}

// inputPath is where the repository-relative input rel of p is in a deps container whose
// project directory is dir (projectDir).
func inputPath(p python.Project, dir, rel string) string {
	if dir == sourceRoot {
		return containerPath(p, rel)
	}
	return path.Join(repoRoot, rel)
}

// containerPath is where the repository-relative file rel of p is in a container: under
// sourceRoot when it is in the service's directory, else under repoRoot.
func containerPath(p python.Project, rel string) string {
	if r, ok := serviceRel(p, rel); ok {
		return path.Join(sourceRoot, r)
	}
	return path.Join(repoRoot, rel)
}

// serviceRel is rel relative to p's directory, when it is inside it.
func serviceRel(p python.Project, rel string) (string, bool) {
	if p.Dir == "." {
		return rel, !strings.HasPrefix(rel, "../")
	}
	r, ok := strings.CutPrefix(rel, p.Dir+"/")
	return r, ok
}

// usesUV says whether deps stage st creates or fills the virtualenv with uv, or provisions
// poetry with it.
func usesUV(st stages.Stage) bool {
	return st.Installer == python.InstallerUV || python.UsesUV(st.Commands) || python.UsesProgram(st.Commands, python.PoetryProgram)
}

// withUV makes recipe r copy the host's uv (translator.UV) into toolsDir, gives env uv's
// settings (python.UVEnv: its cache volume, the PIP_* index settings as uv's; files copied from
// the volume, which is another filesystem) and returns the uv binary's path in the container.
func (t translator) withUV(r *recipe, env map[string]string) string {
	bin := python.UVBin(path.Join(toolsDir, "uv-"+python.UVVersion))
	r.Files = append(r.Files, fileCopy{Host: t.UV, Path: bin, Executable: true})
	r.Caches = append(r.Caches, cacheVolume{Key: uvCacheVolume, Path: uvCacheDir})
	kvs := make([]string, 0, len(env))
	for k, v := range env {
		kvs = append(kvs, k+"="+v)
	}
	for k, v := range python.UVEnv(uvCacheDir, kvs) {
		env[k] = v
	}
	env["UV_LINK_MODE"] = "copy"
	return bin
}

// withPoetry makes deps recipe r provision poetry PoetryVersion into toolsDir with the uv at
// uv (python.PoetryProvisionArgv, as Tools does on the host), gives env poetry's settings
// (python.PoetryEnv: its cache volume) and returns poetry's path in the container, where the
// image stage's requirements recipe, which continues this container, finds it too
// (poetryBin).
func withPoetry(r *recipe, env map[string]string, uv, interp string) string {
	r.Caches = append(r.Caches, cacheVolume{Key: poetryCacheVolume, Path: poetryCacheDir})
	for k, v := range python.PoetryEnv(poetryCacheDir) {
		env[k] = v
	}
	for _, argv := range python.PoetryProvisionArgv(uv, interp, poetryDir) {
		r.Execs = append(r.Execs, execStep{Argv: argv})
	}
	return python.PoetryBin(poetryDir)
}

// poetryDir is where deps recipes provision poetry.
var poetryDir = path.Join(toolsDir, "poetry-"+python.PoetryVersion)

// process translates a stage that runs commands in the service's environment: the deps
// container with the service's source and libs mounted where its image has them.
func (t translator) process(cfg *config.Config, svc *config.Service, st stages.Stage) (recipe, error) {
	prep, err := t.prepared(cfg, svc)
	if err != nil {
		return recipe{}, err
	}
	srcMounts, err := sourceMounts(cfg, svc)
	if err != nil {
		return recipe{}, err
	}
	junit := ""
	if st.Counts != nil && st.Counts.JUnitEnv != nil {
		junit, st = junitPath, engine.WithJUnit(st, junitPath)
	}
	env, hostMounts := t.env(cfg, svc, st)
	r := recipe{
		Service: svc.Name, Stage: st.Name, Base: prep.Base, From: &prep, JUnit: junit,
		Mounts:  append(srcMounts, hostMounts...),
		Env:     envList(env),
		Workdir: sourceRoot,
		Timeout: st.Timeout,
		Offline: st.Offline,
	}
	if st.FreshDB {
		r.Dirs = []string{dbDir}
	}
	for _, argv := range st.Commands {
		r.Execs = append(r.Execs, execStep{Argv: append([]string(nil), argv...)})
	}
	r.Unset, r.Unmount = leftovers(&prep, &r)
	return r, nil
}

// sourceMounts mounts svc's directory at sourceRoot and each of its libs at image.LibsRoot/NAME, where
// its image has them.
func sourceMounts(cfg *config.Config, svc *config.Service) ([]mountSpec, error) {
	mounts := []mountSpec{{Host: svc.Dir, Path: sourceRoot, Exclude: sourceExclude}}
	seen := map[string]string{}
	for _, lib := range svc.Libs {
		p := libPath(lib)
		if other, dup := seen[p]; dup {
			return nil, fmt.Errorf("service %q: libs %q and %q would both be %s", svc.Name, other, lib.Path, p)
		}
		seen[p] = lib.Path
		mounts = append(mounts, mountSpec{Host: lib.Dir, Path: p, Exclude: sourceExclude})
	}
	return mounts, nil
}

// libPath is where a lib is in a container: where its image has it.
func libPath(lib config.Lib) string { return image.LibPath(lib.Name()) }

// env builds a stage's environment by the local engine's rules, with container paths: PATH with
// the virtualenv's bin first (then the base image's PATH), HOME, VIRTUAL_ENV, PYTHONPATH (the
// service and its libs' import roots, config.Lib.ImportRoot), the fixed Python settings,
// CONVOY_SERVICE and CONVOY_STAGE; the host's proxy, CA-bundle and PIP_* variables for
// HostNetEnv stages; the service's database variable (config.Service.DatabaseEnv) for FreshDB stages; then the service's env and the stage's,
// which win. A host variable whose value is an absolute path that exists on the host (a CA
// bundle, a wheel directory) is rewritten to where that path is mounted, HostRoot+path, and the
// mount is returned.
func (t translator) env(cfg *config.Config, svc *config.Service, st stages.Stage) (map[string]string, []mountSpec) {
	pyPath := append([]string{sourceRoot}, svc.ImportRoots(libPath)...)
	env := python.StageEnv(venvDir, containerHome, "${PATH}", pyPath)
	env["CONVOY_SERVICE"], env["CONVOY_STAGE"] = svc.Name, st.Name
	var mounts []mountSpec
	if st.HostNetEnv {
		var net map[string]string
		net, mounts = t.downloadEnv()
		for k, v := range net {
			env[k] = v
		}
	}
	if st.FreshDB {
		env[svc.DatabaseEnv()] = "sqlite:///" + path.Join(dbDir, st.Name+".sqlite3")
	}
	for k, v := range svc.Env {
		env[k] = v
	}
	for k, v := range st.Env {
		env[k] = v
	}
	return env, dedupMounts(mounts)
}

// downloadEnv returns the host variables a container that downloads packages inherits — the
// proxy, CA-bundle and PIP_* ones — and the read-only mounts of the host paths they name, each
// variable rewritten to where its path is mounted (HostRoot+path).
func (t translator) downloadEnv() (map[string]string, []mountSpec) {
	env := map[string]string{}
	var mounts []mountSpec
	inherit := func(k string) {
		v, ok := t.lookupEnv(k)
		if !ok {
			return
		}
		if m, ok := hostPathMount(v); ok {
			mounts = append(mounts, m)
			v = m.Path
		}
		env[k] = v
	}
	for _, k := range python.HostNetVars {
		inherit(k)
	}
	for _, kv := range t.environ() {
		if k, _, _ := strings.Cut(kv, "="); strings.HasPrefix(k, "PIP_") {
			inherit(k)
		}
	}
	return env, dedupMounts(mounts)
}

// hostPathMount returns the read-only mount that makes host path v visible in a container, when
// v is an absolute path that exists on the host.
func hostPathMount(v string) (mountSpec, bool) {
	if !filepath.IsAbs(v) || strings.ContainsRune(v, filepath.ListSeparator) {
		return mountSpec{}, false
	}
	fi, err := os.Stat(v)
	if err != nil {
		return mountSpec{}, false
	}
	return mountSpec{Host: filepath.Clean(v), Path: hostRoot + filepath.ToSlash(filepath.Clean(v)), File: !fi.IsDir(), ReadOnly: true}, true
}

// dedupMounts drops repeated mounts of the same host path (PIP_CERT and SSL_CERT_FILE naming the
// same bundle), keeping the order.
func dedupMounts(ms []mountSpec) []mountSpec {
	seen := map[string]bool{}
	var out []mountSpec
	for _, m := range ms {
		if !seen[m.Path] {
			seen[m.Path] = true
			out = append(out, m)
		}
	}
	return out
}

// envList turns an environment map into EnvVars sorted by name; PATH expands ${PATH}.
func envList(env map[string]string) []envVar {
	out := make([]envVar, 0, len(env))
	for k, v := range env {
		out = append(out, envVar{Name: k, Value: v, Expand: k == "PATH" && strings.Contains(v, "${PATH}")})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// leftovers returns the variables the chain of from sets that r does not, and the mount points
// of from's mounts and caches r does not mount again: r must remove both so that it sees only
// its own.
func leftovers(from, r *recipe) (unset, unmount []string) {
	own := r.envMap()
	ownMounts := map[string]bool{}
	for _, m := range r.Mounts {
		ownMounts[m.Path] = true
	}
	for _, c := range r.Caches {
		ownMounts[c.Path] = true
	}
	seenEnv, seenMount := map[string]bool{}, map[string]bool{}
	for f := from; f != nil; f = f.From {
		for _, e := range f.Env {
			if _, ok := own[e.Name]; !ok && !seenEnv[e.Name] {
				seenEnv[e.Name] = true
				unset = append(unset, e.Name)
			}
		}
		points := make([]string, 0, len(f.Mounts)+len(f.Caches))
		for _, m := range f.Mounts {
			points = append(points, m.Path)
		}
		for _, c := range f.Caches {
			points = append(points, c.Path)
		}
		for _, p := range points {
			if !ownMounts[p] && !seenMount[p] {
				seenMount[p] = true
				unmount = append(unmount, p)
			}
		}
	}
	sort.Strings(unset)
	sort.Strings(unmount)
	return unset, unmount
}
