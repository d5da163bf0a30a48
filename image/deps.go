package image

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// DefaultPip is the pip run to install a service's dependencies for its image.
var DefaultPip = []string{"python3", "-m", "pip"}

// pipArch maps GOARCH-style architectures to the machine names of wheel tags.
var pipArch = map[string]string{
	"amd64":   "x86_64",
	"arm64":   "aarch64",
	"386":     "i686",
	"ppc64le": "ppc64le",
	"s390x":   "s390x",
}

// wheelPlatforms returns the wheel platform tags a glibc Linux image on p with
// the given glibc ("2.36") runs: manylinux_2_N for N from glibc's down to 5,
// and the legacy aliases manylinux2014, manylinux2010 and manylinux1.
func wheelPlatforms(p v1.Platform, glibc string) ([]string, error) {
	if p.OS != "linux" {
		return nil, fmt.Errorf("platform %s: only linux images are supported", p)
	}
	arch, ok := pipArch[p.Architecture]
	if !ok {
		return nil, fmt.Errorf("platform %s: no wheel tags known for architecture %q", p, p.Architecture)
	}
	minor, err := strconv.Atoi(strings.TrimPrefix(glibc, "2."))
	if err != nil || !strings.HasPrefix(glibc, "2.") {
		return nil, fmt.Errorf("glibc version %q is not like 2.36", glibc)
	}
	var tags []string
	for n := minor; n >= 5; n-- {
		tags = append(tags, fmt.Sprintf("manylinux_2_%d_%s", n, arch))
		switch {
		case n == 17:
			tags = append(tags, "manylinux2014_"+arch)
		case n == 12 && (arch == "x86_64" || arch == "i686"):
			tags = append(tags, "manylinux2010_"+arch)
		case n == 5 && (arch == "x86_64" || arch == "i686"):
			tags = append(tags, "manylinux1_"+arch)
		}
	}
	return tags, nil
}

// normalizeRequirements trims and sorts requirement lines, dropping blanks and
// comments: with --no-deps their order does not matter.
func normalizeRequirements(reqs []string) []string {
	var out []string
	for _, r := range reqs {
		r = strings.TrimSpace(r)
		if r != "" && !strings.HasPrefix(r, "#") {
			out = append(out, r)
		}
	}
	sort.Strings(out)
	return out
}

// depsTarget is what the dependency layer is built for.
type depsTarget struct {
	python    string   // "3.11"
	platform  string   // "linux/amd64", for messages
	platforms []string // wheel platform tags
}

func (t depsTarget) key(reqs []string) string {
	h := sha256.New()
	fmt.Fprintf(h, "convoy-deps-v1\npython %s\nplatforms %s\n", t.python, strings.Join(t.platforms, " "))
	for _, r := range reqs {
		fmt.Fprintf(h, "req %s\n", r)
	}
	return hex.EncodeToString(h.Sum(nil))
}

// noDistRE finds the requirement pip could not satisfy with a wheel.
var noDistRE = regexp.MustCompile(`No matching distribution found for (\S+)`)

// depsEpoch is the time of every entry of a dependency layer. The layer is a
// function of the requirements and the target alone, not of the commit, so it
// is shared across commits and services.
var depsEpoch = time.Date(1980, 1, 1, 0, 0, 0, 0, time.UTC)

