package image

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/tarball"

	"github.com/convoy-ci/convoy/internal/filekind"
	"github.com/convoy-ci/convoy/python"
)

// BaseKind says where a base image is read from.
type BaseKind int

// The kinds of base image reference.
const (
	// FromRegistry is a registry reference such as python:3.11-slim.
	FromRegistry BaseKind = iota
	// FromOCILayout is oci-layout:PATH[:TAG], an OCI image layout on disk.
	FromOCILayout
	// FromDockerArchive is docker-archive:FILE[:REF], a `docker save` tarball.
	FromDockerArchive
)

const (
	ociLayoutPrefix     = "oci-layout:"
	dockerArchivePrefix = "docker-archive:"

	// LabelPythonVersion is the base image label that states its Python
	// version: the full one ("3.11.2"), or major.minor ("3.11") when its
	// environment's PYTHON_VERSION has the full one.
	LabelPythonVersion = "org.convoy.python.version"
	// LabelGlibc is the base image label that states its C library version
	// ("2.36"); it bounds the manylinux wheels installed for it.
	LabelGlibc = "org.convoy.glibc"
	// DefaultGlibc is assumed when a base image has no LabelGlibc label:
	// wheels up to manylinux_2_28 are accepted.
	DefaultGlibc = "2.28"
)

// Base is a parsed base image reference, as written in services.yaml's base:.
type Base struct {
	// Ref is the reference as written.
	Ref string
	// Kind says how to read it.
	Kind BaseKind
	// Path is the layout directory or archive file (FromOCILayout, FromDockerArchive).
	Path string
	// Tag picks an image inside a layout (its org.opencontainers.image.ref.name)
	// or an archive (its repo:tag); empty means the only image there.
	Tag string
}

// ParseBase parses a base image reference: a registry reference
// (python:3.11-slim), oci-layout:PATH[:TAG] or docker-archive:FILE[:REF]. As
// with skopeo, PATH and FILE end at their first colon.
func ParseBase(ref string) (Base, error) {
	for prefix, kind := range map[string]BaseKind{ociLayoutPrefix: FromOCILayout, dockerArchivePrefix: FromDockerArchive} {
		rest, ok := strings.CutPrefix(ref, prefix)
		if !ok {
			continue
		}
		path, tag, _ := strings.Cut(rest, ":")
		if path == "" {
			return Base{}, fmt.Errorf("parsing base image %q: no path after %q", ref, prefix)
		}
		if kind == FromDockerArchive && tag != "" {
			if _, err := name.NewTag(tag); err != nil {
				return Base{}, fmt.Errorf("parsing base image %q: %w", ref, err)
			}
		}
		return Base{Ref: ref, Kind: kind, Path: path, Tag: tag}, nil
	}
	if _, err := name.ParseReference(ref); err != nil {
		return Base{}, fmt.Errorf("parsing base image %q: %w", ref, err)
	}
	return Base{Ref: ref, Kind: FromRegistry}, nil
}

// String returns the reference as written.
func (b Base) String() string { return b.Ref }

// Image reads the base image's manifest and config (not its layers).
func (b Base) Image(ctx context.Context, opts ...Option) (v1.Image, error) {
	o := makeOptions(opts...)
	img, err := b.image(ctx, o)
	if err != nil {
		return nil, fmt.Errorf("loading base image %q: %w", b.Ref, err)
	}
	// Lazy images (tarballs) fail only when read: read now, so that the error
	// names the reference.
	if _, err := img.ConfigFile(); err != nil {
		return nil, fmt.Errorf("loading base image %q: reading its config: %w", b.Ref, err)
	}
	return img, nil
}

func (b Base) path(o options) string {
	if o.dir != "" && !filepath.IsAbs(b.Path) {
		return filepath.Join(o.dir, b.Path)
	}
	return b.Path
}

func (b Base) image(ctx context.Context, o options) (v1.Image, error) {
	switch b.Kind {
	case FromOCILayout:
		return layoutImage(b.path(o), b.Tag, o.platform)
	case FromDockerArchive:
		var tag *name.Tag
		if b.Tag != "" {
			t, err := name.NewTag(b.Tag)
			if err != nil {
				return nil, err
			}
			tag = &t
		}
		img, err := tarball.ImageFromPath(b.path(o), tag)
		if err != nil {
			return nil, fmt.Errorf("reading docker archive %q: %w", b.path(o), err)
		}
		return img, nil
	default:
		ref, err := name.ParseReference(b.Ref, o.nameOptions()...)
		if err != nil {
			return nil, err
		}
		return remote.Image(ref, o.remoteOptions(ctx)...)
	}
}

