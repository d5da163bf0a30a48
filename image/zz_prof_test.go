package image

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/convoy-ci/convoy/integration/container"
)

func TestZZProfPayments(t *testing.T) {
	base, err := LoadBase(context.Background(), "oci-layout:/var/cache/convoy/base:python")
	if err != nil {
		t.Fatal(err)
	}
	spec := helloSpec(t, monorepo(t), base)
	spec.Python = ""
	spec.Requirements = strings.Fields("asgiref==3.13.0 certifi==2026.10.19.post1 charset-normalizer==3.5.3 dj-database-url==3.1.2 django==5.2.19 djangorestframework==3.18.3 gunicorn==27.0.1 idna==3.20 psycopg-binary==3.3.9 psycopg==3.3.9 pyjwt==2.15.1 pyyaml==6.0.4 requests==2.34.2 sqlparse==0.6.1 typing-extensions==4.16.0 urllib3==2.8.0")
	spec.CacheDir, spec.Tools = filepath.Join("/work/tmp-prof", "layers"), testTools(t)
	os.RemoveAll("/work/tmp-prof")
	rt, _ := container.NewRunc(container.WithWorkDir(t.TempDir()), container.WithLayerCache("/work/tmp-prof/rootfs"))
	spec.LayerTrees = rt.AddLayer
	spec.Log = os.Stderr
	t0 := time.Now()
	img, err := Build(context.Background(), spec)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("build %s", time.Since(t0))
	s, _ := OpenStore("/work/tmp-prof/oci")
	t1 := time.Now()
	if _, err := s.Put(img, "x"); err != nil {
		t.Fatal(err)
	}
	t.Logf("put %s", time.Since(t1))
}
