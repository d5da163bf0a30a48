package image

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// genMonorepo writes a committed monorepo of n services, each a Django-sized
// tree of files (models, views, migrations, tests, templates), sharing one lib.
func genMonorepo(b *testing.B, n, filesPerService int) string {
	b.Helper()
	dir := b.TempDir()
	body := strings.Repeat("def handler(request):\n    return {'ok': True}\n\n", 40) // ~2 KB
	write := func(rel, content string) {
		p := filepath.Join(dir, rel)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			b.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			b.Fatal(err)
		}
	}
	write(".gitignore", "__pycache__/\n*.log\n.convoy/\n")
	write("libs/kit/kit/__init__.py", body)
	for s := range n {
		svc := fmt.Sprintf("services/svc%02d", s)
		write(svc+"/.dockerignore", "tests/\n")
		write(svc+"/requirements.txt", "django==5.0.6\n")
		for f := range filesPerService {
			sub := []string{"app", "app/migrations", "app/templates", "tests"}[f%4]
			write(fmt.Sprintf("%s/%s/f%03d.py", svc, sub, f), fmt.Sprintf("# svc %d file %d\n%s", s, f, body))
		}
	}
	run(b, dir, "git", "init", "-q", "-b", "main")
	run(b, dir, "git", "add", "-A")
	run(b, dir, "git", "commit", "-q", "-m", "generated")
	return dir
}

func benchSpec(b *testing.B, repo string, i int, base *BaseImage, info GitInfo) (Spec, Inputs) {
	svc := fmt.Sprintf("svc%02d", i)
	spec := Spec{
		Service: svc,
		Source: Source{Root: repo, Dir: filepath.Join(repo, "services", svc),
			Libs: []Lib{{Dir: filepath.Join(repo, "libs", "kit"), Path: LibsRoot + "/kit"}}},
		Base:   base,
		Cmd:    []string{"python", "-m", "gunicorn", "app.wsgi", "--bind", "0.0.0.0:8000"},
		Port:   8000,
		Health: "/healthz",
		Git:    info,
	}
	in := Inputs{
		Service: svc, Source: spec.Source,
		DepSpec: []byte("django==5.0.6\n"), BaseDigest: base.Digest.String(),
		Argv: [][]string{{"python", "-m", "pytest", "-q"}, {"python", "-m", "flake8"}, spec.Cmd},
	}
	return spec, in
}

// BenchmarkAssemble measures one service's image assembly: input hash, source
// layer, config, manifest, and writing it to the OCI layout store. (The
// dependency layer comes from the layer cache on every build but the first; its
// pip run is not measured here.)
func BenchmarkAssemble(b *testing.B) {
	for _, files := range []int{20, 200} {
		b.Run(fmt.Sprintf("files=%d", files), func(b *testing.B) {
			ctx := context.Background()
			repo := genMonorepo(b, 1, files)
			base := testBase(b, pythonImage(b))
			info, err := RepoInfo(repo)
			if err != nil {
				b.Fatal(err)
			}
			store, err := OpenStore(filepath.Join(repo, ".convoy", "oci"))
			if err != nil {
				b.Fatal(err)
			}
			spec, in := benchSpec(b, repo, 0, base, info)
			b.ResetTimer()
			for b.Loop() {
				assemble(ctx, b, store, spec, in, info.Short)
			}
		})
	}
}

// BenchmarkNoopRerun measures what a no-op `convoy build` does at 20 services
// once everything is built: load the base image, hash each service's inputs
// and find its image in the store. One op is the whole rerun.
func BenchmarkNoopRerun(b *testing.B) {
	const services = 20
	ctx := context.Background()
	repo := genMonorepo(b, services, 40)
	baseImg := pythonImage(b)
	base := testBase(b, baseImg)
	baseRef := base.Ref
	info, err := RepoInfo(repo)
	if err != nil {
		b.Fatal(err)
	}
	store, err := OpenStore(filepath.Join(repo, ".convoy", "oci"))
	if err != nil {
		b.Fatal(err)
	}
	for i := range services {
		spec, in := benchSpec(b, repo, i, base, info)
		assemble(ctx, b, store, spec, in, info.Short)
	}
	b.ResetTimer()
	for b.Loop() {
		base, err := LoadBase(ctx, baseRef)
		if err != nil {
			b.Fatal(err)
		}
		for i := range services {
			_, in := benchSpec(b, repo, i, base, info)
			h, err := InputHash(in)
			if err != nil {
				b.Fatal(err)
			}
			if _, ok, err := store.Lookup(h); err != nil || !ok {
				b.Fatalf("service %d not found by its input hash: %v", i, err)
			}
		}
	}
}

// assemble is what convoy does for one service: hash its inputs, build its image, store it.
func assemble(ctx context.Context, b *testing.B, store *Store, spec Spec, in Inputs, tag string) {
	b.Helper()
	var err error
	if spec.InputHash, err = InputHash(in); err != nil {
		b.Fatal(err)
	}
	img, err := Build(ctx, spec)
	if err != nil {
		b.Fatal(err)
	}
	if _, err := store.Put(img, spec.Service+":"+tag); err != nil {
		b.Fatal(err)
	}
}
