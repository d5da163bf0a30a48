package image

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

// InputTag returns the registry tag under which Push records an image's input
// hash, so that LookupRemote finds it with one HEAD request:
// "convoy-input-" and the hash's hex digits.
func InputTag(inputHash string) string {
	return "convoy-input-" + strings.TrimPrefix(inputHash, "sha256:")
}

// Push writes img to the repository repo (REGISTRY/NAMESPACE/NAME) under each
// of tags and, when img has an input hash, under InputTag of it. Blobs the
// registry has are not sent again. It returns repo@DIGEST.
func Push(ctx context.Context, img v1.Image, repo string, tags []string, opts ...Option) (name.Digest, error) {
	o := makeOptions(opts...)
	r, err := name.NewRepository(repo, o.nameOptions()...)
	if err != nil {
		return name.Digest{}, fmt.Errorf("parsing repository %q: %w", repo, err)
	}
	digest, err := img.Digest()
	if err != nil {
		return name.Digest{}, err
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return name.Digest{}, err
	}
	if h := cf.Config.Labels[LabelInputHash]; h != "" {
		tags = append(append([]string{}, tags...), InputTag(h))
	}
	if len(tags) == 0 {
		tags = []string{"latest"}
	}
	ropts := o.remoteOptions(ctx)
	first := r.Tag(tags[0])
	if err := remote.Write(first, img, ropts...); err != nil {
		return name.Digest{}, fmt.Errorf("pushing %s to %q: %w", digest, first, err)
	}
	for _, t := range tags[1:] {
		if err := remote.Tag(r.Tag(t), img, ropts...); err != nil {
			return name.Digest{}, fmt.Errorf("tagging %s as %q: %w", digest, r.Tag(t), err)
		}
	}
	return r.Digest(digest.String()), nil
}

// LookupRemote finds the image pushed to repo with input hash inputHash (see
// InputTag). Not found is (zero, false, nil); an unreachable registry or a
// refused request is an error.
func LookupRemote(ctx context.Context, repo, inputHash string, opts ...Option) (name.Digest, bool, error) {
	return LookupRemoteTag(ctx, repo, InputTag(inputHash), opts...)
}

// LookupRemoteTag returns repo@DIGEST of the image tagged tag in repo, with one
// HEAD request. Not found is (zero, false, nil); an unreachable registry or a
// refused request is an error.
func LookupRemoteTag(ctx context.Context, repo, tag string, opts ...Option) (name.Digest, bool, error) {
	o := makeOptions(opts...)
	r, err := name.NewRepository(repo, o.nameOptions()...)
	if err != nil {
		return name.Digest{}, false, fmt.Errorf("parsing repository %q: %w", repo, err)
	}
	ref := r.Tag(tag)
	desc, err := remote.Head(ref, o.remoteOptions(ctx)...)
	var terr *transport.Error
	if errors.As(err, &terr) && terr.StatusCode == http.StatusNotFound {
		return name.Digest{}, false, nil
	}
	if err != nil {
		return name.Digest{}, false, fmt.Errorf("looking up %q: %w", ref, err)
	}
	return r.Digest(desc.Digest.String()), true, nil
}

// Retag gives the image src (a tag or digest reference) the tag newTag in the
// same repository, without moving any layer.
func Retag(ctx context.Context, src, newTag string, opts ...Option) error {
	o := makeOptions(opts...)
	ref, err := name.ParseReference(src, o.nameOptions()...)
	if err != nil {
		return fmt.Errorf("parsing reference %q: %w", src, err)
	}
	desc, err := remote.Get(ref, o.remoteOptions(ctx)...)
	if err != nil {
		return fmt.Errorf("fetching %q: %w", src, err)
	}
	dst := ref.Context().Tag(newTag)
	if err := remote.Tag(dst, desc, o.remoteOptions(ctx)...); err != nil {
		return fmt.Errorf("tagging %q as %q: %w", src, dst, err)
	}
	return nil
}

// WriteDockerTarball writes img as a `docker load` tarball to path, tagged tag
// (e.g. "auth:1a2b3c4d5e6f"). The file appears whole or not at all.
func WriteDockerTarball(img v1.Image, tag, path string) error {
	t, err := name.NewTag(tag)
	if err != nil {
		return fmt.Errorf("parsing tag %q: %w", tag, err)
	}
	if err := writeAtomic(path, func(w io.Writer) error { return tarball.Write(t, img, w) }); err != nil {
		return fmt.Errorf("writing docker tarball %q: %w", path, err)
	}
	return nil
}

// Fetch returns the image ref (repo@sha256:… or a tag) names in its registry. Layers are read
// lazily, when the image's contents are.
func Fetch(ctx context.Context, ref string, opts ...Option) (v1.Image, error) {
	o := makeOptions(opts...)
	r, err := name.ParseReference(ref, o.nameOptions()...)
	if err != nil {
		return nil, fmt.Errorf("parsing reference %q: %w", ref, err)
	}
	img, err := remote.Image(r, o.remoteOptions(ctx)...)
	if err != nil {
		return nil, fmt.Errorf("fetching %q: %w", ref, err)
	}
	return img, nil
}
