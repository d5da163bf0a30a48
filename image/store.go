package image

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/partial"

	"github.com/convoy-ci/convoy/internal/filelock"
)

// refNameAnnotation names a descriptor of an OCI layout's index: its tag.
const refNameAnnotation = "org.opencontainers.image.ref.name"

// Store is an OCI image layout used as convoy's image store. Each tag is a
// descriptor of index.json annotated with org.opencontainers.image.ref.name
// and LabelInputHash. A Store is safe for concurrent use, also by several
// processes on one directory: every change to index.json, and the creation of
// the layout, holds the flock <dir>.lock.
type Store struct {
	dir string
	mu  sync.Mutex
}

// Entry is one image of a Store.
type Entry struct {
	// Digest is the image's manifest digest.
	Digest v1.Hash
	// Tags are its tags in the store.
	Tags []string
	// InputHash is its input hash ("" when it has none).
	InputHash string
}

// OpenStore opens the OCI image layout at dir, creating an empty one when dir
// does not exist or is empty. A dir holding anything else is an error and is
// left as it is.
func OpenStore(dir string) (*Store, error) {
	if err := os.MkdirAll(filepath.Dir(dir), 0o755); err != nil {
		return nil, fmt.Errorf("creating image store %q: %w", dir, err)
	}
	unlock, err := filelock.Lock(context.Background(), dir+".lock")
	if err != nil {
		return nil, fmt.Errorf("opening image store %q: %w", dir, err)
	}
	defer unlock()
	entries, err := os.ReadDir(dir)
	switch {
	case errors.Is(err, fs.ErrNotExist) || (err == nil && len(entries) == 0):
		if _, err := layout.Write(dir, empty.Index); err != nil {
			return nil, fmt.Errorf("creating image store %q: %w", dir, err)
		}
		return &Store{dir: dir}, nil
	case err != nil:
		return nil, fmt.Errorf("opening image store %q: %w", dir, err)
	}
	if _, err := readLayoutIndex(dir); err != nil {
		return nil, fmt.Errorf("opening image store: %w", err)
	}
	return &Store{dir: dir}, nil
}

// readLayoutIndex checks that dir is an OCI image layout (its oci-layout file
// and a parseable index.json) and returns its index.
func readLayoutIndex(dir string) (v1.ImageIndex, error) {
	b, err := os.ReadFile(filepath.Join(dir, "oci-layout"))
	if err != nil {
		return nil, fmt.Errorf("%q is not an OCI image layout: %w", dir, err)
	}
	var marker struct {
		Version string `json:"imageLayoutVersion"`
	}
	if err := json.Unmarshal(b, &marker); err != nil || marker.Version == "" {
		return nil, fmt.Errorf("%q is not an OCI image layout: its oci-layout file is not {\"imageLayoutVersion\": ...}", dir)
	}
	idx, err := layout.ImageIndexFromPath(dir)
	if err != nil {
		return nil, fmt.Errorf("OCI image layout %q is corrupt: %w", dir, err)
	}
	if _, err := idx.IndexManifest(); err != nil {
		return nil, fmt.Errorf("OCI image layout %q is corrupt: reading index.json: %w", dir, err)
	}
	return idx, nil
}

// Dir returns the store's directory.
func (s *Store) Dir() string { return s.dir }

func (s *Store) index() (*v1.IndexManifest, error) {
	idx, err := readLayoutIndex(s.dir)
	if err != nil {
		return nil, err
	}
	return idx.IndexManifest()
}

// Put writes img's blobs (those not already there) and tags it with tags,
// moving a tag that named another image. It returns img's digest.
func (s *Store) Put(img v1.Image, tags ...string) (v1.Hash, error) {
	digest, err := img.Digest()
	if err != nil {
		return v1.Hash{}, fmt.Errorf("storing image: %w", err)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return v1.Hash{}, fmt.Errorf("storing image %s: %w", digest, err)
	}
	unlock, err := s.lock()
	if err != nil {
		return v1.Hash{}, fmt.Errorf("storing image %s: %w", digest, err)
	}
	defer unlock()
	if _, err := s.index(); err != nil { // refuse to write into something corrupt
		return v1.Hash{}, fmt.Errorf("storing image %s: %w", digest, err)
	}
	p := layout.Path(s.dir)
	if err := p.WriteImage(img); err != nil {
		return v1.Hash{}, fmt.Errorf("storing image %s in %q: %w", digest, s.dir, err)
	}
	desc, err := partial.Descriptor(img)
	if err != nil {
		return v1.Hash{}, err
	}
	desc.Annotations = nil
	if h := cf.Config.Labels[LabelInputHash]; h != "" {
		desc.Annotations = map[string]string{LabelInputHash: h}
	}
	if err := s.tag(*desc, tags); err != nil {
		return v1.Hash{}, fmt.Errorf("storing image %s in %q: %w", digest, s.dir, err)
	}
	return digest, nil
}

