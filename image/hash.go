package image

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"slices"
	"sort"
	"strconv"
)

// hashVersion changes whenever what an input hash covers, or how images are
// assembled from those inputs, changes: old images then stop matching.
const hashVersion = "convoy-input-v4" // v3: dependency layers carry bytecode; v4: layers gzipped at best speed

// Inputs is everything that makes a service's image.
type Inputs struct {
	// Service is the service's name.
	Service string
	// Source is the service's source and libs (see SourceFiles).
	Source Source
	// DepSpec is the dependency specification (the files the service's tool installs from,
	// python.Tool.Inputs), byte for byte.
	DepSpec []byte
	// BaseDigest is the base image's manifest digest (BaseImage.Digest).
	BaseDigest string
	// Argv holds every other setting that shapes the image (the dependency install's argv,
	// the serve argv, port, health path, runtime env), one list of strings each. Order
	// matters. Settings of the gates alone (test commands, the stage environment) do not
	// belong here: they are no part of the image.
	Argv [][]string
}

// InputHash returns "sha256:HEX" over in: the entries of the source layer exactly as Build
// writes them (path in the image, mode, content or symlink target; see SourceFiles), the
// PYTHONPATH the libs give, then the dependency spec, the base digest and the argv lists, each
// length-prefixed. A file that is not in the image — ignored by git, left out by a
// .dockerignore, dev-only — is no input: changing it, or touching any file, keeps the hash.
func InputHash(in Inputs) (string, error) {
	files, err := sourceLayerFiles(in.Source)
	if err != nil {
		return "", fmt.Errorf("hashing inputs of %q: %w", in.Service, err)
	}
	h := sha256.New()
	field := fieldWriter(h)
	field(hashVersion)
	field("service", in.Service)
	if err := hashFiles(files, field); err != nil {
		return "", fmt.Errorf("hashing inputs of %q: %w", in.Service, err)
	}
	field("pythonpath", in.Source.pythonPath()...)
	field("deps", string(in.DepSpec))
	field("base", in.BaseDigest)
	for _, argv := range in.Argv {
		field("argv", argv...)
	}
	return "sha256:" + hex.EncodeToString(h.Sum(nil)), nil
}

// TreeHash returns "sha256:HEX" over every file under dir that git lists (git ls-files -co
// --exclude-standard; every file outside a git repository): path, mode and content, as
// InputHash hashes them. Unlike a source layer, it leaves out no .dockerignored or dev-only
// file: it is what a service's gates see, tests included.
func TreeHash(dir string) (string, error) {
	h, err := treeHash(dir)
	if err != nil {
		return "", fmt.Errorf("hashing the files of %q: %w", dir, err)
	}
	return h, nil
}

func treeHash(dir string) (string, error) {
	repo, err := openGit(dir)
	if err != nil {
		return "", err
	}
	var keep filter
	if repo != nil {
		if keep, err = repo.filter(dir); err != nil {
			return "", err
		}
	}
	files, err := walkTree(dir, keep)
	if err != nil {
		return "", err
	}
	h := sha256.New()
	if err := hashFiles(treeFiles(files, ""), fieldWriter(h)); err != nil {
		return "", err
	}
	return "sha256:" + hex.EncodeToString(h.Sum(nil)), nil
}

// fieldWriter returns a function writing one length-prefixed field to w.
func fieldWriter(w io.Writer) func(kind string, values ...string) {
	return func(kind string, values ...string) {
		fmt.Fprintf(w, "%s %d\n", kind, len(values))
		for _, v := range values {
			fmt.Fprintf(w, "%d:%s\n", len(v), v)
		}
	}
}

// hashFiles writes layer entries, sorted by name as writeLayer writes them, as fields.
func hashFiles(files []layerFile, field func(string, ...string)) error {
	files = slices.Clone(files)
	sort.Slice(files, func(i, j int) bool { return files[i].name < files[j].name })
	field("files", strconv.Itoa(len(files)))
	for _, f := range files {
		if f.link != "" {
			field("symlink", f.name, f.link)
			continue
		}
		sum, err := fileSHA256(f.src)
		if err != nil {
			return err
		}
		field("file", f.name, strconv.FormatInt(f.mode, 8), sum)
	}
	return nil
}

func fileSHA256(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", fmt.Errorf("reading %q: %w", path, err)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}
