package container

import (
	"archive/tar"
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// UnpackStats says what unpacking an image's filesystem wrote and what it cost.
type UnpackStats struct {
	// Duration is the time from the first byte read to the last metadata set.
	Duration time.Duration
	// Files, Dirs, Symlinks and Hardlinks count what was created.
	Files, Dirs, Symlinks, Hardlinks int
	// Bytes is the content of the regular files.
	Bytes int64
	// Skipped counts entries not created: device nodes, FIFOs and unknown types.
	Skipped int
	// Whiteouts counts OCI whiteouts (.wh.NAME) and opaque markers (.wh..wh..opq) converted to
	// overlayfs's (only when unpacking a single layer for overlayfs).
	Whiteouts int
}

// String summarises s: "4123 files (130.2 MB), 512 dirs, 901 symlinks, 2 hardlinks in 1.9s".
func (s UnpackStats) String() string {
	wh := ""
	if s.Whiteouts > 0 {
		wh = fmt.Sprintf(", %d whiteouts", s.Whiteouts)
	}
	return fmt.Sprintf("%d files (%.1f MB), %d dirs, %d symlinks, %d hardlinks, %d skipped%s in %s",
		s.Files, float64(s.Bytes)/1e6, s.Dirs, s.Symlinks, s.Hardlinks, s.Skipped, wh, s.Duration.Round(time.Millisecond))
}

// add returns s and t summed.
func (s UnpackStats) add(t UnpackStats) UnpackStats {
	return UnpackStats{Duration: s.Duration + t.Duration, Files: s.Files + t.Files, Dirs: s.Dirs + t.Dirs,
		Symlinks: s.Symlinks + t.Symlinks, Hardlinks: s.Hardlinks + t.Hardlinks, Bytes: s.Bytes + t.Bytes,
		Skipped: s.Skipped + t.Skipped, Whiteouts: s.Whiteouts + t.Whiteouts}
}

// unpacker writes a flattened image filesystem (mutate.Extract's tar stream) under a root.
//
// Every path is resolved by an os.Root, so no entry is written outside the root, neither through
// ".." nor through a symlink (a symlink to an absolute path, or one climbing out, is refused
// when a later entry's path goes through it). The stream lists the top layer first, so a file can
// come before its directory: missing parents are created (0755, root) and marked implicit until
// their own entry sets their metadata.
type unpacker struct {
	root     *os.Root
	subs     map[string]*os.Root // open directories (see in)
	chown    bool                // set ownership (only root can)
	overlay  bool                // one layer for overlayfs: convert OCI whiteouts (see whiteout)
	known    map[string]bool     // directories that exist, implicit or not
	implicit map[string]bool     // directories created as parents, not by their own entry
	dirs     []dirMeta           // directory metadata, applied last
	buf      []byte
	stats    UnpackStats
}

type dirMeta struct {
	name  string
	mode  fs.FileMode
	mtime time.Time
}

// untar unpacks the tar stream r into dir, which must exist.
func untar(ctx context.Context, r io.Reader, dir string) (UnpackStats, error) {
	return unpack(ctx, r, dir, false)
}

// untarLayer unpacks one image layer's tar stream r into dir, which must exist, for use as an
// overlayfs lower directory: OCI whiteouts become overlayfs's (see unpacker.whiteout).
func untarLayer(ctx context.Context, r io.Reader, dir string) (UnpackStats, error) {
	return unpack(ctx, r, dir, true)
}

func unpack(ctx context.Context, r io.Reader, dir string, overlay bool) (UnpackStats, error) {
	start := time.Now()
	root, err := os.OpenRoot(dir)
	if err != nil {
		return UnpackStats{}, err
	}
	defer root.Close()
	u := &unpacker{root: root, chown: os.Geteuid() == 0, overlay: overlay, known: map[string]bool{}, implicit: map[string]bool{},
		buf: make([]byte, 1<<20), subs: map[string]*os.Root{}}
	defer u.closeSubs()
	tr := tar.NewReader(r)
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return u.stats, fmt.Errorf("reading the layer stream: %w", err)
		}
		if err := ctx.Err(); err != nil {
			return u.stats, err
		}
		if err := u.entry(hdr, tr); err != nil {
			return u.stats, fmt.Errorf("unpacking %q: %w", hdr.Name, err)
		}
	}
	if err := u.finishDirs(); err != nil {
		return u.stats, err
	}
	u.stats.Duration = time.Since(start)
	return u.stats, nil
}

