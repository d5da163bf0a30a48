package images

import (
	"context"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/convoy-ci/convoy/image"
	"github.com/convoy-ci/convoy/pipeline/config"
)

// BaseLayers are the DiffIDs of the layers of the base images cfg's services name, each base
// read once: the layers a runtime keeps unpacked for every repository's images at once
// (container.WithSharedLayers). A base that cannot be read is left out; building its service's
// image says why.
func BaseLayers(ctx context.Context, cfg *config.Config, insecure bool) []v1.Hash {
	var ids []v1.Hash
	seen := map[string]bool{}
	for _, svc := range cfg.Services {
		if svc.Base == "" || seen[svc.Base] {
			continue
		}
		seen[svc.Base] = true
		base, err := image.LoadBase(ctx, svc.Base, image.WithInsecure(insecure), image.WithDir(cfg.Root))
		if err != nil {
			continue
		}
		cf, err := base.Image.ConfigFile()
		if err != nil {
			continue
		}
		ids = append(ids, cf.RootFS.DiffIDs...)
	}
	return ids
}
