package python

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// Freeze lists what the virtualenv venv holds as name==version lines, sorted — what `pip
// freeze --exclude-editable` prints, read from the *.dist-info (and *.egg-info) metadata of its
// site-packages without starting Python. Editable installs are left out: they are the
// service's own code, not a version to constrain.
func Freeze(venv string) ([]string, error) { return freeze(venv, false) }

// FreezeRequirements is Freeze with direct references as `pip freeze` prints them: a
// distribution installed from a URL (its direct_url.json names one; not editable) is
// "name @ url", a VCS one "name @ vcs+url@commit". It reads a virtualenv uv made, which has no
// pip to ask.
func FreezeRequirements(venv string) ([]string, error) { return freeze(venv, true) }

// freeze lists the distributions of venv, as Freeze or, with direct, FreezeRequirements.
func freeze(venv string, direct bool) ([]string, error) {
	sites, err := filepath.Glob(filepath.Join(venv, "lib", "python*", "site-packages"))
	if err != nil || len(sites) == 0 {
		return nil, fmt.Errorf("reading the packages of virtualenv %s: it has no lib/python*/site-packages", venv)
	}
	seen := map[string]bool{}
	var out []string
	for _, site := range sites {
		pins, err := sitePins(site, direct)
		if err != nil {
			return nil, fmt.Errorf("reading the packages of virtualenv %s: %w", venv, err)
		}
		for _, p := range pins {
			if !seen[p] {
				seen[p] = true
				out = append(out, p)
			}
		}
	}
	sort.Strings(out)
	return out, nil
}

// FreezeArgv prints what the environment of the interpreter python holds, as Freeze reads it
// (name==version, editable installs left out), with the uv at uv: for engines that cannot read
// the environment's files themselves.
func FreezeArgv(uv, python string) []string {
	return []string{uv, "pip", "freeze", "--no-config", "--python", python, "--exclude-editable"}
}

// sitePins returns the name==version of every distribution installed in site, editable ones
// excepted; with direct, "name @ url" for one installed from a URL.
func sitePins(site string, direct bool) ([]string, error) {
	entries, err := os.ReadDir(site)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, e := range entries {
		var meta string
		switch {
		case strings.HasSuffix(e.Name(), ".dist-info"):
			meta = filepath.Join(site, e.Name(), "METADATA")
		case strings.HasSuffix(e.Name(), ".egg-info") && e.IsDir():
			meta = filepath.Join(site, e.Name(), "PKG-INFO")
		default:
			continue
		}
		dir := filepath.Join(site, e.Name())
		if editable(dir) {
			continue
		}
		name, version, err := nameVersion(meta)
		if err != nil {
			return nil, err
		}
		if u := directURL(dir); direct && u != "" {
			out = append(out, name+" @ "+u)
			continue
		}
		out = append(out, name+"=="+version)
	}
	return out, nil
}

// directURL returns the URL the distribution whose metadata is in dir was installed from, as
// pip freeze prints it (PEP 610), or "" when it came from an index.
func directURL(dir string) string {
	b, err := os.ReadFile(filepath.Join(dir, "direct_url.json"))
	if err != nil {
		return ""
	}
	var du struct {
		URL     string `json:"url"`
		VCSInfo *struct {
			VCS      string `json:"vcs"`
			CommitID string `json:"commit_id"`
		} `json:"vcs_info"`
	}
	if json.Unmarshal(b, &du) != nil || du.URL == "" {
		return ""
	}
	if v := du.VCSInfo; v != nil && v.VCS != "" {
		return v.VCS + "+" + du.URL + "@" + v.CommitID
	}
	return du.URL
}

// editable says whether the distribution whose metadata is in dir was installed editable
// (PEP 660: its direct_url.json says so).
func editable(dir string) bool {
	b, err := os.ReadFile(filepath.Join(dir, "direct_url.json"))
	if err != nil {
		return false
	}
	var du struct {
		DirInfo struct {
			Editable bool `json:"editable"`
		} `json:"dir_info"`
	}
	return json.Unmarshal(b, &du) == nil && du.DirInfo.Editable
}

// nameVersion reads the Name and Version headers of a core metadata file (they come before the
// first blank line, which starts the description).
func nameVersion(file string) (string, string, error) {
	f, err := os.Open(file)
	if err != nil {
		return "", "", err
	}
	defer f.Close()
	var name, version string
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	for sc.Scan() && sc.Text() != "" && (name == "" || version == "") {
		k, v, ok := strings.Cut(sc.Text(), ":")
		switch {
		case !ok:
		case strings.EqualFold(k, "Name"):
			name = strings.TrimSpace(v)
		case strings.EqualFold(k, "Version"):
			version = strings.TrimSpace(v)
		}
	}
	if err := sc.Err(); err != nil {
		return "", "", fmt.Errorf("reading %s: %w", file, err)
	}
	if name == "" || version == "" {
		return "", "", fmt.Errorf("%s names no Name and Version", file)
	}
	return name, version, nil
}