// cleanName makes a tar entry's name relative to the root ("" for the root itself) and refuses
// one that climbs out of it.
func cleanName(name string) (string, error) {
	c := path.Clean(strings.TrimLeft(name, "/"))
	if c == "." {
		return "", nil
	}
	if !filepath.IsLocal(c) {
		return "", fmt.Errorf("path %q escapes the root", name)
	}
	return c, nil
}

// maxOpenDirs bounds the directories an unpacker keeps open.
const maxOpenDirs = 64

// in returns the directory that holds name, opened as a Root of its own (which, opened through
// the unpacker's Root, lies inside it), and name's last element. Entries come grouped by
// directory, so a few open directories spare resolving most paths from the top (a sixth of
// the time of an unpack here).
func (u *unpacker) in(name string) (*os.Root, string, error) {
	dir, base := path.Split(name)
	dir = strings.TrimSuffix(dir, "/")
	if dir == "" {
		return u.root, base, nil
	}
	if r, ok := u.subs[dir]; ok {
		return r, base, nil
	}
	if len(u.subs) >= maxOpenDirs {
		u.closeSubs()
	}
	r, err := u.root.OpenRoot(dir)
	if err != nil {
		return nil, "", err
	}
	u.subs[dir] = r
	return r, base, nil
}

// closeSubs closes the open directories.
func (u *unpacker) closeSubs() {
	for k, r := range u.subs {
		r.Close()
		delete(u.subs, k)
	}
}

// entry creates one tar entry.
func (u *unpacker) entry(hdr *tar.Header, r io.Reader) error {
	name, err := cleanName(hdr.Name)
	if err != nil {
		return err
	}
	if name == "" {
		return nil // the root keeps the mode its creator gave it
	}
	if u.overlay && strings.HasPrefix(path.Base(name), whiteoutPrefix) {
		return u.whiteout(name)
	}
	switch hdr.Typeflag {
	case tar.TypeDir:
		return u.dir(name, hdr)
	case tar.TypeReg:
		return u.nonDir(name, func() error { return u.file(name, hdr, r) })
	case tar.TypeSymlink:
		return u.nonDir(name, func() error { return u.symlink(name, hdr) })
	case tar.TypeLink:
		return u.nonDir(name, func() error { return u.hardlink(name, hdr) })
	default: // device nodes, FIFOs, anything else: a container gets its devices from the runtime
		u.stats.Skipped++
		return nil
	}
}

// dir creates a directory, or takes over an implicit one; its mode and time are set last.
func (u *unpacker) dir(name string, hdr *tar.Header) error {
	if err := u.parents(name); err != nil {
		return err
	}
	d, base, err := u.in(name)
	if err != nil {
		return err
	}
	if !u.known[name] {
		if err := d.Mkdir(base, 0o700); err != nil {
			return err
		}
		u.known[name] = true
	}
	delete(u.implicit, name)
	if err := u.lchown(d, base, hdr); err != nil {
		return err
	}
	u.dirs = append(u.dirs, dirMeta{name: name, mode: mode(hdr), mtime: hdr.ModTime})
	u.stats.Dirs++
	return nil
}

// nonDir creates the parents of name, then calls create.
func (u *unpacker) nonDir(name string, create func() error) error {
	if u.implicit[name] {
		// A higher layer put content under name, which this lower layer makes a file or a link
		// (a symlinked /bin on a usr-merged base, say). Flattened, that content would shadow it.
		return errors.New("a higher layer has content under this path, which is not a directory here: not supported")
	}
	if err := u.parents(name); err != nil {
		return err
	}
	return create()
}

// parents creates the missing directories above name, marking them implicit.
func (u *unpacker) parents(name string) error {
	parent := path.Dir(name)
	if parent == "." || u.known[parent] {
		return nil
	}
	if err := u.parents(parent); err != nil {
		return err
	}
	fi, err := u.root.Lstat(parent)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		if err := u.root.Mkdir(parent, 0o755); err != nil {
			return err
		}
		u.implicit[parent] = true
	case err != nil:
		return err
	case fi.Mode()&fs.ModeSymlink == 0 && !fi.IsDir():
		return fmt.Errorf("%q is not a directory", parent)
	}
	// A symlink is followed by the os.Root when name is opened; it refuses one leading out.
	u.known[parent] = true
	return nil
}

