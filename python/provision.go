package python

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/convoy-ci/convoy/internal/filelock"
)

// provisioned is a tool convoy installs itself, pinned, under its tools directory.
type provisioned struct {
	name, version string
	// bin is the tool's executable in the directory it is installed in.
	bin func(dir string) string
	// versionOf runs the executable at bin and returns the version it says it is.
	versionOf func(ctx context.Context, bin string) (string, error)
	// install installs the tool into a new directory under tmp and returns that directory.
	install func(ctx context.Context, tmp string) (string, error)
	// hint says how to make the install possible when it failed.
	hint string
}

// provision returns the executable of p in toolsDir/NAME-VERSION, installing it first when it
// is not there or does not answer with its version. A file lock serialises convoy processes that
// provision at once; the install goes to a temporary directory renamed into place once the tool
// answers, so that a half-made one is never used.
func provision(ctx context.Context, toolsDir string, p provisioned) (string, error) {
	dir := filepath.Join(toolsDir, p.name+"-"+p.version)
	if v, err := p.versionOf(ctx, p.bin(dir)); err == nil && v == p.version {
		return p.bin(dir), nil
	}
	if err := os.MkdirAll(toolsDir, 0o755); err != nil {
		return "", fmt.Errorf("provisioning %s %s: %w", p.name, p.version, err)
	}
	unlock, err := filelock.Lock(ctx, dir+".lock")
	if err != nil {
		return "", fmt.Errorf("provisioning %s %s: %w", p.name, p.version, err)
	}
	defer unlock()
	if v, err := p.versionOf(ctx, p.bin(dir)); err == nil && v == p.version {
		return p.bin(dir), nil // another process provisioned it while this one waited
	}
	if err := installChecked(ctx, toolsDir, dir, p); err != nil {
		return "", fmt.Errorf("provisioning %s %s into %s: %w (%s)", p.name, p.version, dir, err, p.hint)
	}
	return p.bin(dir), nil
}

// installChecked installs p into a temporary directory of toolsDir, checks that it answers with
// its version and renames it to dir.
func installChecked(ctx context.Context, toolsDir, dir string, p provisioned) error {
	tmp, err := os.MkdirTemp(toolsDir, "."+p.name+"-"+p.version+"-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	installed, err := p.install(ctx, tmp)
	if err != nil {
		return err
	}
	v, err := p.versionOf(ctx, p.bin(installed))
	if err != nil {
		return fmt.Errorf("checking the installed %s: %w", p.name, err)
	}
	if v != p.version {
		return fmt.Errorf("the installed %s says it is %s", p.name, v)
	}
	if err := os.RemoveAll(dir); err != nil {
		return err
	}
	return os.Rename(installed, dir)
}
