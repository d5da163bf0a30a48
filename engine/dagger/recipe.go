package dagger

import (
	"fmt"
	"path/filepath"
	"time"

	"github.com/convoy-ci/convoy/image"
)

// Paths inside every container convoy runs. The service's source and libs are where its image
// has them (package image), so that a stage sees the layout of the image it gates; everything
// convoy adds for the gates lives under stateRoot.
const (
	// sourceRoot is the service's directory: the working directory of every stage.
	sourceRoot = image.SourceRoot
	// stateRoot holds what convoy adds to a gate container.
	stateRoot = "/convoy"
	// venvDir is the service's virtualenv (the local engine's .convoy/cache/venvs/...).
	venvDir = stateRoot + "/venv"
	// dbDir holds the SQLite databases of FreshDB stages.
	dbDir = stateRoot + "/db"
	// pipCacheDir is where the pip cache volume is mounted; PIP_CACHE_DIR points to it.
	pipCacheDir = stateRoot + "/cache/pip"
	// hostRoot is where host files named by inherited variables are mounted: a host path P
	// is at hostRoot+P and the variable is rewritten to say so.
	hostRoot = stateRoot + "/host"
	// containerHome is $HOME of every gate container: writable by whatever user the base image runs as.
	containerHome = "/tmp"
	// junitPath is where a stage's test runner writes its JUnit XML (recipe.JUnit), in containerHome
	// so that any user can.
	junitPath = containerHome + "/convoy-tests.junit.xml"
	// repoRoot is where the repository is mounted for the integration suite.
	repoRoot = "/repo"
	// resolveDir holds the files of an image stage's requirement resolution: the gated
	// virtualenv's versions (constraints), the requirement lines a tool prints, the resolved pins.
	resolveDir = stateRoot + "/resolve"
	// toolsDir holds the tools convoy provisions in a container (uv, poetry).
	toolsDir = stateRoot + "/tools"
	// uvCacheDir is where the uv cache volume is mounted; UV_CACHE_DIR points to it.
	uvCacheDir = stateRoot + "/cache/uv"
)

// pipCacheVolume is the name of the cache volume that keeps pip's downloads between runs.
const pipCacheVolume = "convoy-pip"

// uvCacheVolume is the name of the cache volume that keeps uv's downloads and metadata between
// runs.
const uvCacheVolume = "convoy-uv"

// poetryCacheDir is poetry's cache (POETRY_CACHE_DIR) in deps containers that run poetry.
const poetryCacheDir = stateRoot + "/cache/poetry"

// poetryCacheVolume is the cache volume mounted at PoetryCacheDir.
const poetryCacheVolume = "convoy-poetry"

// baseKind says where a base image comes from.
type baseKind string

// Kinds of base image reference (as in services.yaml's base:).
const (
	// fromRegistry is a registry reference such as python:3.11-slim, pulled with From.
	fromRegistry baseKind = "registry"
	// fromOCILayout is oci-layout:PATH[:TAG], an OCI image layout directory on the host; it is
	// packed into a tarball and loaded with Import, so it needs no registry.
	fromOCILayout baseKind = "oci-layout"
	// fromDockerArchive is docker-archive:FILE[:REF], a `docker save` tarball loaded with Import.
	fromDockerArchive baseKind = "docker-archive"
)

// imageRef is a parsed base image reference.
type imageRef struct {
	// Ref is the reference as written.
	Ref string `json:"ref"`
	// Kind says how the executor loads it.
	Kind baseKind `json:"kind"`
	// Path is the absolute host path of the layout or archive (FromOCILayout, FromDockerArchive).
	Path string `json:"path,omitempty"`
	// Tag picks one image in a layout (its org.opencontainers.image.ref.name) or an archive;
	// empty means the only one.
	Tag string `json:"tag,omitempty"`
	// Pinned, for a registry image, is REPO@sha256:… — the exact image to start from instead of
	// whatever Ref names now. Image recipes pin their base to the digest their input hash and
	// labels record.
	Pinned string `json:"pinned,omitempty"`
}

// parseBase parses a base image reference as services.yaml's base: takes it (image.parseBase:
// a registry reference, oci-layout:PATH[:TAG] or docker-archive:FILE[:REF]) and resolves a
// relative PATH or FILE against root, the repository.
func parseBase(ref, root string) (imageRef, error) {
	b, err := image.ParseBase(ref)
	if err != nil {
		return imageRef{}, err
	}
	out := imageRef{Ref: b.Ref, Tag: b.Tag}
	switch b.Kind {
	case image.FromRegistry:
		out.Kind = fromRegistry
		return out, nil
	case image.FromOCILayout:
		out.Kind = fromOCILayout
	case image.FromDockerArchive:
		out.Kind = fromDockerArchive
	default:
		return imageRef{}, fmt.Errorf("parsing base image %q: unknown kind %d", ref, b.Kind)
	}
	out.Path = b.Path
	if !filepath.IsAbs(out.Path) {
		out.Path = filepath.Join(root, filepath.FromSlash(out.Path))
	}
	out.Path = filepath.Clean(out.Path)
	return out, nil
}

