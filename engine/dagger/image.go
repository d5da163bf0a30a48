package dagger

import (
	"archive/tar"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"dagger.io/dagger"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"

	"github.com/convoy-ci/convoy/image"
	"github.com/convoy-ci/convoy/python"
)

// ImageRecipe is a service's image, as data: the same image package image.Build assembles
// without a daemon — base, a layer of pinned dependencies in SitePackages, the source in
// SourceRoot and the libs in LibsRoot, and the same configuration and labels — to be assembled
// by a Dagger engine instead.
type ImageRecipe struct {
	// Service is the image's service (its title).
	Service string `json:"service"`
	// Base is the image it starts from.
	Base Base `json:"base"`
	// Requirements are the pinned requirement lines installed into SitePackages, sorted.
	Requirements []string `json:"requirements,omitempty"`
	// Install is the argv that installs Requirements (read from RequirementsFile) in a
	// builder container made from Base.
	Install []string `json:"install,omitempty"`
	// BuildEnv is the builder container's share of the host's environment: the proxy,
	// CA-bundle and PIP_* variables the deps stage inherits, so that pip reaches the same
	// package index. BuildMounts are the host files they name. Neither reaches the image.
	BuildEnv    []EnvVar `json:"build_env,omitempty"`
	BuildMounts []Mount  `json:"build_mounts,omitempty"`
	// Sources are the host directories copied into the image, the service then its libs, each
	// with exactly the files image.SourceFiles lists as its Include.
	Sources []Mount `json:"sources"`
	// Created is the time of the image's files and its created label, as seconds since the epoch.
	Created int64 `json:"created"`
	// Env is set on top of the base image's environment.
	Env []EnvVar `json:"env"`
	// Workdir is the image's working directory.
	Workdir string `json:"workdir"`
	// Cmd is the command the image runs (it has no entrypoint).
	Cmd []string `json:"cmd"`
	// User is the user the image runs as.
	User string `json:"user"`
	// Port is exposed (tcp) when non-zero.
	Port int `json:"port,omitempty"`
	// Healthcheck is the Docker health check command (CMD form), if any.
	Healthcheck []string `json:"healthcheck,omitempty"`
	// Labels are set on the image.
	Labels map[string]string `json:"labels"`
	// DropLabels are labels of the base image the image must not inherit.
	DropLabels []string `json:"drop_labels,omitempty"`
	// DropPorts are ports ("8080/tcp") the base image exposes and the image must not.
	DropPorts []string `json:"drop_ports,omitempty"`
}

// RequirementsFile is where an image build's pinned requirements are written in the builder.
const RequirementsFile = StateRoot + "/requirements.txt"

// Image translates spec — the same image.Spec image.Build takes — into an ImageRecipe whose
// configuration and labels are those image.Build would give: root resolves relative oci-layout:
// and docker-archive: base references. spec.Base must be loaded (image.LoadBase): its digest,
// user, environment, labels and exposed ports decide the configuration.
func (t Translator) Image(spec image.Spec, root string) (ImageRecipe, error) {
	r, err := t.image(spec, root)
	if err != nil {
		return ImageRecipe{}, fmt.Errorf("translating the image of %q: %w", spec.Service, err)
	}
	return r, nil
}

