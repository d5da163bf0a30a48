package python

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
)

// Target is the interpreter and platform packages are resolved and installed for: an image's,
// not the host's.
type Target struct {
	// Version is CPython's full version, "3.11.2".
	Version string
	// Platform is uv's --python-platform, e.g. "x86_64-manylinux_2_36".
	Platform string
}

// String describes t for messages: "CPython 3.11.2 (x86_64-manylinux_2_36)".
func (t Target) String() string { return fmt.Sprintf("CPython %s (%s)", t.Version, t.Platform) }

// Args are uv's options that resolve or install for t.
func (t Target) Args() []string {
	return []string{"--python-version", t.Version, "--python-platform", t.Platform}
}

// fullVersionRE matches a full CPython release version, "3.11.2".
var fullVersionRE = regexp.MustCompile(`^[0-9]+\.[0-9]+\.[0-9]+$`)

// uvArch maps GOARCH-style architectures to the machine names of uv's manylinux platforms.
var uvArch = map[string]string{"amd64": "x86_64", "arm64": "aarch64"}

// uvGlibc are the glibc minor versions (2.N) uv has a manylinux_2_N platform for.
var uvGlibc = []int{17, 28, 31, 32, 33, 34, 35, 36, 37, 38, 39, 40}

// LinuxTarget returns the target of a glibc Linux image: CPython version (full: "3.11.2"),
// architecture (GOARCH-style: "amd64") and glibc version ("2.36"). The platform is uv's
// manylinux platform of the newest glibc uv knows that is not newer than the image's, so
// that every wheel it picks runs there.
func LinuxTarget(version, arch, glibc string) (Target, error) {
	if !fullVersionRE.MatchString(version) {
		return Target{}, fmt.Errorf("Python version %q is not a full version like 3.11.2: markers on python_full_version could not be evaluated for it", version)
	}
	machine, ok := uvArch[arch]
	if !ok {
		return Target{}, fmt.Errorf("uv resolves for linux on amd64 and arm64 only, not %q", arch)
	}
	minor, err := strconv.Atoi(strings.TrimPrefix(glibc, "2."))
	if err != nil || !strings.HasPrefix(glibc, "2.") {
		return Target{}, fmt.Errorf("glibc version %q is not like 2.36", glibc)
	}
	best := 0
	for _, n := range uvGlibc {
		if n <= minor {
			best = n
		}
	}
	if best == 0 {
		return Target{}, fmt.Errorf("glibc %s is older than manylinux2014 (2.17), the oldest platform uv resolves for", glibc)
	}
	return Target{Version: version, Platform: fmt.Sprintf("%s-manylinux_2_%d", machine, best)}, nil
}
