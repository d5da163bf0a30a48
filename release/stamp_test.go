package release

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

func TestRetagMovesNoBlobs(t *testing.T) {
	fr := newFaultyRegistry(t)
	repo := fr.Host() + "/convoy/auth"
	img, err := random.Image(256*1024, 3)
	if err != nil {
		t.Fatal(err)
	}
	digest := pushImage(t, repo, "build-1", img)
	_, pushed := fr.blobTraffic()
	if pushed < 3*256*1024 {
		t.Fatalf("the push itself moved %d blob bytes; counting is broken", pushed)
	}
	fr.reset()

	res, err := Stamp(context.Background(), []ServiceImage{{Service: "auth", Repo: repo, Digest: digest}}, "v1.4.0", WithRetry(fastRetry))
	if err != nil {
		t.Fatalf("Stamp: %v", err)
	}
	if n := res.Written(); n != 1 {
		t.Errorf("Written() = %d, want 1", n)
	}
	requests, bytes := fr.blobTraffic()
	if requests != 0 || bytes != 0 {
		t.Errorf("retag made %d blob requests moving %d bytes; want none", requests, bytes)
	}
	if got := fr.count("PUT manifest"); got != 1 {
		t.Errorf("manifest PUTs = %d, want 1", got)
	}
	if got := fr.count("GET manifest"); got != 1 {
		t.Errorf("manifest GETs = %d, want 1", got)
	}
	if got := tagDigest(t, repo, "v1.4.0"); got != digest {
		t.Errorf("v1.4.0 -> %s, want %s", got, digest)
	}
}

func TestRetagIndex(t *testing.T) {
	fr := newFaultyRegistry(t)
	repo := fr.Host() + "/convoy/multi"
	idx, err := random.Index(512, 1, 2)
	if err != nil {
		t.Fatal(err)
	}
	ref, _ := name.NewTag(repo + ":build")
	if err := remote.WriteIndex(ref, idx); err != nil {
		t.Fatal(err)
	}
	d, _ := idx.Digest()
	fr.reset()
	if _, err := Stamp(context.Background(), []ServiceImage{{Service: "multi", Repo: repo, Ref: "build"}}, "v2.0.0", WithRetry(fastRetry)); err != nil {
		t.Fatalf("Stamp: %v", err)
	}
	if got := tagDigest(t, repo, "v2.0.0"); got != d.String() {
		t.Errorf("v2.0.0 -> %s, want %s", got, d)
	}
	if n, b := fr.blobTraffic(); n != 0 || b != 0 {
		t.Errorf("index retag made %d blob requests (%d bytes)", n, b)
	}
}