func (t Translator) image(s image.Spec, root string) (ImageRecipe, error) {
	if s.Base == nil {
		return ImageRecipe{}, errors.New("no base image (load it with image.LoadBase)")
	}
	// The configuration is package image's own: image.Build assembles the image without its
	// dependency layer (no pip runs) and the recipe sets what that image's config says.
	cfgSpec := s
	cfgSpec.Requirements, cfgSpec.CacheDir, cfgSpec.Log = nil, "", nil
	img, err := image.Build(context.Background(), cfgSpec)
	if err != nil {
		return ImageRecipe{}, err
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return ImageRecipe{}, fmt.Errorf("reading the configuration of the image: %w", err)
	}
	base, err := ParseBase(s.Base.Ref, root)
	if err != nil {
		return ImageRecipe{}, err
	}
	base.Pinned = pinnedRef(base, s.Base.Digest)
	created := s.Git.Created
	if created.IsZero() {
		created = time.Unix(0, 0)
	}
	created = created.UTC().Truncate(time.Second)
	r := ImageRecipe{Service: s.Service, Base: base, Created: created.Unix(), Port: s.Port}

	r.Requirements = requirements(s.Requirements)
	if len(r.Requirements) > 0 {
		// The builder is made from the base image: its own pip puts them in place for its own Python.
		r.Install = python.PipInstallArgv("python3", SitePackages, RequirementsFile)
		env, mounts := t.downloadEnv()
		delete(env, "PIP_CACHE_DIR") // the builder's is the cache volume, as the deps stage's
		if len(env) > 0 {
			r.BuildEnv = envList(env)
		}
		r.BuildMounts = mounts
	}

	if r.Sources, err = sourceCopies(s.Source); err != nil {
		return ImageRecipe{}, err
	}

	baseCfg := v1.Config{}
	if s.Base.Image != nil {
		bcf, err := s.Base.Image.ConfigFile()
		if err != nil {
			return ImageRecipe{}, fmt.Errorf("reading base image %q: %w", s.Base.Ref, err)
		}
		baseCfg = bcf.Config
	}
	c := cf.Config
	for _, kv := range c.Env {
		k, v, _ := strings.Cut(kv, "=")
		r.Env = append(r.Env, EnvVar{Name: k, Value: v})
	}
	r.Cmd, r.Workdir, r.User, r.Labels = c.Cmd, c.WorkingDir, c.User, map[string]string{}
	if len(c.Entrypoint) > 0 {
		return ImageRecipe{}, fmt.Errorf("package image gave the image an entrypoint %q: the dagger engine sets none", c.Entrypoint)
	}
	for p := range baseCfg.ExposedPorts {
		if _, ok := c.ExposedPorts[p]; !ok {
			r.DropPorts = append(r.DropPorts, p)
		}
	}
	sort.Strings(r.DropPorts)
	for k := range baseCfg.Labels {
		if _, ok := c.Labels[k]; !ok {
			r.DropLabels = append(r.DropLabels, k)
		}
	}
	sort.Strings(r.DropLabels)
	for k, v := range c.Labels {
		r.Labels[k] = v
	}
	if hc := c.Healthcheck; hc != nil && len(hc.Test) > 0 {
		if hc.Test[0] != "CMD" {
			return ImageRecipe{}, fmt.Errorf("package image gave the image a %s health check: the dagger engine sets CMD ones only", hc.Test[0])
		}
		r.Healthcheck = append([]string(nil), hc.Test[1:]...)
	}
	return r, nil
}

// pinnedRef returns REPO@digest for a registry base whose digest is known, else "": the image
// is then built on the base its input hash names even if the tag has moved since.
func pinnedRef(b Base, digest v1.Hash) string {
	if b.Kind != FromRegistry || digest.Hex == "" {
		return ""
	}
	ref, err := name.ParseReference(b.Ref)
	if err != nil {
		return ""
	}
	return ref.Context().Digest(digest.String()).String()
}

// requirements trims, drops blanks and comments, de-duplicates and sorts pinned requirement lines.
func requirements(reqs []string) []string {
	seen := map[string]bool{}
	var out []string
	for _, r := range reqs {
		r = strings.TrimSpace(r)
		if r == "" || strings.HasPrefix(r, "#") || seen[r] {
			continue
		}
		seen[r] = true
		out = append(out, r)
	}
	sort.Strings(out)
	return out
}

// sourceCopies describes copying src's files into an image: exactly those image.SourceFiles
// lists — the files package image puts in its source layer and hashes — each tree uploaded
// with its files as the only Include patterns. A tree with no file is not copied.
func sourceCopies(src image.Source) ([]Mount, error) {
	trees, err := image.SourceFiles(src)
	if err != nil {
		return nil, err
	}
	var out []Mount
	for _, t := range trees {
		if len(t.Files) == 0 {
			continue // no Include would mean everything
		}
		abs, err := filepath.Abs(t.Dir)
		if err != nil {
			return nil, err
		}
		m := Mount{Host: abs, Path: t.Path}
		for _, f := range t.Files {
			m.Include = append(m.Include, literalPattern(f.Rel))
		}
		out = append(out, m)
	}
	return out, nil
}

// literalPattern is a pattern (github.com/moby/patternmatcher, as Dagger's uploads use) that
// matches the path rel and nothing else: its metacharacters, and a leading !, escaped.
func literalPattern(rel string) string {
	var b strings.Builder
	for i, c := range rel {
		if strings.ContainsRune(`\*?[`, c) || (i == 0 && c == '!') {
			b.WriteByte('\\')
		}
		b.WriteRune(c)
	}
	return b.String()
}

