package release

import (
	"context"
	"fmt"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// LabelRevision is the image label that names the commit an image was built
// from (convoy's image builder sets it to HEAD).
const LabelRevision = "org.opencontainers.image.revision"

// provenance marks as Changed (ActionBuilt) every image built from source,
// the release's source commit, by reading its LabelRevision from the
// registry. The build reports an image found in its cache as unchanged,
// although an earlier, interrupted attempt of this release may have built
// it: the image itself says which commit it comes from, whatever happened to
// the attempt that built it. Images the build reports as changed are left
// alone.
func provenance(ctx context.Context, o *options, images []ServiceImage, source string) ([]ServiceImage, error) {
	out := append([]ServiceImage(nil), images...)
	for i, img := range out {
		if img.Changed {
			continue
		}
		rev, err := o.revision(ctx, img)
		if err != nil {
			return nil, err
		}
		out[i].Changed = rev == source
	}
	return out, nil
}

// revision returns img's LabelRevision, "" when it has none (or is an
// index, whose images may say different things).
func (o *options) revision(ctx context.Context, img ServiceImage) (string, error) {
	src := imageRef(img)
	ref, err := name.ParseReference(src, o.nameOpts()...)
	if err != nil {
		return "", fmt.Errorf("parsing reference %q: %w", src, err)
	}
	var cfg *v1.ConfigFile
	err = o.withRetry(ctx, "reading the configuration of "+src, func() error {
		desc, err := remote.Get(ref, o.remoteOpts(ctx)...)
		if err != nil || !desc.MediaType.IsImage() {
			return err
		}
		i, err := desc.Image()
		if err != nil {
			return err
		}
		cfg, err = i.ConfigFile()
		return err
	})
	if err != nil {
		return "", fmt.Errorf("service %q: %w", img.Service, err)
	}
	if cfg == nil {
		return "", nil
	}
	return cfg.Config.Labels[LabelRevision], nil
}

// imageRef is the reference naming img: REPO@DIGEST, else its Ref (a tag in
// Repo, or a full reference).
func imageRef(img ServiceImage) string {
	switch {
	case img.Digest != "":
		return img.Repo + "@" + img.Digest
	case img.Ref != "" && !strings.ContainsAny(img.Ref, ":@/"):
		return img.Repo + ":" + img.Ref
	}
	return img.Ref
}
