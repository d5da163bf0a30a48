package image

import (
	"archive/tar"
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// TestBuildReproducible builds the hello service from two separate clones of
// one repository: same digest. A change to a source file changes it.
func TestBuildReproducible(t *testing.T) {
	ctx := context.Background()
	base := testBase(t, pythonImage(t))
	origin := monorepo(t)

	var digests []string
	for range 2 {
		img, err := Build(ctx, helloSpec(t, clone(t, origin), base))
		if err != nil {
			t.Fatal(err)
		}
		digests = append(digests, digestOf(t, img).String())
	}
	if digests[0] != digests[1] {
		t.Fatalf("two clones of one commit built %s and %s", digests[0], digests[1])
	}

	// A new commit changing one line of source: another digest.
	os.WriteFile(filepath.Join(origin, "services/hello/app.py"), []byte("print('changed')\n"), 0o644)
	run(t, origin, "git", "commit", "-q", "-am", "change")
	img, err := Build(ctx, helloSpec(t, clone(t, origin), base))
	if err != nil {
		t.Fatal(err)
	}
	if d := digestOf(t, img).String(); d == digests[0] {
		t.Fatalf("changed source built the same digest %s", d)
	}
}

// TestBuildContents checks the source layer (paths, .dockerignore, modes,
// owners, times) and the config (env, user, workdir, ports, labels).
func TestBuildContents(t *testing.T) {
	repo := monorepo(t)
	os.Chmod(filepath.Join(repo, "services/hello/app.py"), 0o775)
	base := testBase(t, pythonImage(t))
	spec := helloSpec(t, repo, base)
	spec.Env = map[string]string{"GREETING": "hi"}
	img, err := Build(context.Background(), spec)
	if err != nil {
		t.Fatal(err)
	}
	commitTime := time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)

	var names []string
	for _, e := range layerEntries(t, lastLayer(t, img)) {
		h := e.hdr
		names = append(names, h.Name)
		if h.Uid != 0 || h.Gid != 0 || h.Uname != "" || h.Gname != "" {
			t.Errorf("%s: owner %d:%d %q:%q, want 0:0 and no names", h.Name, h.Uid, h.Gid, h.Uname, h.Gname)
		}
		if !h.ModTime.Equal(commitTime) {
			t.Errorf("%s: mtime %s, want the commit's %s", h.Name, h.ModTime, commitTime)
		}
		wantMode := int64(0o644)
		if h.Typeflag == tar.TypeDir || h.Name == "app/src/app.py" {
			wantMode = 0o755
		}
		if h.Mode != wantMode {
			t.Errorf("%s: mode %o, want %o", h.Name, h.Mode, wantMode)
		}
	}
	want := []string{
		"app/", "app/libs/", "app/libs/greet/", "app/libs/greet/greet.py",
		"app/src/", "app/src/.dockerignore", "app/src/KEEP.md", "app/src/app.py", "app/src/requirements.txt",
	}
	if !slices.Equal(names, want) {
		t.Errorf("source layer entries:\n got %q\nwant %q (tests/ and NOTES.md are .dockerignored)", names, want)
	}

	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	c := cf.Config
	wantEnv := []string{
		"PATH=/app/site-packages/bin:/usr/bin:/bin", "PYTHON_VERSION=3.11.9",
		"GREETING=hi", "HOME=/tmp", "PORT=8000", "PYTHONDONTWRITEBYTECODE=1",
		"PYTHONPATH=/app/src:/app/libs/greet:/app/site-packages", "PYTHONUNBUFFERED=1",
	}
	if !slices.Equal(c.Env, wantEnv) {
		t.Errorf("env\n got %q\nwant %q", c.Env, wantEnv)
	}
	if c.User != DefaultUser || c.WorkingDir != SourceRoot || !slices.Equal(c.Cmd, spec.Cmd) || c.Entrypoint != nil {
		t.Errorf("user %q workdir %q cmd %q entrypoint %q", c.User, c.WorkingDir, c.Cmd, c.Entrypoint)
	}
	if _, ok := c.ExposedPorts["8000/tcp"]; !ok || len(c.ExposedPorts) != 1 {
		t.Errorf("exposed ports %v, want 8000/tcp", c.ExposedPorts)
	}
	if c.Healthcheck == nil || !strings.Contains(strings.Join(c.Healthcheck.Test, " "), "http://127.0.0.1:8000/healthz") {
		t.Errorf("healthcheck %+v", c.Healthcheck)
	}
	for k, v := range map[string]string{
		"org.opencontainers.image.title":       "hello",
		"org.opencontainers.image.revision":    spec.Git.Revision,
		"org.opencontainers.image.version":     spec.Git.Short,
		"org.opencontainers.image.created":     "2024-05-01T12:00:00Z",
		"org.opencontainers.image.base.digest": base.Digest.String(),
		LabelInputHash:                         "sha256:0123",
		LabelHealth:                            "/healthz",
		LabelPort:                              "8000",
	} {
		if c.Labels[k] != v {
			t.Errorf("label %s = %q, want %q", k, c.Labels[k], v)
		}
	}
	if !cf.Created.Time.Equal(commitTime) {
		t.Errorf("created %s, want %s", cf.Created.Time, commitTime)
	}
}

func TestBuildErrors(t *testing.T) {
	repo := monorepo(t)
	base := testBase(t, pythonImage(t))
	tests := []struct {
		name   string
		change func(*Spec)
		want   string
	}{
		{"no base", func(s *Spec) { s.Base = nil }, "no base image"},
		{"other python", func(s *Spec) { s.Python = "3.12" }, "uses Python 3.12 but base image"},
		{"no command", func(s *Spec) { s.Cmd = nil }, "no command"},
		{"missing source", func(s *Spec) { s.Source.Dir = filepath.Join(repo, "nope") }, "no such file or directory"},
		{"source is a file", func(s *Spec) { s.Source.Dir = filepath.Join(repo, ".gitignore") }, "is not a directory"},
		{"libs clash", func(s *Spec) {
			s.Source.Libs = append(s.Source.Libs, Lib{Dir: filepath.Join(repo, "services"), Path: LibsRoot + "/greet"})
		}, "would both be /app/libs/greet"},
		{"lib outside the libs", func(s *Spec) { s.Source.Libs[0].Path = "/app/src/greet" }, "is not under /app/libs"},
		{"source outside the repository", func(s *Spec) { s.Source.Root = filepath.Join(repo, "libs") }, "is not inside"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := helloSpec(t, repo, base)
			tt.change(&s)
			_, err := Build(context.Background(), s)
			if err == nil || !strings.Contains(err.Error(), tt.want) || !strings.Contains(err.Error(), `"hello"`) {
				t.Errorf("Build error = %v, want it to name the service and say %q", err, tt.want)
			}
		})
	}
}
