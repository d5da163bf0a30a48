package image

import (
	"archive/tar"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"github.com/klauspost/compress/gzip"
	"hash"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// layerFile is one entry of a layer: a file read from src, a symlink, or
// (src == "" and link == "") bytes given in data.
type layerFile struct {
	name string // slash-separated path in the image, without a leading slash
	mode int64  // 0o644, 0o755 or 0o777 for a symlink
	src  string
	link string
	data []byte
	size int64
}

// writeLayer writes files as a reproducible gzipped tar to w: entries sorted by
// path, each parent directory before its entries (0755), every time set to
// mtime, owner root (0:0) with no user or group names, no host paths. It returns the layer's
// digests and size, hashed as it wrote (reading the layer back to hash it decompressed it all
// again: about 0.5 s for a Django dependency layer).
func writeLayer(w io.Writer, files []layerFile, mtime time.Time) (layerMeta, error) {
	digest, diffID := sha256.New(), sha256.New()
	out := &countingWriter{w: io.MultiWriter(w, digest)}
	if err := writeTar(out, diffID, files, mtime); err != nil {
		return layerMeta{}, err
	}
	return layerMeta{Digest: sha256Hash(digest), DiffID: sha256Hash(diffID), Size: out.n}, nil
}

// sha256Hash is h's sum as a v1.Hash.
func sha256Hash(h hash.Hash) v1.Hash {
	return v1.Hash{Algorithm: "sha256", Hex: hex.EncodeToString(h.Sum(nil))}
}

// countingWriter counts what goes through it to w.
type countingWriter struct {
	w io.Writer
	n int64
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

// writeTar writes writeLayer's tar, gzipped, to w, and the tar itself to diffID.
func writeTar(w, diffID io.Writer, files []layerFile, mtime time.Time) error {
	mtime = mtime.UTC().Truncate(time.Second)
	sort.Slice(files, func(i, j int) bool { return files[i].name < files[j].name })
	// Fastest deflate: a dependency layer compresses in about 40% of the default level's time,
	// 15–20% larger; klauspost/compress's in 0.42 s where the standard library's took 0.65–0.75 s
	// (a 59 MB Django layer, the same 19 MB out). No name, no mtime in the header.
	zw, err := gzip.NewWriterLevel(w, gzip.BestSpeed)
	if err != nil {
		return err
	}
	tw := tar.NewWriter(io.MultiWriter(zw, diffID))
	dirs := map[string]bool{}
	var mkdir func(dir string) error
	mkdir = func(dir string) error {
		if dir == "." || dir == "/" || dirs[dir] {
			return nil
		}
		if err := mkdir(path.Dir(dir)); err != nil {
			return err
		}
		dirs[dir] = true
		return tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: dir + "/", Mode: 0o755, ModTime: mtime, Format: tar.FormatPAX})
	}
	for _, f := range files {
		if err := mkdir(path.Dir(f.name)); err != nil {
			return err
		}
		hdr := &tar.Header{Name: f.name, Mode: f.mode, ModTime: mtime, Format: tar.FormatPAX}
		switch {
		case f.link != "":
			hdr.Typeflag, hdr.Linkname = tar.TypeSymlink, f.link
		case f.src == "":
			hdr.Typeflag, hdr.Size = tar.TypeReg, int64(len(f.data))
		default:
			hdr.Typeflag, hdr.Size = tar.TypeReg, f.size
		}
		if err := tw.WriteHeader(hdr); err != nil {
			return fmt.Errorf("writing %q to a layer: %w", f.name, err)
		}
		if hdr.Typeflag != tar.TypeReg {
			continue
		}
		if f.src == "" {
			if _, err := tw.Write(f.data); err != nil {
				return err
			}
			continue
		}
		if err := copyFile(tw, f.src, f.size); err != nil {
			return fmt.Errorf("writing %q to a layer: %w", f.src, err)
		}
	}
	if err := tw.Close(); err != nil {
		return err
	}
	return zw.Close()
}

func copyFile(w io.Writer, src string, size int64) error {
	r, err := os.Open(src)
	if err != nil {
		return err
	}
	defer r.Close()
	n, err := io.Copy(w, io.LimitReader(r, size))
	if err == nil && n != size {
		err = fmt.Errorf("file changed while being read: %d bytes, expected %d", n, size)
	}
	return err
}