// depsLayer returns the layer of reqs installed for t under /app/site-packages,
// from cacheDir when it holds one for the same requirements and target, or by
// running pip (its output going to log) and caching the result.
func depsLayer(ctx context.Context, reqs []string, t depsTarget, pip []string, cacheDir string, mt types.MediaType, log io.Writer) (v1.Layer, error) {
	cached := ""
	if cacheDir != "" {
		cached = filepath.Join(cacheDir, "deps-"+t.key(reqs)+".tar.gz")
		if _, err := os.Stat(cached); err == nil {
			return tarball.LayerFromFile(cached, tarball.WithMediaType(mt))
		}
		if err := os.MkdirAll(cacheDir, 0o755); err != nil {
			return nil, fmt.Errorf("creating layer cache: %w", err)
		}
	}
	tmp, err := os.MkdirTemp(cacheDir, "pip-")
	if err != nil {
		return nil, fmt.Errorf("installing dependencies: %w", err)
	}
	defer os.RemoveAll(tmp)
	target := filepath.Join(tmp, "site-packages")
	reqFile := filepath.Join(tmp, "requirements.txt")
	if err := os.WriteFile(reqFile, []byte(strings.Join(reqs, "\n")+"\n"), 0o644); err != nil {
		return nil, err
	}
	if err := pipInstall(ctx, pip, reqFile, target, t, log); err != nil {
		return nil, err
	}
	if err := fixScripts(filepath.Join(target, "bin")); err != nil {
		return nil, err
	}
	files, err := walkTree(target, nil)
	if err != nil {
		return nil, err
	}
	if cached == "" {
		// Nothing to keep: the layer lives in memory.
		return memoryLayer(treeFiles(files, "app/site-packages"), depsEpoch, mt)
	}
	err = writeAtomic(cached, func(w io.Writer) error { return writeLayer(w, treeFiles(files, "app/site-packages"), depsEpoch) })
	if err != nil {
		return nil, fmt.Errorf("writing the dependency layer: %w", err)
	}
	return tarball.LayerFromFile(cached, tarball.WithMediaType(mt))
}

func pipInstall(ctx context.Context, pip []string, reqFile, target string, t depsTarget, log io.Writer) error {
	args := append([]string{}, pip[1:]...)
	args = append(args, "install",
		"--target", target,
		"--no-deps", // the pinned list is already the closure
		"--only-binary=:all:",
		"--implementation", "cp",
		"--python-version", t.python,
		"--abi", "cp"+strings.ReplaceAll(t.python, ".", ""),
		"--no-compile",
		"--no-input",
		"--disable-pip-version-check",
		"--no-warn-script-location",
		"--progress-bar", "off")
	for _, p := range t.platforms {
		args = append(args, "--platform", p)
	}
	args = append(args, "-r", reqFile)
	cmd := exec.CommandContext(ctx, pip[0], args...)
	var out bytes.Buffer
	w := io.Writer(&out)
	if log != nil {
		w = io.MultiWriter(&out, log)
	}
	cmd.Stdout, cmd.Stderr = w, w
	cmd.Env = append(os.Environ(), "PYTHONDONTWRITEBYTECODE=1")
	if err := cmd.Run(); err != nil {
		if m := noDistRE.FindStringSubmatch(out.String()); m != nil {
			return fmt.Errorf("installing dependencies: no wheel of %s for %s (CPython %s, %s): sdists are not built into images: %w",
				m[1], t.platform, t.python, t.platforms[0], err)
		}
		return fmt.Errorf("installing dependencies: %q: %w: %s", cmd.Args, err, lastLines(out.String(), 10))
	}
	return nil
}

// fixScripts rewrites the shebangs pip wrote into console scripts, which name
// the host's interpreter, to the image's python3.
func fixScripts(dir string) error {
	entries, err := os.ReadDir(dir)
	if os.IsNotExist(err) {
		return nil
	}
	if err != nil {
		return err
	}
	for _, e := range entries {
		p := filepath.Join(dir, e.Name())
		b, err := os.ReadFile(p)
		if err != nil || !e.Type().IsRegular() || !bytes.HasPrefix(b, []byte("#!")) {
			continue
		}
		first, rest, _ := bytes.Cut(b, []byte("\n"))
		if !bytes.Contains(first, []byte("python")) {
			continue
		}
		b = append([]byte("#!/usr/bin/env python3\n"), rest...)
		if err := os.WriteFile(p, b, 0o755); err != nil {
			return err
		}
	}
	return nil
}

func lastLines(s string, n int) string {
	var lines []string
	sc := bufio.NewScanner(strings.NewReader(s))
	for sc.Scan() {
		lines = append(lines, sc.Text())
	}
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
