package image

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
)

// hashVersion changes whenever what an input hash covers, or how images are
// assembled from those inputs, changes: old images then stop matching.
const hashVersion = "convoy-input-v1"

// Inputs is everything that makes a service's image and decides its gates.
type Inputs struct {
	// Service is the service's name.
	Service string
	// SourceDir is the service's directory.
	SourceDir string
	// LibDirs are the shared directories the service imports.
	LibDirs []string
	// DepSpec is the dependency specification (requirements.txt, Pipfile.lock
	// or the frozen list), byte for byte.
	DepSpec []byte
	// BaseDigest is the base image's manifest digest (BaseImage.Digest).
	BaseDigest string
	// Argv holds every stage's argv and every other setting that shapes the
	// gates or the image (serve argv, port, health path, env), one list of
	// strings each. Order matters.
	Argv [][]string
}

// InputHash returns "sha256:HEX" over in: for each directory, the sorted
// relative paths, normalised modes (directory, symlink, executable or not) and
// contents of its files, then the dependency spec, the base digest and the
// argv lists, each length-prefixed. Files ignored by git (the .gitignore files
// of the enclosing repository), VCS metadata and Python bytecode are not
// inputs. .dockerignore does not narrow the hash: a file left out of the image
// (a test, say) still decides whether the gates must run again.
func InputHash(in Inputs) (string, error) {
	h := sha256.New()
	field := func(kind string, values ...string) {
		fmt.Fprintf(h, "%s %d\n", kind, len(values))
		for _, v := range values {
			fmt.Fprintf(h, "%d:%s\n", len(v), v)
		}
	}
	field(hashVersion)
	field("service", in.Service)
	dirs := append([]string{in.SourceDir}, in.LibDirs...)
	for i, dir := range dirs {
		label := "src"
		if i > 0 {
			label = "lib " + filepath.Base(dir)
		}
		if err := hashTree(label, dir, field); err != nil {
			return "", fmt.Errorf("hashing inputs of %q: %w", in.Service, err)
		}
	}
	field("deps", string(in.DepSpec))
	field("base", in.BaseDigest)
	for _, argv := range in.Argv {
		field("argv", argv...)
	}
	return "sha256:" + hex.EncodeToString(h.Sum(nil)), nil
}

func hashTree(label, dir string, field func(string, ...string)) error {
	keep, err := gitignored(dir)
	if err != nil {
		return err
	}
	files, err := walkTree(dir, keep)
	if err != nil {
		return err
	}
	field(label, strconv.Itoa(len(files)))
	for _, f := range files {
		switch {
		case f.link != "":
			field("symlink", f.rel, f.link)
		default:
			sum, err := fileSHA256(f.abs)
			if err != nil {
				return err
			}
			field("file", f.rel, strconv.FormatUint(uint64(f.mode.Perm()), 8), sum)
		}
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
