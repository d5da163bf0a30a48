package size

import (
	"fmt"
	"io/fs"
	"path/filepath"
	"syscall"
)

// Freed is what removing the tree at dir would free, in bytes: the sizes of its regular files
// whose every hard link is in the tree. A file also linked from elsewhere (a virtualenv's or an
// unpacked layer's from uv's cache, bytecode from the store) stays, and frees nothing.
func Freed(dir string) (int64, error) {
	type inode struct{ dev, ino uint64 }
	type file struct {
		size         int64
		links, inDir uint64
	}
	files := map[inode]*file{}
	err := filepath.WalkDir(dir, func(_ string, d fs.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		st, ok := info.Sys().(*syscall.Stat_t)
		if !ok {
			return fmt.Errorf("%s: no inode", info.Name())
		}
		k := inode{uint64(st.Dev), st.Ino}
		if files[k] == nil {
			files[k] = &file{size: info.Size(), links: uint64(st.Nlink)}
		}
		files[k].inDir++
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("measuring %s: %w", dir, err)
	}
	var n int64
	for _, f := range files {
		if f.inDir >= f.links {
			n += f.size
		}
	}
	return n, nil
}
