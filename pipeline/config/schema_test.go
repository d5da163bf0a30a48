package config

import (
	"encoding/json"
	"errors"
	"os"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/convoy-ci/convoy/python"
)

// TestSchemaMatchesLoader keeps services.schema.json (for editors) and the loader in step: every
// mapping's keys in the schema are exactly the keys the loader accepts there.
func TestSchemaMatchesLoader(t *testing.T) {
	data, err := os.ReadFile("../../services.schema.json")
	if err != nil {
		t.Fatal(err)
	}
	type obj struct {
		Properties map[string]json.RawMessage `json:"properties"`
		Items      *obj                       `json:"items"`
	}
	var schema obj
	if err := json.Unmarshal(data, &schema); err != nil {
		t.Fatal(err)
	}
	keysOf := func(raw json.RawMessage) []string {
		var o obj
		if err := json.Unmarshal(raw, &o); err != nil {
			t.Fatal(err)
		}
		if o.Items != nil {
			o = *o.Items
		}
		var keys []string
		for k := range o.Properties {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		return keys
	}
	top := keysOf(data)
	expected := regexp.MustCompile(`unknown key "zzz" in (.*) \(expected one of: (.*)\)`)
	root := repo(t, baseFiles)
	for _, tc := range []struct{ where, manifest string }{
		{"", "version: 1\nzzz: 1\nservices: [{name: a, path: services/a}]\n"},
		{"defaults", "version: 1\ndefaults: {zzz: 1}\nservices: [{name: a, path: services/a}]\n"},
		{"services", "version: 1\nservices: [{name: a, path: services/a, zzz: 1}]\n"},
		{"integration", "version: 1\nintegration: {zzz: 1}\nservices: [{name: a, path: services/a}]\n"},
		{"release", "version: 1\nrelease: {zzz: 1}\nservices: [{name: a, path: services/a}]\n"},
		{"defaults.image", "version: 1\ndefaults: {image: {zzz: 1}}\nservices: [{name: a, path: services/a}]\n"},
		{"services.image", "version: 1\nservices: [{name: a, path: services/a, image: {zzz: 1}}]\n"},
	} {
		_, err := Parse([]byte(tc.manifest), "services.yaml", root)
		var ce *Error
		if !errors.As(err, &ce) {
			t.Fatalf("%s: no error for an unknown key", tc.where)
		}
		var m []string
		for _, p := range ce.Problems {
			if m = expected.FindStringSubmatch(p.Msg); m != nil {
				break
			}
		}
		if m == nil {
			t.Fatalf("%s: no unknown-key problem in %v", tc.where, ce)
		}
		want := top
		if tc.where != "" {
			want = keysOf(schemaAt(t, data, strings.Split(tc.where, ".")))
		}
		if got := m[2]; got != strings.Join(want, ", ") {
			t.Errorf("%s: loader accepts %s; schema has %s", tc.where, got, strings.Join(want, ", "))
		}
	}
}

// schemaAt returns the schema of the mapping at path (property names; a list's items are
// stepped into) inside the schema raw.
func schemaAt(t *testing.T, raw json.RawMessage, path []string) json.RawMessage {
	t.Helper()
	for _, key := range path {
		var o struct {
			Properties map[string]json.RawMessage `json:"properties"`
			Items      json.RawMessage            `json:"items"`
		}
		if err := json.Unmarshal(raw, &o); err != nil {
			t.Fatal(err)
		}
		if o.Properties == nil && o.Items != nil {
			if err := json.Unmarshal(o.Items, &o); err != nil {
				t.Fatal(err)
			}
		}
		next, ok := o.Properties[key]
		if !ok {
			t.Fatalf("the schema has no %q at %v", key, path)
		}
		raw = next
	}
	return raw
}

// TestSchemaDepsAreTools keeps the deps enums of services.schema.json (defaults and services)
// and docs/services-yaml.md in step with the tools package python registers.
func TestSchemaDepsAreTools(t *testing.T) {
	data, err := os.ReadFile("../../services.schema.json")
	if err != nil {
		t.Fatal(err)
	}
	want := strings.Join(python.ToolNames(), ",")
	for _, where := range []string{"defaults.deps", "services.deps"} {
		var o struct {
			Enum []string `json:"enum"`
		}
		if err := json.Unmarshal(schemaAt(t, data, strings.Split(where, ".")), &o); err != nil {
			t.Fatal(err)
		}
		sort.Strings(o.Enum)
		if got := strings.Join(o.Enum, ","); got != want {
			t.Errorf("schema %s enum = %s, want python.ToolNames() = %s", where, got, want)
		}
	}
	doc, err := os.ReadFile("../../docs/services-yaml.md")
	if err != nil {
		t.Fatal(err)
	}
	line := regexp.MustCompile(`(?m)^\s*deps: \w+\s+#(.*)$`).FindSubmatch(doc)
	if line == nil {
		t.Fatal("docs/services-yaml.md has no commented deps: line in its example")
	}
	for _, name := range python.ToolNames() {
		if !regexp.MustCompile(`\b` + name + `\b`).Match(line[1]) {
			t.Errorf("docs/services-yaml.md's deps: comment %q does not name tool %s", line[1], name)
		}
	}
}
