package container

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

const (
	testPasswd = `root:x:0:0:root:/root:/bin/bash
daemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin
# a comment
app:x:1000:1000:App:/home/app:/bin/sh

broken line
`
	testGroup = `root:x:0:
daemon:x:1:
app:x:1000:
web:x:2000:other,app
nogroup:x:65534:
`
)

func TestResolveUser(t *testing.T) {
	withFiles := t.TempDir()
	if err := os.MkdirAll(filepath.Join(withFiles, "etc"), 0o755); err != nil {
		t.Fatal(err)
	}
	for name, body := range map[string]string{"passwd": testPasswd, "group": testGroup} {
		if err := os.WriteFile(filepath.Join(withFiles, "etc", name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	empty := t.TempDir()
	tests := []struct {
		rootfs, user string
		want         imageUser
		err          string
	}{
		{withFiles, "", imageUser{UID: 0, GID: 0, Home: "/root"}, ""},
		{withFiles, "app", imageUser{UID: 1000, GID: 1000, AdditionalGids: []uint32{2000}, Home: "/home/app"}, ""},
		{withFiles, "1000", imageUser{UID: 1000, GID: 1000, AdditionalGids: []uint32{2000}, Home: "/home/app"}, ""},
		{withFiles, "app:web", imageUser{UID: 1000, GID: 2000, Home: "/home/app"}, ""},
		{withFiles, "app:65534", imageUser{UID: 1000, GID: 65534, AdditionalGids: []uint32{2000}, Home: "/home/app"}, ""},
		{withFiles, "daemon:nogroup", imageUser{UID: 1, GID: 65534, Home: "/usr/sbin"}, ""},
		{withFiles, "4321", imageUser{UID: 4321, GID: 0, Home: "/"}, ""},
		{withFiles, "4321:4322", imageUser{UID: 4321, GID: 4322, Home: "/"}, ""},
		{withFiles, "nobody", imageUser{}, `no user "nobody"`},
		{withFiles, "app:staff", imageUser{}, `no group "staff"`},
		{withFiles, "-1", imageUser{}, `no user "-1"`},
		{empty, "", imageUser{UID: 0, GID: 0, Home: "/"}, ""},
		{empty, "65532:65532", imageUser{UID: 65532, GID: 65532, Home: "/"}, ""},
		{empty, "app", imageUser{}, `no user "app"`},
	}
	for _, tt := range tests {
		name := tt.user
		if tt.rootfs == empty {
			name += " without /etc/passwd"
		}
		t.Run(name, func(t *testing.T) {
			got, err := resolveUser(tt.rootfs, tt.user)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Errorf("resolveUser(%q) = %+v, %v; want an error with %q", tt.user, got, err, tt.err)
				}
				return
			}
			if err != nil || got.UID != tt.want.UID || got.GID != tt.want.GID || got.Home != tt.want.Home ||
				!slices.Equal(got.AdditionalGids, tt.want.AdditionalGids) {
				t.Errorf("resolveUser(%q) = %+v, %v; want %+v", tt.user, got, err, tt.want)
			}
		})
	}
}
