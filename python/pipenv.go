package python

// PipenvRequirementsArgv prints, on standard output, a pipenv service's [packages] at the
// versions of the Pipfile.lock next to $PIPENV_PIPFILE, one requirement line each with its
// environment markers — a Compile Spec, whose markers are then evaluated for the image's
// Target rather than dropped.
func PipenvRequirementsArgv() []string {
	return []string{"python", "-m", "pipenv", "requirements"}
}
