package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/convoy-ci/convoy/image"
	"github.com/convoy-ci/convoy/pipeline"
)

// rendezvousPopulate is a populate stage that waits (at most a minute) until the other run's
// populate stage has started too, so the two overlap, then fails when both were given the same
// database file; it writes its own token into its database and its log.
const rendezvousPopulate = `import os, sqlite3, sys, time
path = os.environ["DATABASE_URL"][len("sqlite:///"):]
bar = os.path.join("..", "..", "barrier")
me = str(os.getpid())
with open(os.path.join(bar, me), "w") as f:
    f.write(path)
deadline = time.time() + 60
while len(os.listdir(bar)) < 2:
    if time.time() > deadline:
        sys.exit("the other run's populate never started")
    time.sleep(0.01)
paths = {open(os.path.join(bar, p)).read() for p in os.listdir(bar)}
if len(paths) != 2:
    sys.exit("both runs were given the database " + path)
db = sqlite3.connect(path)
db.execute("CREATE TABLE t (who TEXT)")
db.execute("INSERT INTO t VALUES (?)", (me,))
db.commit()
print("populated by", me)
`

// TestConcurrentBuilds: two `convoy build` processes in one repository at once. Their populate
// stages overlap (they wait for each other) and each gets a database file of its own; each run
// writes its own log directory (.convoy/runs/<id>/logs, .convoy/logs linking to the last);
// both pass; the OCI store they both wrote holds their image whole.
func TestConcurrentBuilds(t *testing.T) {
	needBase(t)
	q, _ := json.Marshal(rendezvousPopulate)
	root := imageRepo(t, "pass", "    populate: [python, -c, "+string(q)+"]\n")
	if err := os.Mkdir(filepath.Join(root, "barrier"), 0o755); err != nil {
		t.Fatal(err)
	}
	writeFiles(t, root, map[string]string{".git/info/exclude": "barrier/\n"})
	results := make([]runResult, 2)
	var wg sync.WaitGroup
	for i := range results {
		wg.Go(func() {
			cmd := exec.Command(convoyBin, "build", "--no-cache", "--output", "json", "-C", root, "--cache-dir", sharedCache)
			var out, errb bytes.Buffer
			cmd.Stdout, cmd.Stderr = &out, &errb
			err := cmd.Run()
			results[i] = runResult{stdout: out.String(), stderr: errb.String()}
			if ee, ok := err.(*exec.ExitError); ok {
				results[i].code = ee.ExitCode()
			} else if err != nil {
				t.Errorf("running convoy: %v", err)
			}
		})
	}
	wg.Wait()
	store, err := image.OpenStore(filepath.Join(root, ".convoy", "oci"))
	if err != nil {
		t.Fatal(err)
	}
	for i := range results {
		res := &results[i]
		res.decode(t)
		if res.code != 0 {
			t.Fatalf("run %d: exit %d\n%s\n%s", i, res.code, res.stdout, res.stderr)
		}
		web := res.service(t, "web")
		img, err := store.Image(web.Digest)
		if err != nil {
			t.Fatalf("run %d's image: %v", i, err)
		}
		if err := wholeImage(img); err != nil {
			t.Errorf("run %d's image %s is not whole in the store: %v", i, web.Digest, err)
		}
	}
	logs, err := filepath.Glob(filepath.Join(root, ".convoy", pipeline.RunsDirName, "*", "logs", "web", "populate.log"))
	if err != nil || len(logs) != 2 {
		t.Fatalf("populate logs = %v (%v), want one per run", logs, err)
	}
	seen := map[string]bool{}
	for _, l := range logs {
		data, err := os.ReadFile(l)
		if err != nil {
			t.Fatal(err)
		}
		_, who, ok := strings.Cut(string(data), "populated by ")
		if !ok || seen[who] {
			t.Errorf("%s does not hold one run's own output:\n%s", l, data)
		}
		seen[who] = true
	}
	if l := latestLogs(t, root); !slices.Contains(logs, filepath.Join(l, "web", "populate.log")) {
		t.Errorf("the latest link points to %s, not to either run's logs", l)
	}
	if dbs, _ := filepath.Glob(filepath.Join(root, ".convoy", pipeline.RunsDirName, "*", "db")); len(dbs) != 0 {
		t.Errorf("finished runs left their scratch databases: %v", dbs)
	}
}

// wholeImage reads every layer of img and checks it against its digest.
func wholeImage(img v1.Image) error {
	layers, err := img.Layers()
	if err != nil {
		return err
	}
	for _, l := range layers {
		want, err := l.Digest()
		if err != nil {
			return err
		}
		rc, err := l.Compressed()
		if err != nil {
			return err
		}
		got, _, err := v1.SHA256(rc)
		rc.Close()
		if err != nil {
			return err
		}
		if got != want {
			return fmt.Errorf("layer %s reads as %s", want, got)
		}
	}
	return nil
}
