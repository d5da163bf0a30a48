package image

import (
	"os"
	"path/filepath"
	"testing"
)

func TestInputHash(t *testing.T) {
	inputs := func(repo string) Inputs {
		return Inputs{
			Service:    "hello",
			SourceDir:  filepath.Join(repo, "services", "hello"),
			LibDirs:    []string{filepath.Join(repo, "libs", "greet")},
			DepSpec:    []byte("six==1.16.0\n"),
			BaseDigest: "sha256:aaaa",
			Argv:       [][]string{{"python", "-m", "pytest"}, {"python", "app.py"}},
		}
	}
	write := func(rel, content string) func(repo string, in *Inputs) {
		return func(repo string, in *Inputs) {
			p := filepath.Join(repo, rel)
			os.MkdirAll(filepath.Dir(p), 0o755)
			if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	tests := []struct {
		name   string
		change func(repo string, in *Inputs)
		same   bool
	}{
		{"nothing", func(string, *Inputs) {}, true},
		{"gitignored file", write("services/hello/debug.log", "x"), true},
		{"bytecode", write("services/hello/__pycache__/app.cpython-311.pyc", "x"), true},
		{"empty directory", func(repo string, _ *Inputs) { os.MkdirAll(filepath.Join(repo, "services/hello/empty"), 0o755) }, true},
		{"umask 0664", func(repo string, _ *Inputs) { os.Chmod(filepath.Join(repo, "services/hello/app.py"), 0o664) }, true},
		{"source edit", write("services/hello/app.py", "print(1)\n"), false},
		{"new source file", write("services/hello/extra.py", ""), false},
		{"dockerignored test edit", write("services/hello/tests/test_app.py", "changed"), false},
		{"lib edit", write("libs/greet/greet.py", "changed"), false},
		{"executable bit", func(repo string, _ *Inputs) { os.Chmod(filepath.Join(repo, "services/hello/app.py"), 0o755) }, false},
		{"dependency spec", func(_ string, in *Inputs) { in.DepSpec = []byte("six==1.17.0\n") }, false},
		{"base digest", func(_ string, in *Inputs) { in.BaseDigest = "sha256:bbbb" }, false},
		{"stage argv", func(_ string, in *Inputs) { in.Argv[0] = []string{"python", "-m", "pytest", "-x"} }, false},
		{"argv split differently", func(_ string, in *Inputs) { in.Argv[1] = []string{"python app.py"} }, false},
		{"service name", func(_ string, in *Inputs) { in.Service = "hello2" }, false},
	}
	origin := monorepo(t)
	want, err := InputHash(inputs(clone(t, origin)))
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			repo := clone(t, origin)
			in := inputs(repo)
			tt.change(repo, &in)
			got, err := InputHash(in)
			if err != nil {
				t.Fatal(err)
			}
			if (got == want) != tt.same {
				t.Errorf("after %s: hash %s, unchanged one %s; want same=%v", tt.name, got, want, tt.same)
			}
		})
	}
}

// TestInputHashOutsideGit hashes a plain directory: nothing is gitignored.
func TestInputHashOutsideGit(t *testing.T) {
	dir := t.TempDir()
	copyTree(t, "testdata/hello", dir)
	h1, err := InputHash(Inputs{Service: "hello", SourceDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(dir, "debug.log"), []byte("x"), 0o644)
	h2, err := InputHash(Inputs{Service: "hello", SourceDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	if h1 == h2 {
		t.Error("a new file outside a git repository did not change the hash")
	}
	if _, err := InputHash(Inputs{Service: "x", SourceDir: filepath.Join(dir, "missing")}); err == nil {
		t.Error("hashing a missing directory succeeded")
	}
}
