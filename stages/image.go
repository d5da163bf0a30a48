package stages

import "github.com/convoy-ci/convoy/pipeline/config"

// image assembles the service's image once every gate passed. It runs no command: the engine
// builds the image (daemonless on the local engine, an exported container on Dagger).
var image = Definition{Name: Image, For: func(svc *config.Service) Stage {
	return Stage{Name: Image, Kind: KindImage, Timeout: svc.Timeout, Needs: []string{Populate}, HostNetEnv: true,
		Expected: expectImage}
}}

// WithImage returns the gate stages of svc followed by its image stage, its deps stage
// compiling every module for the image (Stage.CompileAll).
func WithImage(svc *config.Service) []Stage {
	sts := ForService(svc)
	for i := range sts {
		if sts[i].Kind == KindDeps {
			sts[i].CompileAll = true
		}
	}
	return append(sts, image.For(svc))
}
