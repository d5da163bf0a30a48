package stages

import "github.com/convoy-ci/convoy/pipeline/config"

// image assembles the service's image once every gate passed. It runs no command: the engine
// builds the image (daemonless on the local engine, an exported container on Dagger).
var image = Definition{Name: Image, For: func(svc *config.Service) Stage {
	return Stage{Name: Image, Kind: KindImage, Timeout: svc.Timeout, Needs: []string{Populate}, HostNetEnv: true,
		Expected: expectImage}
}}

// layer builds the image's dependency layer as soon as the service's environment is installed,
// beside the other gates, so that the image stage finds it built and only assembles the image.
// It builds a cache entry, not an image: a service that fails a gate still gets none. The image
// stage does not wait for it: one that starts first builds the layer itself, and the layer
// stage then finds it (one waits for the other when both build it), so that a layer stage the
// scheduler starts late — short stages go last — never holds up an image and the services'
// integration after it.
var layer = Definition{Name: Layer, For: func(svc *config.Service) Stage {
	return Stage{Name: Layer, Kind: KindLayer, Timeout: svc.Timeout, Needs: []string{Deps}, HostNetEnv: true,
		Expected: expectLayer}
}}

// WithImage returns the gate stages of svc followed by its layer and image stages, its deps
// stage compiling every module for the image (Stage.CompileAll).
func WithImage(svc *config.Service) []Stage {
	sts := ForService(svc)
	for i := range sts {
		if sts[i].Kind == KindDeps {
			sts[i].CompileAll = true
		}
	}
	return append(sts, layer.For(svc), image.For(svc))
}
