// Command convoy-base turns a root filesystem tarball into a Python base image
// in an OCI image layout; scripts/base-image.sh runs it after debootstrap.
//
//	convoy-base -rootfs rootfs.tar -out DIR -tag python -python-version 3.11.2 -glibc 2.36
//	convoy-base -check -out DIR -tag python
//
// -check exits 0 when DIR has a loadable base image tagged TAG, 1 when it
// does not (DIR missing, empty, or a layout without it) and 3 when DIR holds
// something that is not a valid OCI image layout, which must not be written to.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"time"

	"github.com/convoy-ci/convoy/image"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

func main() {
	var (
		rootfs  = flag.String("rootfs", "", "root filesystem tarball (uncompressed or gzipped)")
		out     = flag.String("out", "", "OCI image layout directory to write (created if missing)")
		tag     = flag.String("tag", "python", "tag (org.opencontainers.image.ref.name) in the layout")
		python  = flag.String("python-version", "", "full Python version of the rootfs (PYTHON_VERSION), e.g. 3.11.2")
		glibc   = flag.String("glibc", "", "glibc version of the rootfs, e.g. 2.36 (label "+image.LabelGlibc+")")
		arch    = flag.String("arch", runtime.GOARCH, "architecture of the rootfs")
		created = flag.Int64("created", 0, "creation time, seconds since the epoch (default $SOURCE_DATE_EPOCH or 0)")
		desc    = flag.String("description", "", "org.opencontainers.image.description label")
		check   = flag.Bool("check", false, "only check that -out has a loadable base image tagged -tag")
	)
	flag.Parse()
	if *out == "" {
		fail(fmt.Errorf("-out is required"))
	}
	ref := "oci-layout:" + *out + ":" + *tag
	if *check {
		b, err := image.LoadBase(context.Background(), ref)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			if !usableLayout(*out) {
				os.Exit(3)
			}
			os.Exit(1)
		}
		fmt.Printf("%s %s Python %s %s\n", ref, b.Digest, b.Python, b.Platform)
		return
	}
	if *rootfs == "" || *python == "" || *glibc == "" {
		fail(fmt.Errorf("-rootfs, -python-version and -glibc are required"))
	}
	when := time.Unix(*created, 0).UTC()
	if *created == 0 {
		var err error
		if when, err = image.SourceDateEpoch(time.Unix(0, 0)); err != nil {
			fail(err)
		}
	}
	digest, err := write(*rootfs, *out, *tag, *python, *glibc, *arch, *desc, when)
	if err != nil {
		fail(err)
	}
	fmt.Printf("%s %s\n", ref, digest)
}

func write(rootfs, out, tag, python, glibc, arch, desc string, created time.Time) (v1.Hash, error) {
	layer, err := tarball.LayerFromFile(rootfs, tarball.WithMediaType(types.OCILayer))
	if err != nil {
		return v1.Hash{}, fmt.Errorf("reading rootfs %q: %w", rootfs, err)
	}
	img := mutate.MediaType(empty.Image, types.OCIManifestSchema1)
	img = mutate.ConfigMediaType(img, types.OCIConfigJSON)
	img, err = mutate.Append(img, mutate.Addendum{Layer: layer, MediaType: types.OCILayer, History: v1.History{
		Created:   v1.Time{Time: created},
		CreatedBy: "convoy-base: debootstrap rootfs",
	}})
	if err != nil {
		return v1.Hash{}, err
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return v1.Hash{}, err
	}
	cf = cf.DeepCopy()
	cf.OS, cf.Architecture, cf.Created = "linux", arch, v1.Time{Time: created}
	var major, minor int
	if _, err := fmt.Sscanf(python, "%d.%d", &major, &minor); err != nil {
		return v1.Hash{}, fmt.Errorf("-python-version %q is not like 3.11.2", python)
	}
	short := fmt.Sprintf("%d.%d", major, minor)
	cf.Config = v1.Config{
		Env: []string{
			"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
			"LANG=C.UTF-8",
			"PYTHON_VERSION=" + python,
		},
		Cmd: []string{"python3"},
		Labels: map[string]string{
			image.LabelPythonVersion:               short,
			image.LabelGlibc:                       glibc,
			"org.opencontainers.image.title":       "convoy-python-base",
			"org.opencontainers.image.description": desc,
			"org.opencontainers.image.created":     created.Format(time.RFC3339),
		},
	}
	img, err = mutate.ConfigFile(img, cf)
	if err != nil {
		return v1.Hash{}, err
	}
	store, err := image.OpenStore(out)
	if err != nil {
		return v1.Hash{}, err
	}
	return store.Put(img, tag)
}

// usableLayout tells whether dir may be written as an OCI image layout: it is
// missing, empty, or a layout whose index.json parses.
func usableLayout(dir string) bool {
	entries, err := os.ReadDir(dir)
	if err != nil || len(entries) == 0 {
		return os.IsNotExist(err) || err == nil
	}
	if _, err := os.Stat(filepath.Join(dir, "oci-layout")); err != nil {
		return false
	}
	idx, err := layout.ImageIndexFromPath(dir)
	if err != nil {
		return false
	}
	_, err = idx.IndexManifest()
	return err == nil
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "convoy-base:", err)
	os.Exit(2)
}
