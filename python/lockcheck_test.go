package python

import (
	"context"
	"strings"
	"testing"
)

// TestFreezeWithDevTools: a service whose gate virtualenv got the repository's tools on top
// of its locked dependencies (services.yaml's tools: a package and a requirements file)
// freezes to its lock — the tools and what they require are not the service's — while a
// package neither the lock nor the tools explain is still refused.
func TestFreezeWithDevTools(t *testing.T) {
	uv, python := testUVPython(t)
	ctx := context.Background()
	files := map[string]string{"requirements-tools.txt": "# the repository's test tools\npackaging==24.1\npluggy==1.5.0\n"}
	for k, v := range uvWorkspaceFiles {
		files[k] = v
	}
	root := writeTree(t, files)
	if err := run(ctx, []string{uv.Path, "lock", "--python", python}, Exec{Dir: root, Env: uv.Env(nil)}, nil); err != nil {
		t.Fatal(err)
	}
	tool := MustTool("uv")
	p := Project{Root: root, Dir: "services/api", Name: "api"}
	// pytest needs iniconfig (locked for api), packaging (locked for the root, at the version the
	// tools pin) and pluggy (not locked).
	dev := DevTools{Requirements: "requirements-tools.txt", Packages: []string{"pytest==8.3.3"}}
	inst, err := InstallWith(tool, p, InstallOptions{Tools: dev})
	if err != nil {
		t.Fatal(err)
	}
	venv, err := uvInstall(ctx, t, uv, python, p, inst)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tool.Freeze(ctx, p, Env{Venv: venv, Tools: NewTools(cacheDir), DevTools: dev}); err != nil {
		t.Errorf("Freeze with the repository's tools: %v", err)
	}
	_, err = tool.Freeze(ctx, p, Env{Venv: venv, Tools: NewTools(cacheDir)})
	if err == nil || !strings.Contains(err.Error(), "pytest==8.3.3 is installed but not locked") {
		t.Errorf("Freeze without knowing the tools: error = %v, want pytest refused", err)
	}
	if _, err := uvRun(ctx, uv, p, venv, nil, []string{UVProgram, "pip", "install", "--no-config", "six==1.17.0"}); err != nil {
		t.Fatal(err)
	}
	_, err = tool.Freeze(ctx, p, Env{Venv: venv, Tools: NewTools(cacheDir), DevTools: dev})
	if err == nil || !strings.Contains(err.Error(), "six is installed at 1.17.0 but locked at 1.16.0") {
		t.Errorf("Freeze of a changed environment with tools: error = %v, want six refused", err)
	}
}
