// Package python is convoy's one place for the Python packaging tools it runs. Each dependency
// tool a service may use (services.yaml's deps: pip, pipenv, poetry, uv — uv projects and uv
// workspace members, uvproject.go) is a Tool, in a file of its own: its spec and lock file names,
// how to install a service's dependencies (Installation: data engines run), its runtime
// requirements for an image (Runtime), how to freeze a gated environment into its lockfile
// (Freeze) and read one back (Pins). Engines, stages and release get every tool fact from here,
// through ToolNamed.
//
// Under the tools: uv —
// provisioned on demand (Tools), creating and filling the services' virtualenvs (VenvArgv,
// RequirementsInstallArgv; InstallerPip for pip instead), resolving a service's runtime
// requirements for the exact interpreter and platform of its image (UV.Compile) and
// installing them there (UV.Install), provisioning poetry into a virtualenv of its own
// (Tools.Poetry, PoetryProvisionArgv) — and the pip, pipenv and poetry commands convoy hands
// to other engines as argv (PipInstallArgv, PipenvRequirementsArgv, PoetryInstallArgv). A
// virtualenv uv made has no pip: it is read through its metadata (Freeze, FreezeRequirements).
//
// Every function that runs a tool has an argv twin for engines that run it elsewhere (the
// Dagger engine runs them in containers), so that both engines run the same commands.
//
// A Target is what an image's dependencies are resolved and installed for: CPython's full
// version ("3.11.2", so that markers on python_full_version are evaluated for it) and uv's
// name of the platform ("x86_64-manylinux_2_36").
package python