// BuildImage assembles r's image on the engine: dependencies installed by a builder container
// (with the pip cache volume) and copied into the image, sources copied with fixed times, then
// the configuration and labels. pip's output goes to log. Nothing runs until the image is
// exported or published.
func (e *Engine) BuildImage(ctx context.Context, r *ImageRecipe, log io.Writer) (*dagger.Container, error) {
	base, err := e.base(r.Base)
	if err != nil {
		return nil, err
	}
	ctr := base
	host := e.client.Host()
	if len(r.Requirements) > 0 {
		fmt.Fprintf(log, "$ %s\n", python.QuoteArgv(r.Install))
		builder := base.
			WithUser("0").
			WithMountedCache(PipCacheDir, e.client.CacheVolume(PipCacheVolume)).
			WithEnvVariable("PIP_CACHE_DIR", PipCacheDir).
			WithEnvVariable("PYTHONDONTWRITEBYTECODE", "1").
			WithNewFile(RequirementsFile, strings.Join(r.Requirements, "\n")+"\n")
		for _, m := range r.BuildMounts {
			if m.File {
				builder = builder.WithMountedFile(m.Path, host.File(m.Host))
			} else {
				builder = builder.WithMountedDirectory(m.Path, host.Directory(m.Host), dagger.ContainerWithMountedDirectoryOpts{ReadOnly: true})
			}
		}
		for _, v := range r.BuildEnv {
			builder = builder.WithEnvVariable(v.Name, v.Value)
		}
		builder = builder.WithExec(r.Install, dagger.ContainerWithExecOpts{Expect: dagger.ReturnTypeAny})
		out, err := builder.CombinedOutput(ctx)
		if err != nil {
			return nil, fmt.Errorf("installing the dependencies of %q: %w", r.Service, err)
		}
		io.WriteString(log, out)
		code, err := builder.ExitCode(ctx)
		if err != nil {
			return nil, fmt.Errorf("installing the dependencies of %q: %w", r.Service, err)
		}
		if code != 0 {
			return nil, fmt.Errorf("installing the dependencies of %q: %q exited with code %d", r.Service, r.Install, code)
		}
		ctr = ctr.WithDirectory(SitePackages, builder.Directory(SitePackages).WithTimestamps(int(r.Created)))
	}
	for _, m := range r.Sources {
		dir := host.Directory(m.Host, dagger.HostDirectoryOpts{Include: m.Include, Exclude: m.Exclude}).WithTimestamps(int(r.Created))
		ctr = ctr.WithDirectory(m.Path, dir)
	}
	for _, v := range r.Env {
		ctr = ctr.WithEnvVariable(v.Name, v.Value, dagger.ContainerWithEnvVariableOpts{Expand: v.Expand})
	}
	ctr = ctr.WithoutEntrypoint().WithDefaultArgs(r.Cmd).WithWorkdir(r.Workdir).WithUser(r.User)
	for _, p := range r.DropPorts {
		n, proto, err := parsePort(p)
		if err != nil {
			return nil, fmt.Errorf("image of %q: %w", r.Service, err)
		}
		ctr = ctr.WithoutExposedPort(n, dagger.ContainerWithoutExposedPortOpts{Protocol: proto})
	}
	if r.Port != 0 {
		ctr = ctr.WithExposedPort(r.Port)
	}
	for _, k := range r.DropLabels {
		ctr = ctr.WithoutLabel(k)
	}
	keys := make([]string, 0, len(r.Labels))
	for k := range r.Labels {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		ctr = ctr.WithLabel(k, r.Labels[k])
	}
	if len(r.Healthcheck) > 0 {
		ctr = ctr.WithDockerHealthcheck(r.Healthcheck)
	} else {
		ctr = ctr.WithoutDockerHealthcheck()
	}
	return ctr, nil
}

// parsePort parses "8080/tcp" (or "8080").
func parsePort(s string) (int, dagger.NetworkProtocol, error) {
	num, proto, _ := strings.Cut(s, "/")
	n, err := strconv.Atoi(num)
	if err != nil || n <= 0 || n > 65535 {
		return 0, "", fmt.Errorf("parsing exposed port %q", s)
	}
	switch strings.ToLower(proto) {
	case "", "tcp":
		return n, dagger.NetworkProtocolTcp, nil
	case "udp":
		return n, dagger.NetworkProtocolUdp, nil
	}
	return 0, "", fmt.Errorf("parsing exposed port %q: unknown protocol", s)
}