func TestPlan(t *testing.T) {
	fr := newFaultyRegistry(t)
	host := fr.Host()
	a := pushRandom(t, host+"/ns/a", "build")
	b := pushRandom(t, host+"/ns/b", "build")
	other := pushRandom(t, host+"/ns/b", "other")
	c := pushRandom(t, host+"/ns/c", "build")
	tagExisting(t, host+"/ns/c", c, "v1") // c already tagged
	tagExisting(t, host+"/ns/b", other, "v1")
	missing := "sha256:" + strings.Repeat("0", 64)

	tests := []struct {
		name     string
		images   []ServiceImage
		force    bool
		wantErr  func(error) bool
		want     map[string]TagAction
		wantDigs map[string]string
	}{
		{
			name:     "create, done, resolve by tag",
			images:   []ServiceImage{{Service: "a", Repo: host + "/ns/a", Ref: "build"}, {Service: "c", Repo: host + "/ns/c", Digest: c}},
			want:     map[string]TagAction{"a": TagCreate, "c": TagDone},
			wantDigs: map[string]string{"a": a, "c": c},
		},
		{
			name:   "conflict refused",
			images: []ServiceImage{{Service: "a", Repo: host + "/ns/a", Digest: a}, {Service: "b", Repo: host + "/ns/b", Digest: b}},
			wantErr: func(err error) bool {
				var tc *TagConflictError
				return errors.As(err, &tc) && len(tc.Conflicts) == 1 && tc.Conflicts[0].Existing == other && tc.Conflicts[0].Want == b
			},
		},
		{
			name:   "conflict forced",
			images: []ServiceImage{{Service: "b", Repo: host + "/ns/b", Digest: b}},
			force:  true,
			want:   map[string]TagAction{"b": TagOverwrite},
		},
		{
			name:    "missing digest",
			images:  []ServiceImage{{Service: "a", Repo: host + "/ns/a", Digest: a}, {Service: "c", Repo: host + "/ns/c", Digest: missing}},
			wantErr: func(err error) bool { return errors.Is(err, ErrImageNotFound) },
		},
		{
			name:    "missing reference",
			images:  []ServiceImage{{Service: "a", Repo: host + "/ns/a", Ref: "nope"}},
			wantErr: func(err error) bool { return errors.Is(err, ErrImageNotFound) },
		},
		{
			name:    "nothing to resolve",
			images:  []ServiceImage{{Service: "a", Repo: host + "/ns/a"}},
			wantErr: func(err error) bool { return err != nil && strings.Contains(err.Error(), "neither a digest") },
		},
		{
			name:   "bad digest",
			images: []ServiceImage{{Service: "a", Repo: host + "/ns/a", Digest: "sha256:xyz"}},
			wantErr: func(err error) bool {
				return err != nil && strings.Contains(err.Error(), `invalid digest "sha256:xyz"`)
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fr.reset()
			p, err := Plan(context.Background(), tt.images, "v1", WithForce(tt.force), WithRetry(fastRetry))
			if n := fr.count("PUT manifest"); n != 0 {
				t.Errorf("Plan wrote %d manifests", n)
			}
			if tt.wantErr != nil {
				if !tt.wantErr(err) {
					t.Fatalf("Plan error = %v", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("Plan: %v", err)
			}
			for _, pt := range p.Images {
				if pt.Action != tt.want[pt.Service] {
					t.Errorf("%s: action %s, want %s", pt.Service, pt.Action, tt.want[pt.Service])
				}
				if d, ok := tt.wantDigs[pt.Service]; ok && pt.Digest != d {
					t.Errorf("%s: digest %s, want %s", pt.Service, pt.Digest, d)
				}
			}
		})
	}
}

// tagExisting puts repo@digest under tag.
func tagExisting(t *testing.T, repo, digest, tag string) {
	t.Helper()
	src, err := name.ParseReference(repo + "@" + digest)
	if err != nil {
		t.Fatal(err)
	}
	d, err := remote.Get(src)
	if err != nil {
		t.Fatal(err)
	}
	dst, _ := name.NewTag(repo + ":" + tag)
	if err := remote.Tag(dst, d); err != nil {
		t.Fatal(err)
	}
}

func TestForceMovesTag(t *testing.T) {
	fr := newFaultyRegistry(t)
	repo := fr.Host() + "/ns/svc"
	old := pushRandom(t, repo, "v1")
	cur := pushRandom(t, repo, "build")
	images := []ServiceImage{{Service: "svc", Repo: repo, Digest: cur}}
	if _, err := Stamp(context.Background(), images, "v1", WithRetry(fastRetry)); err == nil {
		t.Fatal("Stamp over another digest succeeded without force")
	}
	if got := tagDigest(t, repo, "v1"); got != old {
		t.Fatalf("refused stamp moved the tag to %s", got)
	}
	res, err := Stamp(context.Background(), images, "v1", WithForce(true), WithRetry(fastRetry))
	if err != nil {
		t.Fatalf("forced Stamp: %v", err)
	}
	if got := tagDigest(t, repo, "v1"); got != cur {
		t.Errorf("v1 -> %s after force, want %s", got, cur)
	}
	if res.Images[0].Action != TagOverwrite || res.Images[0].Existing != old {
		t.Errorf("result = %+v", res.Images[0])
	}
}

func TestStampRetriesTransientFaults(t *testing.T) {
	tests := []struct {
		name  string
		fault fault
	}{
		{"500 on manifest PUT", fault{method: http.MethodPut, path: "/manifests/", kind: fail500, times: 2}},
		{"500 on HEAD", fault{method: http.MethodHead, path: "/manifests/", kind: fail500, times: 2}},
		{"connection dropped before the manifest PUT answer", fault{method: http.MethodPut, path: "/manifests/", kind: dropBefore, times: 1}},
		{"PUT applied, answer dropped half-way", fault{method: http.MethodPut, path: "/manifests/", kind: dropHalfway, times: 2}},
		{"manifest GET body cut half-way", fault{method: http.MethodGet, path: "/manifests/", kind: dropHalfway, times: 2}},
		{"HEAD headers cut", fault{method: http.MethodHead, path: "/manifests/", nth: 2, kind: dropHalfway, times: 1}},
		{"second service's PUT fails twice", fault{method: http.MethodPut, path: "/ns/s2/manifests/", kind: fail500, times: 2}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fr := newFaultyRegistry(t)
			var images []ServiceImage
			for _, s := range []string{"s1", "s2", "s3"} {
				repo := fr.Host() + "/ns/" + s
				images = append(images, ServiceImage{Service: s, Repo: repo, Digest: pushRandom(t, repo, "build")})
			}
			fr.reset()
			fr.addFault(tt.fault)
			var logs []string
			res, err := Stamp(context.Background(), images, "v1.4.0", WithRetry(fastRetry),
				WithLogf(func(f string, a ...any) { logs = append(logs, f) }))
			if err != nil {
				t.Fatalf("Stamp: %v", err)
			}
			if fr.firedCount() == 0 {
				t.Fatal("the fault never fired")
			}
			for _, img := range images {
				if got := tagDigest(t, img.Repo, "v1.4.0"); got != img.Digest {
					t.Errorf("%s: v1.4.0 -> %q, want %s", img.Service, got, img.Digest)
				}
			}
			if len(res.Images) != 3 {
				t.Errorf("result has %d images", len(res.Images))
			}
			if n, b := fr.blobTraffic(); n != 0 || b != 0 {
				t.Errorf("%d blob requests, %d bytes", n, b)
			}
		})
	}
}

func TestStampOutageIsBoundedAndResumable(t *testing.T) {
	fr := newFaultyRegistry(t)
	var images []ServiceImage
	for _, s := range []string{"s1", "s2", "s3", "s4"} {
		repo := fr.Host() + "/ns/" + s
		images = append(images, ServiceImage{Service: s, Repo: repo, Digest: pushRandom(t, repo, "build")})
	}
	fr.reset()
	// The registry fails every manifest PUT from the third on: an outage in
	// the middle of stamping.
	fr.addFault(fault{method: http.MethodPut, path: "/manifests/", nth: 3, kind: fail500})
	res, err := Stamp(context.Background(), images, "v1.4.0", WithRetry(fastRetry))
	if err == nil {
		t.Fatal("Stamp succeeded through an outage")
	}
	if !Transient(err) {
		t.Errorf("outage error not classified transient: %v", err)
	}
	if res.Written() != 2 {
		t.Errorf("written before the outage = %d, want 2", res.Written())
	}
	// Bounded: ggcr's inner retries times ours, nothing more.
	if puts := fr.count("PUT manifest"); puts > 2+fastRetry.Attempts*3 {
		t.Errorf("%d manifest PUTs: retries are not bounded", puts)
	}
	tagged := 0
	for _, img := range images {
		if tagDigest(t, img.Repo, "v1.4.0") != "" {
			tagged++
		}
	}
	if tagged != 2 {
		t.Fatalf("%d tags in the registry after the outage, want 2", tagged)
	}

	// The registry is back: planning again sees two done, applying finishes.
	fr.reset()
	p, err := Plan(context.Background(), images, "v1.4.0", WithRetry(fastRetry))
	if err != nil {
		t.Fatal(err)
	}
	if p.Pending() != 2 {
		t.Errorf("Pending() after outage = %d, want 2", p.Pending())
	}
	res, err = p.Apply(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if res.Written() != 2 || fr.count("PUT manifest") != 2 {
		t.Errorf("resume wrote %d tags with %d PUTs, want 2 and 2", res.Written(), fr.count("PUT manifest"))
	}
	for _, img := range images {
		if got := tagDigest(t, img.Repo, "v1.4.0"); got != img.Digest {
			t.Errorf("%s: v1.4.0 -> %q, want %s", img.Service, got, img.Digest)
		}
	}
	// And once more: nothing left.
	fr.reset()
	res, err = Stamp(context.Background(), images, "v1.4.0", WithRetry(fastRetry))
	if err != nil || res.Written() != 0 || fr.count("PUT manifest") != 0 {
		t.Errorf("third Stamp: written %d, PUTs %d, err %v", res.Written(), fr.count("PUT manifest"), err)
	}
}

func TestPing(t *testing.T) {
	fr := newFaultyRegistry(t)
	if err := Ping(context.Background(), fr.Host()+"/ns", WithRetry(fastRetry)); err != nil {
		t.Errorf("Ping: %v", err)
	}
	fr.addFault(fault{path: "/v2/", kind: fail500, times: 2})
	if err := Ping(context.Background(), fr.Host()+"/ns", WithRetry(fastRetry)); err != nil {
		t.Errorf("Ping through two 500s: %v", err)
	}
	fr.setDown(true)
	if err := Ping(context.Background(), fr.Host()+"/ns", WithRetry(fastRetry)); err == nil {
		t.Error("Ping of a registry answering 503 succeeded")
	}
	closed := newFaultyRegistry(t)
	host := closed.Host()
	closed.Close()
	if err := Ping(context.Background(), host, WithRetry(fastRetry)); err == nil || !Transient(err) {
		t.Errorf("Ping of a closed port = %v, want a transient error", err)
	}
}

func TestTransient(t *testing.T) {
	tests := []struct {
		err  error
		want bool
	}{
		{nil, false},
		{context.Canceled, false},
		{errors.New("boom"), false},
		{ErrImageNotFound, false},
	}
	for _, tt := range tests {
		if got := Transient(tt.err); got != tt.want {
			t.Errorf("Transient(%v) = %v", tt.err, got)
		}
	}
}
