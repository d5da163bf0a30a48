// Package initgen scans a repository of Python services and writes the services.yaml that
// describes them (convoy init): every detected value carries a comment saying where it came
// from, and what could not be decided carries a TODO.
package initgen

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
)

// ErrExists is returned by Write when the manifest exists and overwriting was not asked for.
var ErrExists = errors.New("exists (pass --force to overwrite it)")

// ErrNoServices is returned when the scan finds no service in the repository.
var ErrNoServices = errors.New("no service found (a directory with manage.py, a Dockerfile, or a dependency spec beside a FastAPI or Flask app)")

// DefaultBase is the base image written when no other is asked for: the one
// scripts/base-image.sh builds from Debian packages.
const DefaultBase = "oci-layout:/var/cache/convoy/base:python"

// DefaultPython is the interpreter version written when no Dockerfile names one.
const DefaultPython = "3.11"

// Option configures Generate and Write.
type Option func(*options)

type options struct {
	base string
}

// WithBase sets the base image reference written as defaults.base (default DefaultBase).
func WithBase(ref string) Option { return func(o *options) { o.base = ref } }

// Generate scans the repository at root and returns the manifest describing it.
func Generate(root string, opts ...Option) ([]byte, error) {
	o := options{base: DefaultBase}
	for _, opt := range opts {
		opt(&o)
	}
	abs, err := filepath.Abs(root)
	if err != nil {
		return nil, fmt.Errorf("scanning %q: %w", root, err)
	}
	r, err := scan(abs)
	if err != nil {
		return nil, fmt.Errorf("scanning %q: %w", root, err)
	}
	if len(r.services) == 0 {
		return nil, fmt.Errorf("scanning %q: %w", root, ErrNoServices)
	}
	return render(r, o)
}

// Write scans the repository at root and writes its manifest to file (relative to root unless
// absolute). An existing file is left as it is, and ErrExists returned, unless force is set.
// It returns the path written.
func Write(root, file string, force bool, opts ...Option) (string, error) {
	if !filepath.IsAbs(file) {
		file = filepath.Join(root, file)
	}
	if _, err := os.Lstat(file); err == nil && !force {
		return file, fmt.Errorf("writing %q: %w", file, ErrExists)
	}
	data, err := Generate(root, opts...)
	if err != nil {
		return file, err
	}
	if err := os.WriteFile(file, data, 0o644); err != nil {
		return file, fmt.Errorf("writing %q: %w", file, err)
	}
	return file, nil
}
