package repo

import (
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"
)

// gitPorcelain returns `git status --porcelain` (no renames, every untracked
// file) as "XY path" lines, sorted. Type changes (T) are reported as M, the
// letter Changes uses for them.
func gitPorcelain(t *testing.T, dir string) []string {
	t.Helper()
	out := git(t, dir, "--no-optional-locks", "status", "--porcelain=v1", "-z", "--no-renames", "--untracked-files=all")
	var lines []string
	for _, rec := range strings.Split(out, "\x00") {
		if rec == "" {
			continue
		}
		rec = strings.ReplaceAll(rec[:2], "T", "M") + rec[2:]
		lines = append(lines, rec)
	}
	sort.Slice(lines, func(i, j int) bool { return lines[i][3:] < lines[j][3:] })
	return lines
}

func TestChangesMatchGitStatus(t *testing.T) {
	base := map[string]string{
		".gitignore":               "*.log\n.venv/\n/build\ndoc/**/*.tmp\n!keep.log\n",
		"README.md":                "readme\n",
		"services/auth/app.py":     "print('auth')\n",
		"services/auth/.gitignore": "local_settings.py\n!important.log\n",
		"services/pay/app.py":      "print('pay')\n",
		"scripts/run.sh":           "#!/bin/sh\n",
		"doc/guide.md":             "guide\n",
		"vendored/.gitignore":      "*\n",
		"vendored/tracked.txt":     "tracked although ignored\n",
	}
	tests := []struct {
		name   string
		mutate func(t *testing.T, dir string)
	}{
		{"clean", func(t *testing.T, dir string) {}},
		{"modified", func(t *testing.T, dir string) {
			writeFile(t, filepath.Join(dir, "README.md"), "changed\n")
		}},
		{"touched but identical", func(t *testing.T, dir string) {
			future := time.Now().Add(2 * time.Hour)
			if err := os.Chtimes(filepath.Join(dir, "README.md"), future, future); err != nil {
				t.Fatal(err)
			}
		}},
		{"same size same mtime new content", func(t *testing.T, dir string) {
			p := filepath.Join(dir, "README.md")
			st, err := os.Stat(p)
			if err != nil {
				t.Fatal(err)
			}
			writeFile(t, p, "README\n")
			if err := os.Chtimes(p, st.ModTime(), st.ModTime()); err != nil {
				t.Fatal(err)
			}
		}},
		{"untracked files at every depth", func(t *testing.T, dir string) {
			writeFile(t, filepath.Join(dir, "new.txt"), "x")
			writeFile(t, filepath.Join(dir, "a/b/c/deep.txt"), "x")
			writeFile(t, filepath.Join(dir, "services/auth/new.py"), "x")
		}},
		{"ignored files and trees", func(t *testing.T, dir string) {
			writeFile(t, filepath.Join(dir, "debug.log"), "x")
			writeFile(t, filepath.Join(dir, ".venv/lib/python3.11/site-packages/x.py"), "x")
			writeFile(t, filepath.Join(dir, "services/auth/.venv/bin/python"), "x")
			writeFile(t, filepath.Join(dir, "build/out.o"), "x")
			writeFile(t, filepath.Join(dir, "doc/a/b/c.tmp"), "x")
			writeFile(t, filepath.Join(dir, "services/auth/local_settings.py"), "x")
			writeFile(t, filepath.Join(dir, "vendored/untracked.txt"), "x")
		}},
		{"negations", func(t *testing.T, dir string) {
			writeFile(t, filepath.Join(dir, "keep.log"), "x")
			writeFile(t, filepath.Join(dir, "services/auth/important.log"), "x")
			writeFile(t, filepath.Join(dir, "services/pay/build"), "not anchored at root")
		}},
		{"info exclude", func(t *testing.T, dir string) {
			writeFile(t, filepath.Join(dir, ".git/info/exclude"), "secret.txt\n")
			writeFile(t, filepath.Join(dir, "secret.txt"), "x")
			writeFile(t, filepath.Join(dir, "public.txt"), "x")
		}},
		{"global excludes file", func(t *testing.T, dir string) {
			home := os.Getenv("HOME")
			writeFile(t, filepath.Join(home, "global-ignore"), "*.swp\n")
			git(t, dir, "config", "--global", "core.excludesFile", filepath.Join(home, "global-ignore"))
			writeFile(t, filepath.Join(dir, "services/auth/app.py.swp"), "x")
		}},
		{"xdg default excludes", func(t *testing.T, dir string) {
			writeFile(t, filepath.Join(os.Getenv("XDG_CONFIG_HOME"), "git/ignore"), ".DS_Store\n")
			writeFile(t, filepath.Join(dir, "doc/.DS_Store"), "x")
		}},
		{"tracked file inside ignored directory modified", func(t *testing.T, dir string) {
			writeFile(t, filepath.Join(dir, "vendored/tracked.txt"), "edited\n")
		}},
		{"staged and worktree", func(t *testing.T, dir string) {
			writeFile(t, filepath.Join(dir, "staged.txt"), "x")
			writeFile(t, filepath.Join(dir, "services/pay/app.py"), "v2\n")
			git(t, dir, "add", "staged.txt", "services/pay/app.py")
			writeFile(t, filepath.Join(dir, "services/pay/app.py"), "v3\n")
		}},
		{"deleted and staged deletion", func(t *testing.T, dir string) {
			if err := os.Remove(filepath.Join(dir, "README.md")); err != nil {
				t.Fatal(err)
			}
			git(t, dir, "rm", "-q", "doc/guide.md")
		}},
		{"file replaced by directory", func(t *testing.T, dir string) {
			if err := os.Remove(filepath.Join(dir, "README.md")); err != nil {
				t.Fatal(err)
			}
			writeFile(t, filepath.Join(dir, "README.md/inner.txt"), "x")
		}},
		{"executable bit", func(t *testing.T, dir string) {
			if err := os.Chmod(filepath.Join(dir, "scripts/run.sh"), 0o755); err != nil {
				t.Fatal(err)
			}
		}},
		{"symlink", func(t *testing.T, dir string) {
			if err := os.Symlink("README.md", filepath.Join(dir, "link")); err != nil {
				t.Fatal(err)
			}
		}},
		{"nested repository", func(t *testing.T, dir string) {
			git(t, dir, "init", "-q", "nested")
			writeFile(t, filepath.Join(dir, "nested/file.txt"), "x")
		}},
		{"rename", func(t *testing.T, dir string) {
			git(t, dir, "mv", "services/pay/app.py", "services/pay/main.py")
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			isolateGit(t)
			dir := newGitRepo(t, base)
			tt.mutate(t, dir)
			// Ours first: `git status` would refresh the index's stat data.
			cs, err := openRepo(t, dir).Changes()
			if err != nil {
				t.Fatalf("Changes: %v", err)
			}
			var got []string
			for _, c := range cs {
				got = append(got, c.String())
			}
			want := gitPorcelain(t, dir)
			if strings.Join(got, "\n") != strings.Join(want, "\n") {
				t.Errorf("Changes() =\n%s\ngit status --porcelain =\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
			}
			dirty, err := openRepo(t, dir).Dirty()
			if err != nil {
				t.Fatalf("Dirty: %v", err)
			}
			if len(dirty) != len(want) {
				t.Errorf("Dirty() = %q, want %d paths", dirty, len(want))
			}
		})
	}
}

func TestChangesEmptyRepository(t *testing.T) {
	isolateGit(t)
	dir := t.TempDir()
	git(t, dir, "init", "-q")
	writeFile(t, filepath.Join(dir, "a.txt"), "x")
	git(t, dir, "add", "a.txt")
	writeFile(t, filepath.Join(dir, "b.txt"), "x")
	cs, err := openRepo(t, dir).Changes()
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, c := range cs {
		got = append(got, c.String())
	}
	if want := gitPorcelain(t, dir); strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("Changes() = %q, git says %q", got, want)
	}
}