// Check checks what can be checked of the base without reading any image: an OCI layout is a
// directory holding oci-layout and index.json with the image Tag names (or exactly one), a
// docker archive is a regular file. Relative paths are taken from dir (the repository root). A
// registry reference is only parsed (ParseBase did): whether it answers is for the image stage.
func (b Base) Check(dir string) error {
	path := b.path(options{dir: dir})
	switch b.Kind {
	case FromOCILayout:
		st, err := os.Stat(path)
		if errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("OCI layout %q does not exist", path)
		}
		if err != nil {
			return fmt.Errorf("OCI layout %q: %w", path, err)
		}
		if !st.IsDir() {
			return fmt.Errorf("OCI layout %q is not a directory", path)
		}
		_, _, err = layoutDescriptor(path, b.Tag)
		return err
	case FromDockerArchive:
		st, err := os.Stat(path)
		if errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("docker archive %q does not exist", path)
		}
		if err != nil {
			return fmt.Errorf("docker archive %q: %w", path, err)
		}
		if !st.Mode().IsRegular() {
			return fmt.Errorf("docker archive %q is not a regular file (it is a %s)", path, filekind.Of(st.Mode()))
		}
	}
	return nil
}

// layoutDescriptor reads the OCI layout at dir and finds the descriptor tagged tag (or the only
// one there).
func layoutDescriptor(dir, tag string) (v1.ImageIndex, v1.Descriptor, error) {
	idx, err := readLayoutIndex(dir)
	if err != nil {
		return nil, v1.Descriptor{}, err
	}
	im, err := idx.IndexManifest()
	if err != nil {
		return nil, v1.Descriptor{}, fmt.Errorf("reading OCI layout %q: %w", dir, err)
	}
	var found []v1.Descriptor
	var tags []string
	for _, d := range im.Manifests {
		ref := d.Annotations[refNameAnnotation]
		tags = append(tags, ref)
		if tag == "" || ref == tag {
			found = append(found, d)
		}
	}
	switch {
	case len(found) == 0 && tag != "":
		return nil, v1.Descriptor{}, fmt.Errorf("OCI layout %q has no image tagged %q (it has %q)", dir, tag, tags)
	case len(found) == 0:
		return nil, v1.Descriptor{}, fmt.Errorf("OCI layout %q holds no image", dir)
	case len(found) > 1:
		return nil, v1.Descriptor{}, fmt.Errorf("OCI layout %q holds %d images tagged %q: name one as oci-layout:PATH:TAG", dir, len(found), tags)
	}
	return idx, found[0], nil
}

// layoutImage finds the image tagged tag (or the only one) in the OCI layout
// at dir, resolving a multi-platform index to platform.
func layoutImage(dir, tag string, platform v1.Platform) (v1.Image, error) {
	idx, d, err := layoutDescriptor(dir, tag)
	if err != nil {
		return nil, err
	}
	if d.MediaType.IsIndex() {
		child, err := idx.ImageIndex(d.Digest)
		if err != nil {
			return nil, err
		}
		cm, err := child.IndexManifest()
		if err != nil {
			return nil, err
		}
		for _, m := range cm.Manifests {
			if m.Platform != nil && m.Platform.Satisfies(platform) {
				return child.Image(m.Digest)
			}
		}
		return nil, fmt.Errorf("OCI layout %q: index %s has no image for %s", dir, d.Digest, platform)
	}
	return idx.Image(d.Digest)
}

// BaseImage is a loaded base image and what its config says about it.
type BaseImage struct {
	Base
	// Image is the image itself.
	Image v1.Image
	// Digest is its manifest digest: part of every input hash built on it.
	Digest v1.Hash
	// Python is the major.minor version of its Python ("3.11").
	Python string
	// PythonFull is the full version of its Python ("3.11.2"), from
	// LabelPythonVersion or PYTHON_VERSION; "" when they state major.minor
	// only. Dependencies are resolved for it (Target).
	PythonFull string
	// Glibc is the C library version wheels must be compatible with ("2.36").
	Glibc string
	// Platform is its OS and architecture.
	Platform v1.Platform
	// Env is its environment, KEY=VALUE.
	Env []string
	// User is the user it runs as ("" means root).
	User string
}

