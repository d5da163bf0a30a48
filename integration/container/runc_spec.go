package container

import (
	"encoding/json"
	"fmt"
	"os"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/convoy-ci/convoy/integration"
)

// hostFiles are bound read-only into every container, so that names resolve as on the host (the
// container shares the host's network).
var hostFiles = []string{"/etc/resolv.conf", "/etc/hosts"}

// spec returns cmd's runtime configuration: runc spec's template with the command, the image's
// environment (cmd.Env over it), working directory and user, the shared root filesystem (writable),
// the host's network, the host's resolv.conf and hosts, and a tmpfs at /tmp.
func (r *Runc) spec(rootfs string, img v1.Config, user imageUser, cmd integration.Command) (*specs.Spec, error) {
	var s specs.Spec
	if err := json.Unmarshal(r.template, &s); err != nil {
		return nil, fmt.Errorf("parsing runc spec's template: %w", err)
	}
	env := mergeEnv(img.Env, cmd.Env)
	if !hasEnv(env, "HOME") {
		env = append(env, "HOME="+user.Home)
	}
	cwd := img.WorkingDir
	if cwd == "" {
		cwd = "/"
	}
	s.Process.Terminal = false
	s.Process.Args = cmd.Argv
	s.Process.Env = env
	s.Process.Cwd = cwd
	s.Process.User = specs.User{UID: user.UID, GID: user.GID, AdditionalGids: user.AdditionalGids}
	s.Process.NoNewPrivileges = true
	s.Root = &specs.Root{Path: rootfs}
	s.Hostname = r.hostname
	s.Linux.Namespaces = without(s.Linux.Namespaces, specs.NetworkNamespace)
	s.Mounts = append(s.Mounts, hostMounts()...)
	s.Mounts = append(s.Mounts, specs.Mount{
		Destination: "/tmp", Type: "tmpfs", Source: "tmpfs",
		Options: []string{"nosuid", "nodev", "mode=1777"},
	})
	return &s, nil
}

// without returns namespaces without the one of type t.
func without(namespaces []specs.LinuxNamespace, t specs.LinuxNamespaceType) []specs.LinuxNamespace {
	var out []specs.LinuxNamespace
	for _, ns := range namespaces {
		if ns.Type != t {
			out = append(out, ns)
		}
	}
	return out
}

// hostMounts binds the host files that exist read-only at the same paths.
func hostMounts() []specs.Mount {
	var m []specs.Mount
	for _, f := range hostFiles {
		if _, err := os.Stat(f); err != nil {
			continue
		}
		m = append(m, specs.Mount{
			Destination: f, Type: "bind", Source: f,
			Options: []string{"rbind", "ro", "nosuid", "nodev", "noexec"},
		})
	}
	return m
}