// recipe is one container, as data: everything the executor needs to build it and run its
// execs. The zero value of every field means "nothing of that kind".
type recipe struct {
	// Service and Stage say what the recipe is for (logs, errors, cache keys).
	Service string `json:"service"`
	Stage   string `json:"stage"`
	// Base is the image the container starts from, unless From is set.
	Base imageRef `json:"base"`
	// From is the recipe whose resulting container this one continues (the deps stage's, for
	// the stages that need it). Base is then From's.
	From *recipe `json:"from,omitempty"`
	// Files are host files copied into the container: they become part of it (and of the
	// cache key of every exec after them).
	Files []fileCopy `json:"files,omitempty"`
	// Dirs are empty directories created first (before Files), owned by the container's user.
	Dirs []string `json:"dirs,omitempty"`
	// Unmount are mount points of an earlier recipe (From) — its mounts and cache volumes —
	// that this one does not keep: in Dagger a mount stays on a container until removed.
	Unmount []string `json:"unmount,omitempty"`
	// Mounts are host directories and files mounted for the execs; they are not part of the
	// container's filesystem.
	Mounts []mountSpec `json:"mounts,omitempty"`
	// Caches are cache volumes mounted for the execs.
	Caches []cacheVolume `json:"caches,omitempty"`
	// Unset are variables an earlier recipe (From) set that this one must not see.
	Unset []string `json:"unset,omitempty"`
	// Env is the environment convoy controls, sorted by name; the base image's own variables
	// are kept underneath it.
	Env []envVar `json:"env"`
	// Workdir is the working directory of the execs.
	Workdir string `json:"workdir"`
	// Execs run in order; the first that does not pass fails the recipe.
	Execs []execStep `json:"execs"`
	// Timeout bounds the recipe's execs (the stage's timeout).
	Timeout time.Duration `json:"timeout,omitempty"`
	// JUnit, when set, is the container file where the execs' test runner writes JUnit XML
	// (engine.WithJUnit); the engine exports it to Request.JUnit after them.
	JUnit string `json:"junit,omitempty"`
	// Offline says the stage asked for no network; Dagger gives every exec the container
	// network, so the executor can only say that it did not honour it.
	Offline bool `json:"offline,omitempty"`
}

// fileCopy is a host file copied into a container.
type fileCopy struct {
	// Host is the file's absolute path on the host.
	Host string `json:"host"`
	// Path is where it goes in the container.
	Path string `json:"path"`
	// Optional files that do not exist on the host are skipped (a lock file not committed).
	Optional bool `json:"optional,omitempty"`
	// Contents, when Host is empty, is the file's content.
	Contents string `json:"contents,omitempty"`
	// Executable makes the copy mode 0755 (the host's uv), whatever the host file's mode.
	Executable bool `json:"executable,omitempty"`
}

// mountSpec is a host directory (or file) mounted into a container.
type mountSpec struct {
	// Host is the absolute path on the host.
	Host string `json:"host"`
	// Path is the mount point in the container.
	Path string `json:"path"`
	// File is set when Host is a file rather than a directory.
	File bool `json:"file,omitempty"`
	// Include, when set, lists the only patterns of an uploaded directory that are uploaded.
	Include []string `json:"include,omitempty"`
	// Exclude lists patterns left out of an uploaded directory.
	Exclude []string `json:"exclude,omitempty"`
	// Gitignore applies the directory's .gitignore files to the upload.
	Gitignore bool `json:"gitignore,omitempty"`
	// ReadOnly mounts it read-only.
	ReadOnly bool `json:"read_only,omitempty"`
}

// cacheVolume is a cache volume: its content outlives the container and the run.
type cacheVolume struct {
	// Key names the volume on the engine.
	Key string `json:"key"`
	// Path is the mount point in the container.
	Path string `json:"path"`
}

// envVar is one environment variable of a container.
type envVar struct {
	Name  string `json:"name"`
	Value string `json:"value"`
	// Expand replaces ${VAR} in Value with the container's own value of VAR (for PATH, whose
	// tail is the base image's).
	Expand bool `json:"expand,omitempty"`
}

// execStep is one command run in a container.
type execStep struct {
	// Argv is the command, exactly as on the local engine.
	Argv []string `json:"argv"`
	// Stdout, when set, is the file in the container the command's standard output is written
	// to instead of the log (its standard error still goes to the log), as the local engine
	// captures the output of `pip freeze`.
	Stdout string `json:"stdout,omitempty"`
	// Step names an integration set-up exec as package integration names its steps: "migrate",
	// "populate" or "prestart" (for its *model.ServiceError and events).
	Step string `json:"step,omitempty"`
}

// envMap returns the recipe's environment as a map (values unexpanded).
func (r recipe) envMap() map[string]string {
	m := make(map[string]string, len(r.Env))
	for _, e := range r.Env {
		m[e.Name] = e.Value
	}
	return m
}

// root returns the first recipe of r's From chain: the one that names the base image.
func (r *recipe) root() *recipe {
	for r.From != nil {
		r = r.From
	}
	return r
}
