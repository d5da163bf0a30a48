package image

import (
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// TestCachedLayer: writeLayer returns, and a cached layer has, the digests go-containerregistry
// computes from its file, whether they were recorded, are recorded now (no record, or a broken
// one), and its contents.
func TestCachedLayer(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "deps-x.tar.gz")
	files := []layerFile{{name: "app/site-packages/six.py", mode: 0o644, data: []byte("# six\n")}}
	var written layerMeta
	if err := writeAtomic(file, func(w io.Writer) (err error) { written, err = writeLayer(w, files, depsEpoch); return err }); err != nil {
		t.Fatal(err)
	}
	want, err := tarball.LayerFromFile(file, tarball.WithMediaType(types.OCILayer))
	if err != nil {
		t.Fatal(err)
	}
	wantDigest, _ := want.Digest()
	wantDiffID, _ := want.DiffID()
	wantSize, _ := want.Size()
	if written != (layerMeta{Digest: wantDigest, DiffID: wantDiffID, Size: wantSize}) {
		t.Errorf("writeLayer hashed %+v, the file has %s %s %d", written, wantDigest, wantDiffID, wantSize)
	}
	tests := []struct {
		name   string
		record string // the FILE.json to start with; "-" for none
	}{
		{"no record", "-"},
		{"recorded", ""}, // what the previous case wrote
		{"broken record", "{not json"},
		{"empty record", "{}"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			switch tt.record {
			case "-":
				os.Remove(file + ".json")
			case "":
			default:
				if err := os.WriteFile(file+".json", []byte(tt.record), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			l, err := cachedLayer(file, types.OCILayer)
			if err != nil {
				t.Fatal(err)
			}
			d, _ := l.Digest()
			diff, _ := l.DiffID()
			size, _ := l.Size()
			mt, _ := l.MediaType()
			if d != wantDigest || diff != wantDiffID || size != wantSize || mt != types.OCILayer {
				t.Errorf("= %s %s %d %s, want %s %s %d", d, diff, size, mt, wantDigest, wantDiffID, wantSize)
			}
			entries := layerEntries(t, l)
			if len(entries) != 3 || entries[2].data != "# six\n" {
				t.Errorf("entries = %+v", entries)
			}
			if _, err := os.Stat(file + ".json"); err != nil {
				t.Errorf("the digests are not recorded: %v", err)
			}
		})
	}
}

// TestCachedLayerTrustsItsRecord: a recorded layer is not read to be used — which is the point:
// building on a cached dependency layer does not decompress it.
func TestCachedLayerTrustsItsRecord(t *testing.T) {
	file := filepath.Join(t.TempDir(), "deps-y.tar.gz")
	if err := os.WriteFile(file, []byte("not even gzip"), 0o644); err != nil {
		t.Fatal(err)
	}
	record := `{"digest": "sha256:` + strings.Repeat("a", 64) + `", "diff_id": "sha256:` + strings.Repeat("b", 64) + `", "size": 13}`
	if err := os.WriteFile(file+".json", []byte(record), 0o644); err != nil {
		t.Fatal(err)
	}
	l, err := cachedLayer(file, types.DockerLayer)
	if err != nil {
		t.Fatal(err)
	}
	if d, _ := l.DiffID(); d.Hex != strings.Repeat("b", 64) {
		t.Errorf("diff ID %s is not the recorded one", d)
	}
}
