package python

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/pelletier/go-toml/v2"
)

// pipfileSections are the Pipfile's own sections; any other top-level table is a package
// category, hashed as such.
var pipfileSections = map[string]bool{
	"source": true, "packages": true, "dev-packages": true, "requires": true, "scripts": true,
	"pipfile": true, "pipenv": true, "default": true, "develop": true,
}

// defaultPipfileSource is the source pipenv assumes when a Pipfile names none.
var defaultPipfileSource = []any{map[string]any{"name": "pypi", "url": "https://pypi.org/simple", "verify_ssl": true}}

// PipfileHashes returns the hashes pipenv records in a Pipfile.lock's _meta.hash.sha256 for the
// Pipfile pipfile: the SHA-256 of the JSON of its sources, requirements and package sections
// (keys sorted, no spaces, ASCII) — with the package names as written (plette, pipenv before
// 2026) and canonicalised (pipenv since). A lock whose hash is neither was made from another
// Pipfile. It fails on a Pipfile convoy cannot hash as pipenv would (a float, a date): callers
// then let pipenv decide.
func PipfileHashes(pipfile []byte) ([]string, error) {
	var raw map[string]any
	if err := toml.Unmarshal(pipfile, &raw); err != nil {
		return nil, fmt.Errorf("reading Pipfile: %w", err)
	}
	var out []string
	for _, canonical := range []bool{false, true} {
		var b strings.Builder
		if err := pyJSON(&b, pipfileHashData(raw, canonical)); err != nil {
			return nil, fmt.Errorf("hashing Pipfile: %w", err)
		}
		sum := sha256.Sum256([]byte(b.String()))
		out = append(out, hex.EncodeToString(sum[:]))
	}
	return out, nil
}

// pipfileHashData is what pipenv hashes of a Pipfile.
func pipfileHashData(raw map[string]any, canonical bool) map[string]any {
	section := func(v any) any {
		m, ok := v.(map[string]any)
		if !ok || !canonical {
			return orEmpty(v)
		}
		out := make(map[string]any, len(m))
		for k, val := range m {
			out[CanonicalName(k)] = val
		}
		return out
	}
	sources, ok := raw["source"]
	if !ok {
		sources = defaultPipfileSource
	}
	data := map[string]any{
		"_meta":   map[string]any{"sources": sources, "requires": orEmpty(raw["requires"])},
		"default": section(raw["packages"]),
		"develop": section(raw["dev-packages"]),
	}
	for k, v := range raw {
		if !pipfileSections[k] {
			data[k] = section(v)
		}
	}
	return data
}

func orEmpty(v any) any {
	if v == nil {
		return map[string]any{}
	}
	return v
}

// pyJSON writes v as Python's json.dumps(v, sort_keys=True, separators=(",", ":")) would.
func pyJSON(b *strings.Builder, v any) error {
	switch v := v.(type) {
	case map[string]any:
		keys := make([]string, 0, len(v))
		for k := range v {
			keys = append(keys, k)
		}
		sort.Strings(keys) // byte order of UTF-8 is code point order, as Python sorts
		b.WriteByte('{')
		for i, k := range keys {
			if i > 0 {
				b.WriteByte(',')
			}
			pyString(b, k)
			b.WriteByte(':')
			if err := pyJSON(b, v[k]); err != nil {
				return err
			}
		}
		b.WriteByte('}')
	case []any:
		b.WriteByte('[')
		for i, e := range v {
			if i > 0 {
				b.WriteByte(',')
			}
			if err := pyJSON(b, e); err != nil {
				return err
			}
		}
		b.WriteByte(']')
	case string:
		pyString(b, v)
	case bool:
		b.WriteString(strconv.FormatBool(v))
	case int64:
		b.WriteString(strconv.FormatInt(v, 10))
	default:
		return fmt.Errorf("a value of type %T", v)
	}
	return nil
}

// pyString writes s as a JSON string with Python's ensure_ascii escapes.
func pyString(b *strings.Builder, s string) {
	b.WriteByte('"')
	for _, r := range s {
		switch {
		case r == '"':
			b.WriteString(`\"`)
		case r == '\\':
			b.WriteString(`\\`)
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\r':
			b.WriteString(`\r`)
		case r == '\t':
			b.WriteString(`\t`)
		case r == '\b':
			b.WriteString(`\b`)
		case r == '\f':
			b.WriteString(`\f`)
		case r < 0x20 || (r > 0x7f && r <= 0xffff):
			fmt.Fprintf(b, `\u%04x`, r)
		case r > 0xffff:
			r -= 0x10000
			fmt.Fprintf(b, `\u%04x\u%04x`, 0xd800+(r>>10), 0xdc00+(r&0x3ff))
		default:
			b.WriteRune(r)
		}
	}
	b.WriteByte('"')
}
