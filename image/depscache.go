package image

import (
	"compress/gzip"
	"encoding/json"
	"fmt"
	"io"
	"os"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// layerMeta is what a cached layer's digests are, recorded next to it (FILE.json) when it is
// written, so that using it does not read, and decompress, the whole file again.
type layerMeta struct {
	Digest v1.Hash `json:"digest"`
	DiffID v1.Hash `json:"diff_id"`
	Size   int64   `json:"size"`
}

// cachedLayer returns the gzipped layer at file with its recorded digests, recording them first
// when they are not (a cache written by an older convoy).
func cachedLayer(file string, mt types.MediaType) (v1.Layer, error) {
	if b, err := os.ReadFile(file + ".json"); err == nil {
		var m layerMeta
		if json.Unmarshal(b, &m) == nil && m.Digest.Hex != "" && m.DiffID.Hex != "" {
			return &fileLayer{file: file, meta: m, mt: mt}, nil
		}
	}
	l, err := tarball.LayerFromFile(file, tarball.WithMediaType(mt))
	if err != nil {
		return nil, err
	}
	var m layerMeta
	if m.Digest, err = l.Digest(); err != nil {
		return nil, err
	}
	if m.DiffID, err = l.DiffID(); err != nil {
		return nil, err
	}
	if m.Size, err = l.Size(); err != nil {
		return nil, err
	}
	if err := recordLayer(file, m); err != nil {
		return nil, err
	}
	return &fileLayer{file: file, meta: m, mt: mt}, nil
}

// recordLayer records the digests m of the layer file next to it (FILE.json).
func recordLayer(file string, m layerMeta) error {
	b, err := json.Marshal(m)
	if err != nil {
		return err
	}
	err = writeAtomic(file+".json", func(w io.Writer) error { _, err := w.Write(b); return err })
	if err != nil {
		return fmt.Errorf("recording the digests of %s: %w", file, err)
	}
	return nil
}

// fileLayer is a gzipped layer file whose digests are known.
type fileLayer struct {
	file string
	meta layerMeta
	mt   types.MediaType
}

var _ v1.Layer = (*fileLayer)(nil)

// Digest is the sha256 of the file.
func (l *fileLayer) Digest() (v1.Hash, error) { return l.meta.Digest, nil }

// DiffID is the sha256 of the uncompressed tar.
func (l *fileLayer) DiffID() (v1.Hash, error) { return l.meta.DiffID, nil }

// Size is the file's size.
func (l *fileLayer) Size() (int64, error) { return l.meta.Size, nil }

// MediaType is the image's layer media type.
func (l *fileLayer) MediaType() (types.MediaType, error) { return l.mt, nil }

// Compressed opens the file.
func (l *fileLayer) Compressed() (io.ReadCloser, error) { return os.Open(l.file) }

// Uncompressed opens the file through gzip.
func (l *fileLayer) Uncompressed() (io.ReadCloser, error) {
	f, err := os.Open(l.file)
	if err != nil {
		return nil, err
	}
	zr, err := gzip.NewReader(f)
	if err != nil {
		f.Close()
		return nil, err
	}
	return &gzipFile{zr, f}, nil
}

// gzipFile closes the gzip reader and the file under it.
type gzipFile struct {
	*gzip.Reader
	f *os.File
}

// Close closes both.
func (g *gzipFile) Close() error {
	err := g.Reader.Close()
	if ferr := g.f.Close(); err == nil {
		err = ferr
	}
	return err
}
