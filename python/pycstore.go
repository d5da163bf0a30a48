package python

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/convoy-ci/convoy/internal/filelock"
)

// The bytecode store: every module of an image's site-packages compiled once per interpreter
// version, under CACHE/bytecode, and shared by every image dependency layer and every virtualenv
// that holds the same file at the same place — Django's 900 modules are compiled once, not once
// per image dependency layer (about 5 CPU-seconds each) and again by each new virtualenv's first
// test run (about 2.3).
//
// A stored .pyc is hash-based (PEP 552): valid for any file with the same content, wherever it
// is and whatever its modification time, its code naming the module's path as images have it
// (SitePackages/rel). Virtualenvs get the checked variant (the interpreter compares the source's
// hash, and recompiles a module edited in place); images the unchecked one (their files never
// change).

// pycFlags are the PEP 552 header flags of a hash-based .pyc: checked against the source, or not.
const (
	pycChecked   = 0b11
	pycUnchecked = 0b01
)

// module is one source file of a site-packages directory.
type module struct {
	src   string // its path on the host
	rel   string // slash-separated, relative to the site-packages directory
	dfile string // the path its code names: the image's (prefix/rel)
	key   string // its .pyc's name in the store
}

// pycKey names the bytecode of the source content that names itself dfile in the store.
func pycKey(dfile string, content []byte) string {
	h := sha256.New()
	fmt.Fprintf(h, "convoy-pyc-v1\n%s\x00", dfile)
	h.Write(content)
	return hex.EncodeToString(h.Sum(nil))
}

// cacheTag is sys.implementation.cache_tag of CPython version ("3.11" or "3.11.9"): cpython-311.
func cacheTag(version string) string {
	parts := strings.SplitN(version, ".", 3)
	if len(parts) < 2 {
		return "cpython-" + strings.Join(parts, "")
	}
	return "cpython-" + parts[0] + parts[1]
}

// modules lists the .py files under site (__pycache__ directories skipped), with their keys
// for the image path prefix (where site is in an image).
func modules(site, prefix string) ([]module, error) {
	var out []module
	err := filepath.WalkDir(site, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && d.Name() == "__pycache__" {
			return filepath.SkipDir
		}
		if !d.Type().IsRegular() || !strings.HasSuffix(d.Name(), ".py") {
			return nil
		}
		rel, err := filepath.Rel(site, p)
		if err != nil {
			return err
		}
		content, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		m := module{src: p, rel: filepath.ToSlash(rel)}
		m.dfile = path.Join(prefix, m.rel)
		m.key = pycKey(m.dfile, content)
		out = append(out, m)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("listing the modules of %s: %w", site, err)
	}
	return out, nil
}

// compileScript compiles the modules a JSON list in the file its argument names ([source, path in the
// image, .pyc to write]) into hash-based .pyc files, in parallel; a module that does not compile
// (Python 2 code shipped in a wheel, templates named .py) gets an empty file — the store's "does
// not compile", so that it is not tried again — and is left to the interpreter, as compileall
// leaves it.
const compileScript = `
import concurrent.futures, json, os, py_compile, sys
def one(job):
    src, dfile, out = job
    tmp = "%s.%d.tmp" % (out, os.getpid())
    try:
        py_compile.compile(src, cfile=tmp, dfile=dfile, doraise=True,
                           invalidation_mode=py_compile.PycInvalidationMode.CHECKED_HASH)
        os.replace(tmp, out)
    except Exception:
        open(tmp, "wb").close()
        os.replace(tmp, out)
with open(sys.argv[1]) as f:
    jobs = json.load(f)
if len(jobs) < 64:
    for j in jobs:
        one(j)
else:
    with concurrent.futures.ProcessPoolExecutor() as pool:
        list(pool.map(one, jobs, chunksize=32))
`

// fillStore compiles, with the interpreter python, the modules of mods the store dir lacks.
// One compiles at a time per store (others wait, then compile only what it did not), so that
// virtualenvs installed at once share the work. It returns how many it compiled.
func fillStore(ctx context.Context, python, dir string, mods []module, x Exec) (int, error) {
	if len(missing(dir, mods)) == 0 {
		return 0, nil
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return 0, fmt.Errorf("creating the bytecode store: %w", err)
	}
	unlock, err := filelock.Lock(ctx, dir+".lock")
	if err != nil {
		return 0, fmt.Errorf("waiting for the bytecode store: %w", err)
	}
	defer unlock()
	jobs := missing(dir, mods)
	if len(jobs) == 0 {
		return 0, nil
	}
	list, err := os.CreateTemp(dir, "jobs-*.json")
	if err != nil {
		return 0, fmt.Errorf("compiling to bytecode: %w", err)
	}
	defer os.Remove(list.Name())
	err = json.NewEncoder(list).Encode(jobs)
	if cerr := list.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return 0, fmt.Errorf("compiling to bytecode: %w", err)
	}
	x.Env, x.Log = bytecodeEnv(environ(x.Env)), nil // the script is no reading: errors say what failed
	if err := run(ctx, []string{python, "-c", compileScript, list.Name()}, x, nil); err != nil {
		return 0, fmt.Errorf("compiling %d modules to bytecode: %w", len(jobs), err)
	}
	return len(jobs), nil
}

