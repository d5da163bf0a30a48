// Package filekind names what kind of file a mode describes, for the messages that refuse a
// file that is not a regular one (a manifest, a docker archive).
package filekind

import "io/fs"

// Of names the kind of a non-regular file's mode: "directory", "named pipe", "device",
// "socket", else "special file".
func Of(m fs.FileMode) string {
	switch {
	case m.IsDir():
		return "directory"
	case m&fs.ModeNamedPipe != 0:
		return "named pipe"
	case m&fs.ModeDevice != 0:
		return "device"
	case m&fs.ModeSocket != 0:
		return "socket"
	}
	return "special file"
}