// treeFiles maps a walked tree to layer entries under prefix.
func treeFiles(files []File, prefix string) []layerFile {
	out := make([]layerFile, 0, len(files))
	for _, f := range files {
		out = append(out, layerFile{name: path.Join(prefix, f.Rel), mode: int64(f.Mode.Perm()), src: f.Abs, link: f.Link, size: f.Size})
	}
	return out
}

// treesFiles maps listed trees to layer entries, each under its path in the image.
func treesFiles(trees []Tree) []layerFile {
	var out []layerFile
	for _, t := range trees {
		out = append(out, treeFiles(t.Files, strings.TrimPrefix(t.Path, "/"))...)
	}
	return out
}

// sourceLayerFiles are the entries of s's source layer: what Build writes and InputHash hashes.
func sourceLayerFiles(s Source) ([]layerFile, error) {
	trees, err := SourceFiles(s)
	if err != nil {
		return nil, err
	}
	return treesFiles(trees), nil
}

// memoryLayer builds a layer of files in memory.
func memoryLayer(files []layerFile, mtime time.Time, mt types.MediaType) (v1.Layer, error) {
	var buf bytes.Buffer
	if _, err := writeLayer(&buf, files, mtime); err != nil {
		return nil, err
	}
	b := buf.Bytes()
	return tarball.LayerFromOpener(func() (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(b)), nil
	}, tarball.WithMediaType(mt))
}

// writeTree writes files into dir, which must exist, as unpacking writeLayer's tar of them
// makes them: each parent directory 0755, each file with its mode and content, each directory's
// and file's time mtime. A file read from src is a hard link to src when src already is what the
// layer holds (the mode, owner 0:0, the size listed) and on dir's file system — no byte written;
// it keeps src's time — else a copy. The writer owns what it creates: root, for a runtime that
// mounts layers.
func writeTree(dir string, files []layerFile, mtime time.Time) error {
	mtime = mtime.UTC().Truncate(time.Second)
	made := map[string]bool{}
	var dirs []string
	var mkdir func(d string) error
	mkdir = func(d string) error {
		if d == "." || made[d] {
			return nil
		}
		if err := mkdir(path.Dir(d)); err != nil {
			return err
		}
		made[d] = true
		dirs = append(dirs, d)
		return os.Mkdir(filepath.Join(dir, filepath.FromSlash(d)), 0o755)
	}
	for _, f := range files {
		if err := mkdir(path.Dir(f.name)); err != nil {
			return err
		}
		if err := treeEntry(filepath.Join(dir, filepath.FromSlash(f.name)), f, mtime); err != nil {
			return fmt.Errorf("writing %q: %w", f.name, err)
		}
	}
	// Deepest last made first, once nothing more is written into them (umask aside: 0755).
	for i := len(dirs) - 1; i >= 0; i-- {
		p := filepath.Join(dir, filepath.FromSlash(dirs[i]))
		if err := os.Chmod(p, 0o755); err != nil {
			return err
		}
		if err := os.Chtimes(p, mtime, mtime); err != nil {
			return err
		}
	}
	return nil
}

// treeEntry creates f at p (see writeTree).
func treeEntry(p string, f layerFile, mtime time.Time) error {
	switch {
	case f.link != "":
		return os.Symlink(f.link, p)
	case f.src != "" && linkable(f) && os.Link(f.src, p) == nil:
		return nil
	}
	w, err := os.OpenFile(p, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	if f.src == "" {
		_, err = w.Write(f.data)
	} else {
		err = copyFile(w, f.src, f.size)
	}
	if err == nil {
		err = w.Chmod(fs.FileMode(f.mode))
	}
	if cerr := w.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	return os.Chtimes(p, mtime, mtime)
}

// linkable reports whether f's source file already has the mode, owner (0:0) and size the
// layer gives f, so that a hard link to it is the layer's file.
func linkable(f layerFile) bool {
	fi, err := os.Lstat(f.src)
	// A regular file with no set-user-ID, set-group-ID or sticky bit, which the layer lacks.
	if err != nil || fi.Mode()&^fs.ModePerm != 0 || int64(fi.Mode()) != f.mode || fi.Size() != f.size {
		return false
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	return ok && st.Uid == 0 && st.Gid == 0
}
