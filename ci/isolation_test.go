package main

import (
	"encoding/json"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/convoy-ci/convoy/pipeline"
)

// listenUnix serves a unix socket at path until the test ends, answering every connection.
func listenUnix(t *testing.T, path string) {
	t.Helper()
	ln, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			_, _ = c.Write([]byte("host\n"))
			c.Close()
		}
	}()
}

// TestOfflineStagesSeeNoHostSockets: unit and populate cannot reach the host's unix sockets — a
// listener under /tmp, one under /run (as root) — while lint, which is not offline, can; the
// offline stages still reach their own files under /tmp (the service, the repository's
// .convoy, a cache directory that is a symlink under /tmp, the virtualenv in it) and get a
// /tmp of their own to write to.
func TestOfflineStagesSeeNoHostSockets(t *testing.T) {
	sockDir := t.TempDir()
	socks := []string{filepath.Join(sockDir, "host.sock")}
	if os.Geteuid() == 0 {
		run, err := os.MkdirTemp("/run", "convoy-test-")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { os.RemoveAll(run) })
		socks = append(socks, filepath.Join(run, "host.sock"))
	}
	for _, s := range socks {
		listenUnix(t, s)
	}
	probe := py(fmt.Sprintf(`import os, socket, sys, tempfile
for path in %s:
    s = socket.socket(socket.AF_UNIX)
    try:
        s.connect(path); print("REACHED", path)
    except OSError as e:
        print("hidden:", path, e)
print("own file:", open("own.txt").read().strip())
print("venv:", sys.prefix, os.path.isdir(os.environ["VIRTUAL_ENV"]))
with tempfile.NamedTemporaryFile(dir="/tmp") as f:
    own = socket.socket(socket.AF_UNIX); own.bind(f.name + ".sock"); own.listen(); own.close()
print("tmp writable")`, jsonList(t, socks)))
	root := writeRepo(t, pyServices("", map[string]map[string]string{
		"a": {"unit": probe, "populate": probe, "lint": probe},
	}))
	writeFiles(t, root, map[string]string{"svc/a/own.txt": "mine\n"})
	cache := filepath.Join(t.TempDir(), "cache")
	if err := os.Symlink(sharedCache, cache); err != nil {
		t.Fatal(err)
	}
	res := convoyIn(t, root, cache, nil, "gate", "--output", "json")
	if res.code != 0 {
		t.Fatalf("exit %d\n%s\n%s", res.code, res.stdout, res.stderr)
	}
	for _, e := range res.events {
		if e.Type == pipeline.EventNotice && strings.Contains(e.Message, "network isolation is not available") {
			t.Skipf("this machine gives no namespaces: %s", e.Message)
		}
	}
	for stage, wantReach := range map[string]bool{"unit": false, "populate": false, "lint": true} {
		data, err := os.ReadFile(filepath.Join(latestLogs(t, root), "a", stage+".log"))
		if err != nil {
			t.Fatal(err)
		}
		log := string(data)
		for _, s := range socks {
			if reached := strings.Contains(log, "REACHED "+s+"\n"); reached != wantReach {
				t.Errorf("%s reached %s = %v, want %v:\n%s", stage, s, reached, wantReach, log)
			}
		}
		for _, want := range []string{"own file: mine\n", "venv: " + cache, "True\n", "tmp writable\n"} {
			if !strings.Contains(log, want) {
				t.Errorf("%s log lacks %q:\n%s", stage, want, log)
			}
		}
	}
}

// jsonList is list as a JSON (and Python) list literal.
func jsonList(t *testing.T, list []string) string {
	t.Helper()
	b, err := json.Marshal(list)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