// ImageStore is where exported images go: *image.Store, the OCI layout at .convoy/oci.
type ImageStore interface {
	// Put writes img and tags it, returning its digest.
	Put(img v1.Image, tags ...string) (v1.Hash, error)
}

var _ ImageStore = (*image.Store)(nil)

// ExportImage exports ctr as an OCI tarball to the host and returns it as an image, readable
// until Close: store it (ImageStore.Put) or push it (image.Push) — the same path to the store
// and to registries as the local engine's images take.
func (e *Engine) ExportImage(ctx context.Context, ctr *dagger.Container) (v1.Image, error) {
	img, _, err := e.exportImage(ctx, ctr)
	return img, err
}

// exportImage is ExportImage, also returning the scratch directory that holds the image (""
// when none was made), which the caller may remove once the image is stored.
func (e *Engine) exportImage(ctx context.Context, ctr *dagger.Container) (v1.Image, string, error) {
	dir, err := e.scratch("image-")
	if err != nil {
		return nil, "", err
	}
	tarball := filepath.Join(dir, "image.tar")
	if _, err := ctr.Export(ctx, tarball, dagger.ContainerExportOpts{MediaTypes: dagger.ImageMediaTypesOcimediaTypes}); err != nil {
		return nil, dir, fmt.Errorf("exporting image: %w", err)
	}
	img, err := LoadOCITarball(tarball, filepath.Join(dir, "layout"))
	if err != nil {
		return nil, dir, err
	}
	return img, dir, nil
}

// scratch returns a new directory under the engine's temporary directory.
func (e *Engine) scratch(prefix string) (string, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.scratchLocked(prefix)
}

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

// LoadOCITarball unpacks the OCI image layout tarball at tarball (as Container.Export writes
// it) into dir and returns its image: the only one, or the first of a single nested index.
func LoadOCITarball(tarball, dir string) (v1.Image, error) {
	if err := untar(tarball, dir); err != nil {
		return nil, fmt.Errorf("unpacking image tarball %q: %w", tarball, err)
	}
	idx, err := layout.ImageIndexFromPath(dir)
	if err != nil {
		return nil, fmt.Errorf("reading image tarball %q: %w", tarball, err)
	}
	for depth := 0; depth < 4; depth++ {
		im, err := idx.IndexManifest()
		if err != nil {
			return nil, fmt.Errorf("reading image tarball %q: %w", tarball, err)
		}
		if len(im.Manifests) != 1 {
			return nil, fmt.Errorf("reading image tarball %q: %d manifests in its index, expected 1", tarball, len(im.Manifests))
		}
		desc := im.Manifests[0]
		if desc.MediaType.IsIndex() {
			if idx, err = idx.ImageIndex(desc.Digest); err != nil {
				return nil, fmt.Errorf("reading image tarball %q: %w", tarball, err)
			}
			continue
		}
		img, err := idx.Image(desc.Digest)
		if err != nil {
			return nil, fmt.Errorf("reading image tarball %q: %w", tarball, err)
		}
		return img, nil
	}
	return nil, fmt.Errorf("reading image tarball %q: indexes nested too deep", tarball)
}

// untar unpacks the regular files and directories of tarball into dir, refusing names that
// leave it.
func untar(tarball, dir string) error {
	f, err := os.Open(tarball)
	if err != nil {
		return err
	}
	defer f.Close()
	tr := tar.NewReader(f)
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		clean := path.Clean(strings.TrimPrefix(hdr.Name, "./"))
		if path.IsAbs(clean) || clean == ".." || strings.HasPrefix(clean, "../") {
			return fmt.Errorf("entry %q leaves the archive", hdr.Name)
		}
		if clean == "." {
			continue
		}
		target := filepath.Join(dir, filepath.FromSlash(clean))
		switch hdr.Typeflag {
		case tar.TypeDir:
			if err := os.MkdirAll(target, 0o755); err != nil {
				return err
			}
		case tar.TypeReg:
			if err := os.MkdirAll(filepath.Dir(target), 0o755); err != nil {
				return err
			}
			out, err := os.OpenFile(target, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o644)
			if err != nil {
				return err
			}
			if _, err := io.Copy(out, tr); err != nil {
				out.Close()
				return err
			}
			if err := out.Close(); err != nil {
				return err
			}
		}
	}
}