// file writes a regular file with its content, owner, mode and time.
func (u *unpacker) file(name string, hdr *tar.Header, r io.Reader) error {
	d, base, err := u.in(name)
	if err != nil {
		return err
	}
	f, err := d.OpenFile(base, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	n, err := io.CopyBuffer(f, r, u.buf)
	if err == nil && u.chown {
		err = f.Chown(hdr.Uid, hdr.Gid)
	}
	if err == nil {
		err = f.Chmod(mode(hdr)) // after Chown, which clears set-user-ID and set-group-ID
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	u.stats.Files++
	u.stats.Bytes += n
	return d.Chtimes(base, hdr.ModTime, hdr.ModTime)
}

// symlink creates a symbolic link; its target is kept as it is and resolved by the container.
func (u *unpacker) symlink(name string, hdr *tar.Header) error {
	d, base, err := u.in(name)
	if err != nil {
		return err
	}
	if err := d.Symlink(hdr.Linkname, base); err != nil {
		return err
	}
	u.stats.Symlinks++
	return u.lchown(d, base, hdr)
}

// hardlink links name to an entry unpacked before it.
func (u *unpacker) hardlink(name string, hdr *tar.Header) error {
	target, err := cleanName(hdr.Linkname)
	if err != nil {
		return err
	}
	if target == "" {
		return errors.New("hard link to the root")
	}
	if err := u.root.Link(target, name); err != nil {
		return err
	}
	u.stats.Hardlinks++
	return nil
}

// OCI whiteouts (image-spec layer.md): in a layer, ".wh.NAME" deletes NAME of the layers below,
// and ".wh..wh..opq" in a directory hides what the layers below have in it.
const (
	whiteoutPrefix = ".wh."
	whiteoutOpaque = ".wh..wh..opq"
)

// whiteout converts an OCI whiteout to overlayfs's: ".wh.NAME" becomes NAME, a character device
// 0/0; ".wh..wh..opq" sets trusted.overlay.opaque=y on its directory (creating it when it has no
// entry of its own yet). Both need root (CAP_MKNOD, CAP_SYS_ADMIN) and a file system with
// trusted extended attributes.
func (u *unpacker) whiteout(name string) error {
	dir, base := path.Split(name)
	dir = strings.TrimSuffix(dir, "/")
	if base == whiteoutOpaque {
		if dir != "" && !u.known[dir] {
			if err := u.parents(dir + "/x"); err != nil {
				return err
			}
		}
		f, err := u.root.Open(cmp.Or(dir, "."))
		if err != nil {
			return err
		}
		defer f.Close()
		if err := unix.Fsetxattr(int(f.Fd()), "trusted.overlay.opaque", []byte("y"), 0); err != nil {
			return fmt.Errorf("marking %q opaque: %w", cmp.Or(dir, "/"), err)
		}
		u.stats.Whiteouts++
		return nil
	}
	hidden := strings.TrimPrefix(base, whiteoutPrefix)
	if hidden == "" || hidden == "." || hidden == ".." {
		return errors.New("malformed whiteout")
	}
	target := path.Join(dir, hidden)
	return u.nonDir(target, func() error {
		f, err := u.root.Open(cmp.Or(dir, "."))
		if err != nil {
			return err
		}
		defer f.Close()
		if err := unix.Mknodat(int(f.Fd()), path.Base(target), unix.S_IFCHR, int(unix.Mkdev(0, 0))); err != nil {
			return fmt.Errorf("creating the whiteout of %q: %w", target, err)
		}
		u.stats.Whiteouts++
		return nil
	})
}

// lchown sets the owner of base in d (not of a symlink's target) when running as root.
func (u *unpacker) lchown(d *os.Root, base string, hdr *tar.Header) error {
	if !u.chown {
		return nil
	}
	return d.Lchown(base, hdr.Uid, hdr.Gid)
}

// finishDirs sets directory modes and times, now that nothing more is written into them.
func (u *unpacker) finishDirs() error {
	for _, d := range u.dirs {
		if err := u.root.Chmod(d.name, d.mode); err != nil {
			return fmt.Errorf("setting the mode of %q: %w", d.name, err)
		}
		if err := u.root.Chtimes(d.name, d.mtime, d.mtime); err != nil {
			return fmt.Errorf("setting the time of %q: %w", d.name, err)
		}
	}
	return nil
}

// mode is an entry's permission bits with set-user-ID, set-group-ID and sticky.
func mode(hdr *tar.Header) fs.FileMode {
	return hdr.FileInfo().Mode() & (fs.ModePerm | fs.ModeSetuid | fs.ModeSetgid | fs.ModeSticky)
}
