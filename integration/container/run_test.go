package container

import (
	"archive/tar"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"

	"github.com/convoy-ci/convoy/integration"
	"github.com/convoy-ci/convoy/integration/internal/pgtest"
	"github.com/convoy-ci/convoy/integration/pgcluster"
)

// svcScript stands in for a service's manage.py inside its image: migrate and populate record
// what they did in /app/state (the run's writable root filesystem, shared by the service's
// commands) after reaching the database at $DATABASE_URL; serve answers /healthz on
// $HOST:$PORT with that record.
const svcScript = `import json, os, signal, socket, sys, urllib.parse
from http.server import BaseHTTPRequestHandler, HTTPServer
STATE = "/app/state/record"
def database():
    u = urllib.parse.urlsplit(os.environ["DATABASE_URL"])
    socket.create_connection((u.hostname, u.port or 5432), timeout=5).close()
    return u.path.lstrip("/")
def record(line):
    with open(STATE, "a") as f:
        f.write(line + "\n")
class Health(BaseHTTPRequestHandler):
    def do_GET(self):
        with open(STATE) as f:
            body = json.dumps({"record": f.read().splitlines(), "uid": os.getuid(), "database": database()}).encode()
        self.send_response(200 if self.path == "/healthz" else 404)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def log_message(self, *args):
        pass
cmd = sys.argv[1]
if cmd == "migrate":
    record("migrated " + database())
elif cmd == "populate":
    record("populated " + sys.argv[2])
else:
    srv = HTTPServer((os.environ["HOST"], int(os.environ["PORT"])), Health)
    signal.signal(signal.SIGTERM, lambda *_: os._exit(0))
    print("listening", flush=True)
    srv.serve_forever()
print(cmd, "done", flush=True)
`

// suiteScript runs on the host and checks what the service answers.
const suiteScript = `import json, os, sys, urllib.request
body = json.load(urllib.request.urlopen(os.environ["API_URL"] + "/healthz", timeout=10))
want = {"record": ["migrated " + sys.argv[1], "populated default"], "uid": 4321, "database": sys.argv[1]}
print(body)
sys.exit(0 if body == want else 1)
`

// TestRunWithRunc runs integration.Run with a service whose commands run in its image under
// runc, against a throwaway PostgreSQL cluster: the seam end to end, teardown included.
func TestRunWithRunc(t *testing.T) {
	pgBin, err := pgcluster.FindBinDir()
	if err != nil {
		pgtest.Missing(t, err)
	}
	rt := newRunc(t)
	img := svcImage(t, testImage(t, baseImage(t), testUser))
	run := strings.ReplaceAll(runID(), "-", "_")
	spec := integration.Spec{
		Repo:  t.TempDir(),
		RunID: run,
		Services: []integration.Service{{
			Name:          "api",
			Launcher:      rt.Launcher("api", run, img),
			Migrate:       []string{"python3", "/app/svc.py", "migrate"},
			Populate:      []string{"python3", "/app/svc.py", "populate", "default"},
			Serve:         []string{"python3", "/app/svc.py", "serve"},
			HealthTimeout: time.Minute,
		}},
		Suite: integration.Suite{Argv: []string{"python3", "-c", suiteScript, "api_" + run}, Timeout: time.Minute},
	}
	rep, err := integration.Run(t.Context(), spec, integration.WithPostgresBinDir(pgBin),
		integration.WithGracePeriod(5*time.Second))
	logs, _ := os.ReadFile(filepath.Join(rep.LogDir, "api.log"))
	suite, _ := os.ReadFile(filepath.Join(rep.LogDir, "suite.log"))
	if err != nil {
		t.Fatalf("Run: %v\napi.log:\n%s\nsuite.log:\n%s", err, logs, suite)
	}
	if s := rep.Services[0]; !s.Healthy || rep.Suite.ExitCode != 0 {
		t.Errorf("service %+v, suite exit %d", s, rep.Suite.ExitCode)
	}
	for _, want := range []string{"=== convoy: migrate: python3 /app/svc.py migrate (in runc: api@sha256:", "migrate done",
		"populate done", "listening"} {
		if !strings.Contains(string(logs), want) {
			t.Errorf("api.log lacks %q:\n%s", want, logs)
		}
	}
	for _, dir := range []string{rt.rootfsDir, rt.bundleDir, rt.stateRoot} {
		if names := listDir(dir); len(names) > 0 {
			t.Errorf("%s has %v after the run", dir, names)
		}
	}
}

// svcImage is img (a testImage) with /app/svc.py.
func svcImage(t *testing.T, img v1.Image) v1.Image {
	t.Helper()
	layer := tarLayer(t, []tarEntry{
		{hdr: tar.Header{Name: "app/svc.py", Typeflag: tar.TypeReg, Mode: 0o644}, body: svcScript},
	})
	img, err := mutate.Append(img, mutate.Addendum{Layer: layer})
	if err != nil {
		t.Fatal(err)
	}
	return img
}