// missing are the compile jobs ([source, path in the image, .pyc to write]) of the modules of
// mods the store dir has no entry for, each once.
func missing(dir string, mods []module) [][3]string {
	var jobs [][3]string
	seen := map[string]bool{}
	for _, m := range mods {
		out := filepath.Join(dir, m.key+".pyc")
		if seen[m.key] {
			continue
		}
		seen[m.key] = true
		if _, err := os.Stat(out); err != nil {
			jobs = append(jobs, [3]string{m.src, m.dfile, out})
		}
	}
	return jobs
}

// storeDir is the store's directory for the interpreter version (major.minor).
func (t *Tools) storeDir(version string) string {
	return filepath.Join(BytecodeDir(t.cacheDir), cacheTag(version))
}

// BytecodeDir is the bytecode store under the cache directory cacheDir: a directory per
// interpreter version ("cpython-311"), whose modification time is its last use (every use
// touches it), each guarded by a lock file beside it (its name and ".lock") while it is written.
func BytecodeDir(cacheDir string) string { return filepath.Join(cacheDir, "bytecode") }

// touch marks the store dir used now, for convoy cache prune.
func touch(dir string) {
	now := time.Now()
	_ = os.Chtimes(dir, now, now)
}

// placePyc puts the stored bytecode of m at dst with the header flags flags: a hard link to the
// store's file of those flags (the stored one, or its variant, which the store gets once) when
// the filesystem allows it, else a copy. A module the store has no bytecode for (not compiled
// yet, or it did not compile: an empty file) is skipped; it reports whether it placed one.
func placePyc(store string, m module, dst string, flags uint32) (bool, error) {
	src := filepath.Join(store, m.key+".pyc")
	st, err := os.Stat(src)
	if os.IsNotExist(err) || (err == nil && st.Size() == 0) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	if st.Size() < 16 {
		return false, fmt.Errorf("%s is not a .pyc", src)
	}
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return false, err
	}
	if flags != pycChecked {
		if src, err = pycVariant(src, flags); err != nil {
			return false, err
		}
	}
	if err := os.Link(src, dst); err == nil || os.IsExist(err) {
		return true, nil
	}
	data, err := os.ReadFile(src)
	if err != nil {
		return false, err
	}
	binary.LittleEndian.PutUint32(data[4:8], flags)
	return true, os.WriteFile(dst, data, 0o644)
}

// pycVariant returns the path of the stored .pyc src with the header flags flags, written into
// the store beside src (KEY.fN.pyc) when it is not there yet: each image dependency layer then
// links the same file where it wrote a copy of its own (about 1300 per Django layer).
func pycVariant(src string, flags uint32) (string, error) {
	v := strings.TrimSuffix(src, ".pyc") + ".f" + strconv.FormatUint(uint64(flags), 10) + ".pyc"
	if _, err := os.Stat(v); err == nil {
		return v, nil
	}
	data, err := os.ReadFile(src)
	if err != nil {
		return "", err
	}
	binary.LittleEndian.PutUint32(data[4:8], flags)
	tmp, err := os.CreateTemp(filepath.Dir(src), ".variant-*")
	if err != nil {
		return "", err
	}
	defer os.Remove(tmp.Name()) // fails harmlessly once renamed
	_, err = tmp.Write(data)
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Chmod(tmp.Name(), 0o644)
	}
	if err == nil {
		err = os.Rename(tmp.Name(), v) // a concurrent writer's is the same bytes
	}
	return v, err
}

// PlaceBytecode gives the modules of the virtualenv venv's site-packages the bytecode the store
// holds for them, where the stages' interpreters look for it (PYTHONPYCACHEPREFIX, PycacheDir):
// a new virtualenv's first test run does not compile Django again when an image (Bytecode) or an
// earlier run compiled it. prefix is where an image has the site-packages directory (stored
// bytecode names its modules there).
//
// With compile it first compiles, with venv's interpreter, every module the store lacks — what
// building the service's image does for its dependency layer anyway — so that this virtualenv,
// and every other one holding the same files, gets all of them: the gates' first Django
// processes then compile nothing. Worth it only when the image is built in the same run;
// otherwise compiling every module costs more than the interpreters compiling, lazily, the ones
// a service imports, so modules the store lacks are left to them. It reports how many modules
// it compiled and how many got bytecode.
func (t *Tools) PlaceBytecode(ctx context.Context, venv, prefix string, compile bool) (compiled, placed int, err error) {
	site, version, err := venvSite(venv)
	if err != nil {
		return 0, 0, fmt.Errorf("placing bytecode into virtualenv %s: %w", venv, err)
	}
	store := t.storeDir(version)
	if _, err := os.Stat(store); err != nil && !compile {
		return 0, 0, nil // an empty store: nothing to hash the modules for
	}
	mods, err := modules(site, prefix)
	if err != nil {
		return 0, 0, err
	}
	if compile {
		if compiled, err = fillStore(ctx, filepath.Join(venv, "bin", "python"), store, mods, Exec{}); err != nil {
			return compiled, 0, fmt.Errorf("compiling virtualenv %s: %w", venv, err)
		}
	}
	touch(store)
	tag := cacheTag(version)
	for _, m := range mods {
		ok, err := placePyc(store, m, pycachePath(venv, m.src, tag), pycChecked)
		if err != nil {
			return compiled, placed, fmt.Errorf("placing bytecode into virtualenv %s: %w", venv, err)
		}
		if ok {
			placed++
		}
	}
	return compiled, placed, nil
}

