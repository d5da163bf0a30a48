package scaffold

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/convoy-ci/convoy/pipeline/config"
)

// appendService returns the manifest data with the entry of the service v (name, path, then the
// lines of body) appended to its services: block sequence, as text: every other byte of the file
// is kept, comments and formatting included. The entry follows the last service's indentation,
// after a blank line when the services are separated by one.
func appendService(data []byte, v Vars, body string) ([]byte, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil || len(doc.Content) == 0 || doc.Content[0].Kind != yaml.MappingNode {
		return nil, fmt.Errorf("the manifest is not a mapping (%v)", err)
	}
	top := doc.Content[0]
	var seq *yaml.Node
	next := 0 // line of the top-level key after services:, 0 when it is the last
	for i := 0; i+1 < len(top.Content); i += 2 {
		k, val := top.Content[i], top.Content[i+1]
		if k.Value == "services" {
			seq = val
		} else if seq != nil && next == 0 && k.Line > seq.Line {
			next = k.Line
		}
	}
	if seq == nil || seq.Kind != yaml.SequenceNode || seq.Style&yaml.FlowStyle != 0 || len(seq.Content) == 0 {
		return nil, errors.New("services: is not a block sequence with a service in it (expected \"- name: …\" entries, one per line)")
	}
	if !bytes.HasSuffix(data, []byte("\n")) {
		data = append(data, '\n')
	}
	lines := strings.SplitAfter(string(data), "\n")
	if lines[len(lines)-1] == "" {
		lines = lines[:len(lines)-1]
	}
	last := seq.Content[len(seq.Content)-1]
	keyIndent := strings.Repeat(" ", last.Column-1)
	dashIndent := strings.Repeat(" ", max(last.Column-3, 0))
	if line := lines[last.Line-1]; strings.HasPrefix(strings.TrimLeft(line, " "), "-") {
		dashIndent = line[:len(line)-len(strings.TrimLeft(line, " "))]
		keyIndent = dashIndent + "  "
	}
	at := len(lines) // insert before line index at
	if next > 0 {
		at = next - 1
	}
	// Comments and blank lines at column 1 just before the next key (or the end) are that key's.
	for at > last.Line && isTopComment(lines[at-1]) {
		at--
	}
	var entry strings.Builder
	if len(seq.Content) > 1 && strings.TrimSpace(lines[last.Line-2]) == "" {
		entry.WriteString("\n")
	}
	fmt.Fprintf(&entry, "%s- name: %s\n%spath: %s\n", dashIndent, v.Name, keyIndent, v.Path)
	for _, l := range strings.Split(strings.TrimRight(body, "\n"), "\n") {
		if strings.TrimSpace(l) == "" {
			continue
		}
		entry.WriteString(keyIndent + l + "\n")
	}
	out := append([]string{}, lines[:at]...)
	out = append(out, entry.String())
	if at < len(lines) && strings.TrimSpace(lines[at]) != "" {
		out = append(out, "\n")
	}
	out = append(out, lines[at:]...)
	return []byte(strings.Join(out, "")), nil
}

// isTopComment reports whether line is blank or a comment starting in column 1.
func isTopComment(line string) bool {
	return strings.TrimSpace(line) == "" || strings.HasPrefix(line, "#")
}

// place writes files into the service's new directory, validates the updated manifest with
// pipeline/config against the repository as it then is, and replaces the manifest with it. When
// the manifest is not valid, or anything fails, the directory is removed again and the manifest
// is left as it was.
func place(cfg *config.Config, v Vars, files map[string][]byte, updated []byte, manifest string) (err error) {
	dir := filepath.Join(cfg.Root, filepath.FromSlash(v.Path))
	parent := filepath.Dir(dir)
	if err := os.MkdirAll(parent, 0o755); err != nil {
		return fmt.Errorf("creating %s: %w", parent, err)
	}
	tmp, err := os.MkdirTemp(parent, "."+v.Name+"-")
	if err != nil {
		return fmt.Errorf("creating the service's directory: %w", err)
	}
	defer os.RemoveAll(tmp)
	for rel, data := range files {
		p := filepath.Join(tmp, filepath.FromSlash(rel))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return fmt.Errorf("writing %s: %w", rel, err)
		}
		mode := os.FileMode(0o644)
		if bytes.HasPrefix(data, []byte("#!")) {
			mode = 0o755
		}
		if err := os.WriteFile(p, data, mode); err != nil {
			return fmt.Errorf("writing %s: %w", rel, err)
		}
	}
	if err := os.Rename(tmp, dir); err != nil {
		return fmt.Errorf("moving the service into %s: %w", v.Path, err)
	}
	defer func() {
		if err != nil {
			os.RemoveAll(dir)
		}
	}()
	if _, err := config.Parse(updated, cfg.File, cfg.Root); err != nil {
		return refuse("the manifest with %q added would not be valid: %w", v.Name, err)
	}
	return writeAtomic(manifest, updated)
}

// writeAtomic replaces the file at p with data, keeping its mode: readers see the old file or
// the new one, never a part.
func writeAtomic(p string, data []byte) error {
	st, err := os.Stat(p)
	if err != nil {
		return fmt.Errorf("writing %s: %w", p, err)
	}
	f, err := os.CreateTemp(filepath.Dir(p), "."+filepath.Base(p)+"-")
	if err != nil {
		return fmt.Errorf("writing %s: %w", p, err)
	}
	defer os.Remove(f.Name())
	if _, err := f.Write(data); err != nil {
		f.Close()
		return fmt.Errorf("writing %s: %w", p, err)
	}
	if err := f.Chmod(st.Mode().Perm()); err != nil {
		f.Close()
		return fmt.Errorf("writing %s: %w", p, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("writing %s: %w", p, err)
	}
	if err := os.Rename(f.Name(), p); err != nil {
		return fmt.Errorf("writing %s: %w", p, err)
	}
	return nil
}
