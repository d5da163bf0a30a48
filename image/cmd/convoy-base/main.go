// Command convoy-base turns a root filesystem tarball into a Python base image
// in an OCI image layout; scripts/base-image.sh runs it after debootstrap. With
// -postgres-version it makes a PostgreSQL server image instead, with the
// official postgres image's conventions (docker-entrypoint.sh, POSTGRES_USER,
// POSTGRES_PASSWORD, POSTGRES_DB, /docker-entrypoint-initdb.d, port 5432):
// scripts/postgres-image.sh.
//
//	convoy-base -rootfs rootfs.tar -out DIR -tag python -python-version 3.11.2 -glibc 2.36
//	convoy-base -rootfs rootfs.tar -out DIR -tag postgres -postgres-version 15 -glibc 2.36
//	convoy-base -check -out DIR -tag python
//	convoy-base -check -out DIR -tag postgres -postgres-version 15
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
		pg      = flag.String("postgres-version", "", "major PostgreSQL version of the rootfs: make a Postgres server image (label "+labelPostgres+")")
	)
	flag.Parse()
	if *out == "" {
		fail(fmt.Errorf("-out is required"))
	}
	ref := "oci-layout:" + *out + ":" + *tag
	if *check && *pg != "" {
		checkPostgres(ref, *out, *pg)
		return
	}
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
	if *rootfs == "" || (*python == "") == (*pg == "") || *glibc == "" {
		fail(fmt.Errorf("-rootfs, -glibc and one of -python-version and -postgres-version are required"))
	}
	when := time.Unix(*created, 0).UTC()
	if *created == 0 {
		var err error
		if when, err = image.SourceDateEpoch(time.Unix(0, 0)); err != nil {
			fail(err)
		}
	}
	config := func() (v1.Config, error) { return pythonConfig(*python, *glibc, *desc, when) }
	if *pg != "" {
		config = func() (v1.Config, error) { return postgresConfig(*pg, *glibc, *desc, when), nil }
	}
	digest, err := write(*rootfs, *out, *tag, *arch, when, config)
	if err != nil {
		fail(err)
	}
	fmt.Printf("%s %s\n", ref, digest)
}

func write(rootfs, out, tag, arch string, created time.Time, config func() (v1.Config, error)) (v1.Hash, error) {
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
	if cf.Config, err = config(); err != nil {
		return v1.Hash{}, err
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

// pythonConfig is the configuration of a Python base image.
func pythonConfig(python, glibc, desc string, created time.Time) (v1.Config, error) {
	var major, minor int
	if _, err := fmt.Sscanf(python, "%d.%d", &major, &minor); err != nil {
		return v1.Config{}, fmt.Errorf("-python-version %q is not like 3.11.2", python)
	}
	return v1.Config{
		Env: []string{
			"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
			"LANG=C.UTF-8",
			"PYTHON_VERSION=" + python,
		},
		Cmd: []string{"python3"},
		Labels: map[string]string{
			image.LabelPythonVersion:               fmt.Sprintf("%d.%d", major, minor),
			image.LabelGlibc:                       glibc,
			"org.opencontainers.image.title":       "convoy-python-base",
			"org.opencontainers.image.description": desc,
			"org.opencontainers.image.created":     created.Format(time.RFC3339),
		},
	}, nil
}

// labelPostgres states a Postgres server image's major version.
const labelPostgres = "org.convoy.postgres.version"

// postgresConfig is the configuration of a Postgres server image whose rootfs has
// /usr/local/bin/docker-entrypoint.sh (scripts/postgres-image.sh writes it) and the
// server of major version pg: it runs as postgres, keeps its data in PGDATA and
// stops on SIGINT (a fast shutdown), as the official image does.
func postgresConfig(pg, glibc, desc string, created time.Time) v1.Config {
	return v1.Config{
		Env: []string{
			"PATH=/usr/lib/postgresql/" + pg + "/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
			"LANG=C.UTF-8",
			"PG_MAJOR=" + pg,
			"PGDATA=/var/lib/postgresql/data",
		},
		Entrypoint:   []string{"docker-entrypoint.sh"},
		Cmd:          []string{"postgres"},
		User:         "postgres",
		ExposedPorts: map[string]struct{}{"5432/tcp": {}},
		StopSignal:   "SIGINT",
		Labels: map[string]string{
			labelPostgres:                          pg,
			image.LabelGlibc:                       glibc,
			"org.opencontainers.image.title":       "convoy-postgres",
			"org.opencontainers.image.description": desc,
			"org.opencontainers.image.created":     created.Format(time.RFC3339),
		},
	}
}

// checkPostgres exits 0 when out has a loadable Postgres image of major version pg tagged
// as ref says, 1 when it has none, 3 when out is not a layout that may be written.
func checkPostgres(ref, out, pg string) {
	b, err := image.ParseBase(ref)
	if err != nil {
		fail(err)
	}
	img, err := b.Image(context.Background())
	if err == nil {
		var cf *v1.ConfigFile
		if cf, err = img.ConfigFile(); err == nil && cf.Config.Labels[labelPostgres] != pg {
			err = fmt.Errorf("%s is not a Postgres %s image (label %s=%q)", ref, pg, labelPostgres, cf.Config.Labels[labelPostgres])
		}
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		if !usableLayout(out) {
			os.Exit(3)
		}
		os.Exit(1)
	}
	d, _ := img.Digest()
	fmt.Printf("%s %s PostgreSQL %s\n", ref, d, pg)
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