// LoadBase parses ref (see ParseBase), reads the image's manifest and config
// and inspects them. It fails when the config does not tell the image's Python
// version.
func LoadBase(ctx context.Context, ref string, opts ...Option) (*BaseImage, error) {
	b, err := ParseBase(ref)
	if err != nil {
		return nil, err
	}
	img, err := b.Image(ctx, opts...)
	if err != nil {
		return nil, err
	}
	digest, err := img.Digest()
	if err != nil {
		return nil, fmt.Errorf("loading base image %q: %w", ref, err)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return nil, fmt.Errorf("loading base image %q: %w", ref, err)
	}
	python, full, err := pythonVersion(cf.Config)
	if err != nil {
		return nil, fmt.Errorf("base image %q: %w", ref, err)
	}
	glibc := cf.Config.Labels[LabelGlibc]
	if glibc == "" {
		glibc = DefaultGlibc
	}
	if !regexp.MustCompile(`^2\.[0-9]+$`).MatchString(glibc) {
		return nil, fmt.Errorf("base image %q: label %s=%q is not a glibc version like 2.36", ref, LabelGlibc, glibc)
	}
	return &BaseImage{
		Base:       b,
		Image:      img,
		Digest:     digest,
		Python:     python,
		PythonFull: full,
		Glibc:      glibc,
		Platform:   v1.Platform{OS: cf.OS, Architecture: cf.Architecture, Variant: cf.Variant},
		Env:        cf.Config.Env,
		User:       cf.Config.User,
	}, nil
}

var (
	pythonVersionRE = regexp.MustCompile(`^([0-9]+\.[0-9]+)(\.[0-9]+.*)?$`)
	fullVersionRE   = regexp.MustCompile(`^[0-9]+\.[0-9]+\.[0-9]+$`)
)

// errNoPython says how to declare a base image's Python version.
var errNoPython = errors.New("its config does not say which Python it has: " +
	"set ENV PYTHON_VERSION=3.11.2 or LABEL " + LabelPythonVersion + "=3.11.2 in the base image")

// pythonVersion reads the Python version c states, in LabelPythonVersion
// and PYTHON_VERSION: its major.minor ("3.11") and, when either states it,
// its full version ("3.11.2"). The two must not disagree.
func pythonVersion(c v1.Config) (short, full string, err error) {
	stated := map[string]string{}
	if v := c.Labels[LabelPythonVersion]; v != "" {
		stated["label "+LabelPythonVersion] = v
	}
	if v := envValue(c.Env, "PYTHON_VERSION"); v != "" {
		stated["PYTHON_VERSION"] = v
	}
	if len(stated) == 0 {
		return "", "", errNoPython
	}
	var from string
	for _, where := range []string{"label " + LabelPythonVersion, "PYTHON_VERSION"} {
		v, ok := stated[where]
		if !ok {
			continue
		}
		m := pythonVersionRE.FindStringSubmatch(v)
		switch {
		case m == nil:
			return "", "", fmt.Errorf("its Python version %q (%s) is not like 3.11 or 3.11.9", v, where)
		case short != "" && m[1] != short:
			return "", "", fmt.Errorf("its %s says Python %s but its %s says %s", from, stated[from], where, v)
		case fullVersionRE.MatchString(v) && full != "" && v != full:
			return "", "", fmt.Errorf("its %s says Python %s but its %s says %s", from, stated[from], where, v)
		}
		if short == "" {
			short, from = m[1], where
		}
		if full == "" && fullVersionRE.MatchString(v) {
			full = v
		}
	}
	return short, full, nil
}

// Target is what the image's dependencies are resolved and installed for:
// its full Python version, architecture and glibc.
func (b *BaseImage) Target() (python.Target, error) {
	if b.PythonFull == "" {
		return python.Target{}, fmt.Errorf("base image %q states Python %s without its patch level: "+
			"set ENV PYTHON_VERSION=%s.N or LABEL %s=%s.N in it, so that dependencies are resolved for that interpreter",
			b.Ref, b.Python, b.Python, LabelPythonVersion, b.Python)
	}
	if b.Platform.OS != "linux" {
		return python.Target{}, fmt.Errorf("base image %q is for %s: only linux images are supported", b.Ref, b.Platform)
	}
	t, err := python.LinuxTarget(b.PythonFull, b.Platform.Architecture, b.Glibc)
	if err != nil {
		return python.Target{}, fmt.Errorf("base image %q (%s): %w", b.Ref, b.Platform, err)
	}
	return t, nil
}

func envValue(env []string, key string) string {
	for _, kv := range env {
		if k, v, ok := strings.Cut(kv, "="); ok && k == key {
			return v
		}
	}
	return ""
}
