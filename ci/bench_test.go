package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// BenchmarkNoopBuild20 times a whole `convoy build` process on an unchanged 20-service
// monorepo whose images are all built already: manifest load, plan, 20 input hashes and store
// lookups, and the summary — no stage runs.
func BenchmarkNoopBuild20(b *testing.B) {
	if _, err := os.Stat(filepath.Join(baseDir(), "index.json")); err != nil {
		b.Skipf("no base image in %s: run scripts/base-image.sh", baseDir())
	}
	root := b.TempDir()
	files := map[string]string{}
	manifest := "version: 1\ndefaults:\n  base: \"oci-layout:" + baseDir() + ":python\"\n" +
		"  unit: [python, -c, pass]\n  lint: [python, -c, pass]\n  populate: [python, -c, pass]\nservices:\n"
	for i := 0; i < 20; i++ {
		name := fmt.Sprintf("svc%02d", i)
		manifest += fmt.Sprintf("  - name: %s\n    path: services/%s\n    serve: [python, -m, http.server, \"${PORT}\"]\n", name, name)
		files["services/"+name+"/requirements.txt"] = ""
		for j := 0; j < 20; j++ {
			files[fmt.Sprintf("services/%s/pkg/mod%02d.py", name, j)] = fmt.Sprintf("VALUE = %d\n", i*100+j)
		}
	}
	files["services.yaml"] = manifest
	for p, content := range files {
		full := filepath.Join(root, filepath.FromSlash(p))
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			b.Fatal(err)
		}
		if err := os.WriteFile(full, []byte(content), 0o644); err != nil {
			b.Fatal(err)
		}
	}
	gitRepo(b, root)
	build := exec.Command(convoyBin, "build", "-C", root, "--cache-dir", sharedCache, "--progress", "plain")
	if out, err := build.CombinedOutput(); err != nil {
		b.Fatalf("first build: %v\n%s", err, out)
	}
	b.ResetTimer()
	for b.Loop() {
		out, err := exec.Command(convoyBin, "build", "-C", root, "--cache-dir", sharedCache, "--output", "json").CombinedOutput()
		if err != nil {
			b.Fatalf("no-op build: %v\n%s", err, out)
		}
	}
}