// venvSite returns the site-packages directory of the virtualenv venv and its Python version
// (major.minor).
func venvSite(venv string) (site, version string, err error) {
	sites, err := filepath.Glob(filepath.Join(venv, "lib", "python3.*", "site-packages"))
	if err != nil || len(sites) != 1 {
		return "", "", fmt.Errorf("want one lib/python3.*/site-packages, found %d", len(sites))
	}
	return sites[0], strings.TrimPrefix(filepath.Base(filepath.Dir(sites[0])), "python"), nil
}

// pycachePath is where an interpreter with the cache tag tag, run with PYTHONPYCACHEPREFIX
// set to venv's PycacheDir, looks for the bytecode of the source src (importlib's
// cache_from_source): the source's absolute directory under the prefix.
func pycachePath(venv, src, tag string) string {
	dir, file := filepath.Split(src)
	return filepath.Join(venv, PycacheDir, dir, strings.TrimSuffix(file, ".py")+"."+tag+".pyc")
}

// LinkStdlibBytecode gives the virtualenv venv's stage interpreters the bytecode their standard
// library was installed with: with PYTHONPYCACHEPREFIX set they look for every module's .pyc
// under the prefix only, so each new virtualenv's first process compiled the 200-odd standard
// modules Django imports again (about 0.7 CPU-seconds). It links each .pyc of the
// interpreter's standard library (its __pycache__ directories, but the test suites' and
// site-packages') where the prefix has it; a link is only read: an interpreter that finds it
// stale (the source changed) replaces the link with its own compilation. It reports how many
// it linked; an interpreter whose library has no bytecode gets none.
func LinkStdlibBytecode(ctx context.Context, venv string) (int, error) {
	var out strings.Builder
	py := filepath.Join(venv, "bin", "python")
	code := "import os, sys; print(sys.implementation.cache_tag); print(os.path.dirname(os.__file__))"
	if err := run(ctx, []string{py, "-I", "-S", "-c", code}, Exec{Env: []string{"LANG=C.UTF-8"}}, &out); err != nil {
		return 0, fmt.Errorf("asking %s where its standard library is: %w", py, err)
	}
	tag, stdlib, ok := strings.Cut(strings.TrimSpace(out.String()), "\n")
	if !ok || tag == "" || !filepath.IsAbs(stdlib) {
		return 0, fmt.Errorf("asking %s where its standard library is: got %q", py, out.String())
	}
	n := 0
	err := filepath.WalkDir(stdlib, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() {
			return nil
		}
		switch d.Name() {
		case "site-packages", "dist-packages", "test", "tests", "idlelib", "turtledemo":
			return filepath.SkipDir
		case "__pycache__":
			linked, err := linkPycacheDir(venv, p, tag)
			n += linked
			if err != nil {
				return err
			}
			return filepath.SkipDir
		}
		return nil
	})
	if err != nil {
		return n, fmt.Errorf("linking the standard library's bytecode into virtualenv %s: %w", venv, err)
	}
	return n, nil
}

// linkPycacheDir links the plain (not optimised) .pyc files of the interpreter with cache tag
// tag in the __pycache__ directory dir where venv's prefix has them.
func linkPycacheDir(venv, dir, tag string) (int, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return 0, err
	}
	n, suffix, made := 0, "."+tag+".pyc", false
	for _, e := range entries {
		mod, ok := strings.CutSuffix(e.Name(), suffix)
		if !ok || strings.Contains(mod, ".") || !e.Type().IsRegular() {
			continue // another interpreter's, or an optimised variant (.opt-1)
		}
		dst := pycachePath(venv, filepath.Join(filepath.Dir(dir), mod+".py"), tag)
		if !made {
			if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
				return n, err
			}
			made = true
		}
		if err := os.Symlink(filepath.Join(dir, e.Name()), dst); err != nil && !os.IsExist(err) {
			return n, err
		}
		n++
	}
	return n, nil
}
