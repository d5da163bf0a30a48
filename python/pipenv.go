package python

import (
	"encoding/json"
	"fmt"
	"sort"
	"strings"
)

// PipenvRequirementsArgv prints, on standard output, a pipenv service's [packages] at the
// versions of the Pipfile.lock next to $PIPENV_PIPFILE, one requirement line each with its
// environment markers — a Compile Spec, whose markers are then evaluated for the image's
// Target rather than dropped.
func PipenvRequirementsArgv() []string {
	return []string{"python", "-m", "pipenv", "requirements"}
}

// PipenvLockRequirements returns the requirement lines `pipenv requirements` prints for the
// [packages] of a Pipfile.lock — the index URLs, then name[extras]==version; markers per
// package — read from the lock itself, without starting pipenv (about half a second). ok is
// false when the lock has something only pipenv should render (a VCS, file or path package,
// os_markers, an index URL with variables in it): run PipenvRequirementsArgv then.
func PipenvLockRequirements(lock []byte) (lines []string, ok bool, err error) {
	return pipenvLockLines(lock, false, "default")
}

// pipenvLockLines renders the packages of a Pipfile.lock's sections (a package in two of them
// once, from the first) as requirement lines after the index options, each with its
// --hash options when hashes is set; ok is false as for PipenvLockRequirements, and when hashes
// is set and a package has none.
func pipenvLockLines(lock []byte, hashes bool, sections ...string) (lines []string, ok bool, err error) {
	var l struct {
		Meta struct {
			Sources []struct {
				URL string `json:"url"`
			} `json:"sources"`
		} `json:"_meta"`
		Default map[string]map[string]any `json:"default"`
		Develop map[string]map[string]any `json:"develop"`
	}
	if err := json.Unmarshal(lock, &l); err != nil {
		return nil, false, fmt.Errorf("reading Pipfile.lock: %w", err)
	}
	for i, s := range l.Meta.Sources {
		if strings.Contains(s.URL, "$") {
			return nil, false, nil
		}
		opt := "-i"
		if i > 0 {
			opt = "--extra-index-url"
		}
		lines = append(lines, opt+" "+s.URL)
	}
	seen := map[string]bool{}
	for _, sec := range sections {
		pkgs := map[string]map[string]map[string]any{"default": l.Default, "develop": l.Develop}[sec]
		names := make([]string, 0, len(pkgs))
		for name := range pkgs {
			if !seen[CanonicalName(name)] {
				seen[CanonicalName(name)] = true
				names = append(names, name)
			}
		}
		sort.Strings(names)
		for _, name := range names {
			line, ok := lockLine(name, pkgs[name], hashes)
			if !ok {
				return nil, false, nil
			}
			lines = append(lines, line)
		}
	}
	return lines, true, nil
}

// lockKeys are the keys of a Pipfile.lock package that lockLine renders or may ignore.
var lockKeys = map[string]bool{"version": true, "markers": true, "extras": true, "hashes": true, "index": true}

// lockLine renders one package of a Pipfile.lock as pipenv does, when it is an index package.
func lockLine(name string, pkg map[string]any, hashes bool) (string, bool) {
	for k := range pkg {
		if !lockKeys[k] {
			return "", false
		}
	}
	version, _ := pkg["version"].(string)
	if version == "*" {
		version = ""
	}
	line := name
	if extras, ok := pkg["extras"].([]any); ok {
		var names []string
		for _, e := range extras {
			s, ok := e.(string)
			if !ok {
				return "", false
			}
			names = append(names, s)
		}
		line += "[" + strings.Join(names, ",") + "]"
	}
	line += version
	if m, _ := pkg["markers"].(string); m != "" {
		line += "; " + m
	}
	if !hashes {
		return line, true
	}
	list, _ := pkg["hashes"].([]any)
	if len(list) == 0 {
		return "", false
	}
	for _, h := range list {
		hs, ok := h.(string)
		if !ok {
			return "", false
		}
		line += " --hash=" + hs
	}
	return line, true
}
