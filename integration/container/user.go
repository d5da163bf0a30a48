package container

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strconv"
	"strings"
)

// imageUser is who an image's commands run as.
type imageUser struct {
	UID, GID       uint32
	AdditionalGids []uint32
	// Home is the user's home directory from /etc/passwd ("/" when it has no entry), for HOME.
	Home string
}

// passwdEntry is one line of /etc/passwd.
type passwdEntry struct {
	name     string
	uid, gid uint32
	home     string
}

// groupEntry is one line of /etc/group.
type groupEntry struct {
	name    string
	gid     uint32
	members []string
}

// resolveUser resolves an image config's User ("", "uid", "uid:gid", "name", "name:group", …)
// against the /etc/passwd and /etc/group of the root filesystem at rootfs, as Docker does: a
// numeric uid need not have an entry (its group is then 0), a name must; the supplementary
// groups are those that list the user's name.
func resolveUser(rootfs, spec string) (imageUser, error) {
	root, err := os.OpenRoot(rootfs)
	if err != nil {
		return imageUser{}, err
	}
	defer root.Close()
	passwd, err := readPasswd(root)
	if err != nil {
		return imageUser{}, err
	}
	groups, err := readGroups(root)
	if err != nil {
		return imageUser{}, err
	}
	userPart, groupPart, hasGroup := strings.Cut(spec, ":")
	if userPart == "" {
		userPart = "0"
	}
	u := imageUser{Home: "/"}
	entry, err := findUser(passwd, userPart)
	if err != nil {
		return imageUser{}, fmt.Errorf("image user %q: %w", spec, err)
	}
	if entry != nil {
		u.UID, u.GID, u.Home = entry.uid, entry.gid, entry.home
	} else if u.UID, err = parseID(userPart); err != nil {
		return imageUser{}, fmt.Errorf("image user %q: %w", spec, err)
	}
	if hasGroup {
		if u.GID, err = findGroup(groups, groupPart); err != nil {
			return imageUser{}, fmt.Errorf("image user %q: %w", spec, err)
		}
	}
	if entry != nil {
		u.AdditionalGids = memberOf(groups, entry.name, u.GID)
	}
	return u, nil
}

// findUser returns the passwd entry named or numbered s; nil (and no error) for a number
// without an entry.
func findUser(passwd []passwdEntry, s string) (*passwdEntry, error) {
	id, numErr := parseID(s)
	for i, e := range passwd {
		if e.name == s || (numErr == nil && e.uid == id) {
			return &passwd[i], nil
		}
	}
	if numErr != nil {
		return nil, fmt.Errorf("no user %q in /etc/passwd", s)
	}
	return nil, nil
}

// findGroup returns the gid of the group named or numbered s.
func findGroup(groups []groupEntry, s string) (uint32, error) {
	if id, err := parseID(s); err == nil {
		return id, nil
	}
	for _, g := range groups {
		if g.name == s {
			return g.gid, nil
		}
	}
	return 0, fmt.Errorf("no group %q in /etc/group", s)
}

// memberOf returns the gids of the groups that list user, but primary.
func memberOf(groups []groupEntry, user string, primary uint32) []uint32 {
	var gids []uint32
	for _, g := range groups {
		if g.gid == primary {
			continue
		}
		for _, m := range g.members {
			if m == user {
				gids = append(gids, g.gid)
				break
			}
		}
	}
	return gids
}

// parseID parses a uid or gid.
func parseID(s string) (uint32, error) {
	n, err := strconv.ParseUint(s, 10, 32)
	if err != nil {
		return 0, fmt.Errorf("%q is not a user or group ID", s)
	}
	return uint32(n), nil
}

// readPasswd reads etc/passwd under root; a missing file has no entries.
func readPasswd(root *os.Root) ([]passwdEntry, error) {
	var out []passwdEntry
	err := readColonFile(root, "etc/passwd", 7, func(f []string) {
		uid, err1 := parseID(f[2])
		gid, err2 := parseID(f[3])
		if err1 == nil && err2 == nil {
			out = append(out, passwdEntry{name: f[0], uid: uid, gid: gid, home: f[5]})
		}
	})
	return out, err
}

// readGroups reads etc/group under root; a missing file has no entries.
func readGroups(root *os.Root) ([]groupEntry, error) {
	var out []groupEntry
	err := readColonFile(root, "etc/group", 4, func(f []string) {
		gid, err := parseID(f[2])
		if err != nil {
			return
		}
		g := groupEntry{name: f[0], gid: gid}
		if f[3] != "" {
			g.members = strings.Split(f[3], ",")
		}
		out = append(out, g)
	})
	return out, err
}

// readColonFile calls line with the fields of every line of name that has at least n of them,
// skipping comments and blank lines.
func readColonFile(root *os.Root, name string, n int, line func([]string)) error {
	b, err := root.ReadFile(name)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("reading the image's /%s: %w", name, err)
	}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		t := strings.TrimSpace(sc.Text())
		if t == "" || strings.HasPrefix(t, "#") {
			continue
		}
		if f := strings.Split(t, ":"); len(f) >= n {
			line(f)
		}
	}
	return sc.Err()
}
