package integration

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// URLVar returns the environment variable that carries a service's URL: "payments-api" →
// "PAYMENTS_API_URL".
func URLVar(service string) string {
	return envKey(service) + "_URL"
}

func envKey(s string) string {
	return strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z':
			return r - 'a' + 'A'
		case r >= 'A' && r <= 'Z', r >= '0' && r <= '9':
			return r
		}
		return '_'
	}, s)
}

// DatabaseName returns the name of a service's database for a run: "<service>_<runID>", lower-cased,
// with characters other than [a-z0-9_] replaced by '_' and cut to PostgreSQL's 63 bytes.
func DatabaseName(service, runID string) string {
	s := strings.Map(func(r rune) rune {
		switch {
		case r >= 'A' && r <= 'Z':
			return r - 'A' + 'a'
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9', r == '_':
			return r
		}
		return '_'
	}, service+"_"+runID)
	if len(s) > 63 {
		s = s[:63]
	}
	return s
}

// mergeEnv merges "KEY=VALUE" layers: a later layer's value wins, a key keeps the position of its
// first appearance.
func mergeEnv(layers ...[]string) []string {
	index := map[string]int{}
	var out []string
	for _, layer := range layers {
		for _, kv := range layer {
			k, _, ok := strings.Cut(kv, "=")
			if !ok || k == "" {
				continue
			}
			if i, seen := index[k]; seen {
				out[i] = kv
				continue
			}
			index[k] = len(out)
			out = append(out, kv)
		}
	}
	return out
}

// envList turns a map into sorted "KEY=VALUE" entries.
func envList(m map[string]string) []string {
	out := make([]string, 0, len(m))
	for k, v := range m {
		out = append(out, k+"="+v)
	}
	sort.Strings(out)
	return out
}

// getenv returns the value of key in env ("" when absent; the last entry wins).
func getenv(env []string, key string) string {
	v := ""
	for _, kv := range env {
		if k, val, ok := strings.Cut(kv, "="); ok && k == key {
			v = val
		}
	}
	return v
}

// baseEnv returns env, or convoy's own environment when env is nil.
func baseEnv(env []string) []string {
	if env == nil {
		return os.Environ()
	}
	return env
}

// Substitute replaces ${HOST} and ${PORT} in every argument of argv, and nothing else: the
// serve command of a service, for a host and port.
func Substitute(argv []string, host, port string) []string {
	r := strings.NewReplacer("${HOST}", host, "${PORT}", port)
	out := make([]string, len(argv))
	for i, a := range argv {
		out[i] = r.Replace(a)
	}
	return out
}

// lookPath resolves a command name with the PATH of env (not convoy's), as the shell would for the
// child. Names with a slash are returned as they are (relative ones resolve against the command's
// working directory).
func lookPath(name string, env []string) (string, error) {
	if strings.Contains(name, "/") {
		return name, nil
	}
	path := getenv(env, "PATH")
	for _, dir := range filepath.SplitList(path) {
		if dir == "" {
			dir = "."
		}
		p := filepath.Join(dir, name)
		if fi, err := os.Stat(p); err == nil && fi.Mode().IsRegular() && fi.Mode().Perm()&0o111 != 0 {
			return p, nil
		}
	}
	return "", fmt.Errorf("command %q not found in PATH %q", name, path)
}

// IsPytest reports whether argv runs pytest: pytest or py.test itself, or "python -m pytest".
func IsPytest(argv []string) bool {
	if len(argv) == 0 {
		return false
	}
	switch base := filepath.Base(argv[0]); {
	case base == "pytest", base == "py.test", strings.HasPrefix(base, "pytest-"):
		return true
	case strings.HasPrefix(base, "python"):
		for i := 1; i+1 < len(argv); i++ {
			if argv[i] == "-m" {
				return argv[i+1] == "pytest"
			}
		}
	}
	return false
}

// JUnitArg returns the path given to --junitxml (or --junit-xml) in argv, if any.
func JUnitArg(argv []string) (string, bool) {
	for i, a := range argv {
		if v, ok := strings.CutPrefix(a, "--junitxml="); ok {
			return v, true
		}
		if (a == "--junitxml" || a == "--junit-xml") && i+1 < len(argv) {
			return argv[i+1], true
		}
		if v, ok := strings.CutPrefix(a, "--junit-xml="); ok {
			return v, true
		}
	}
	return "", false
}