// Tag adds tags to the image digest already in the store.
func (s *Store) Tag(digest v1.Hash, tags ...string) error {
	unlock, err := s.lock()
	if err != nil {
		return fmt.Errorf("tagging %s: %w", digest, err)
	}
	defer unlock()
	im, err := s.index()
	if err != nil {
		return err
	}
	for _, d := range im.Manifests {
		if d.Digest == digest {
			delete(d.Annotations, refNameAnnotation)
			if err := s.tag(d, tags); err != nil {
				return fmt.Errorf("tagging %s in %q: %w", digest, s.dir, err)
			}
			return nil
		}
	}
	return fmt.Errorf("tagging %s in %q: no such image", digest, s.dir)
}

// lock takes the store's locks, in this process and between processes, and
// returns the function that releases them.
func (s *Store) lock() (func(), error) {
	s.mu.Lock()
	unlock, err := filelock.Lock(context.Background(), s.dir+".lock")
	if err != nil {
		s.mu.Unlock()
		return nil, err
	}
	return func() { unlock(); s.mu.Unlock() }, nil
}

// tag rewrites index.json so that each of tags (or, without tags, one
// untagged descriptor) names desc. The caller holds the store's lock.
func (s *Store) tag(desc v1.Descriptor, tags []string) error {
	im, err := s.index()
	if err != nil {
		return err
	}
	var kept []v1.Descriptor
	for _, d := range im.Manifests {
		ref := d.Annotations[refNameAnnotation]
		if slices.Contains(tags, ref) || (d.Digest == desc.Digest && ref == "") {
			continue // a moved tag, or an untagged duplicate of desc
		}
		kept = append(kept, d)
	}
	if len(tags) == 0 {
		tags = []string{""}
	}
	for _, t := range tags {
		d := desc
		d.Annotations = map[string]string{}
		for k, v := range desc.Annotations {
			d.Annotations[k] = v
		}
		if t != "" {
			d.Annotations[refNameAnnotation] = t
		}
		kept = append(kept, d)
	}
	im.Manifests = kept
	b, err := json.MarshalIndent(im, "", "  ")
	if err != nil {
		return err
	}
	return writeAtomic(filepath.Join(s.dir, "index.json"), func(w io.Writer) error {
		_, err := w.Write(b)
		return err
	})
}

// Lookup finds the image with input hash inputHash; of several (built from
// different commits with the same inputs), the one stored last. An image whose
// manifest blob is missing is not found (Put repairs it).
func (s *Store) Lookup(inputHash string) (Entry, bool, error) {
	entries, err := s.List()
	if err != nil {
		return Entry{}, false, err
	}
	for _, e := range slices.Backward(entries) {
		if e.InputHash != inputHash {
			continue
		}
		if _, err := os.Stat(filepath.Join(s.dir, "blobs", e.Digest.Algorithm, e.Digest.Hex)); err != nil {
			continue
		}
		return e, true, nil
	}
	return Entry{}, false, nil
}

// List returns the store's images in index order, one Entry per digest.
func (s *Store) List() ([]Entry, error) {
	im, err := s.index()
	if err != nil {
		return nil, err
	}
	var out []Entry
	at := map[v1.Hash]int{}
	for _, d := range im.Manifests {
		i, ok := at[d.Digest]
		if !ok {
			i = len(out)
			at[d.Digest] = i
			out = append(out, Entry{Digest: d.Digest})
		}
		if t := d.Annotations[refNameAnnotation]; t != "" {
			out[i].Tags = append(out[i].Tags, t)
		}
		if h := d.Annotations[LabelInputHash]; h != "" {
			out[i].InputHash = h
		}
	}
	return out, nil
}

// Image returns the image tagged ref, or with digest ref ("sha256:...").
func (s *Store) Image(ref string) (v1.Image, error) {
	im, err := s.index()
	if err != nil {
		return nil, err
	}
	for _, d := range im.Manifests {
		if d.Annotations[refNameAnnotation] == ref || (strings.HasPrefix(ref, "sha256:") && d.Digest.String() == ref) {
			img, err := layout.Path(s.dir).Image(d.Digest)
			if err != nil {
				return nil, fmt.Errorf("reading image %q from %q: %w", ref, s.dir, err)
			}
			return img, nil
		}
	}
	return nil, fmt.Errorf("image store %q has no image %q", s.dir, ref)
}

// writeAtomic writes path through write: into a temporary file beside it,
// renamed over path (mode 0644) only when write succeeded, so that path
// appears whole or not at all.
func writeAtomic(path string, write func(io.Writer) error) error {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return err
	}
	defer os.Remove(f.Name())
	if err := write(f); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := os.Chmod(f.Name(), 0o644); err != nil {
		return err
	}
	return os.Rename(f.Name(), path)
}
