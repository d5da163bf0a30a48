package integration

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/convoy-ci/convoy/integration/model"
)

func TestURLVar(t *testing.T) {
	tests := []struct{ in, want string }{
		{"auth", "AUTH_URL"},
		{"payments-api", "PAYMENTS_API_URL"},
		{"v2.search", "V2_SEARCH_URL"},
	}
	for _, tt := range tests {
		if got := URLVar(tt.in); got != tt.want {
			t.Errorf("URLVar(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestDatabaseName(t *testing.T) {
	tests := []struct{ service, run, want string }{
		{"auth", "20260101t120000_ab12cd", "auth_20260101t120000_ab12cd"},
		{"payments-api", "Run-7", "payments_api_run_7"},
		{strings.Repeat("s", 60), "123456", strings.Repeat("s", 60) + "_12"},
	}
	for _, tt := range tests {
		if got := DatabaseName(tt.service, tt.run); got != tt.want {
			t.Errorf("DatabaseName(%q, %q) = %q, want %q", tt.service, tt.run, got, tt.want)
		}
	}
}

func TestMergeEnv(t *testing.T) {
	got := mergeEnv(
		[]string{"PATH=/venv/bin:/usr/bin", "HOME=/root", "DATABASE_URL=sqlite://x", "junk"},
		[]string{"JWT_SECRET=s"},
		[]string{"DATABASE_URL=postgres://db", "PATH=/other"},
	)
	want := []string{"PATH=/other", "HOME=/root", "DATABASE_URL=postgres://db", "JWT_SECRET=s"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("mergeEnv = %q, want %q", got, want)
	}
}

func TestSubstitute(t *testing.T) {
	got := Substitute([]string{"gunicorn", "--bind", "${HOST}:${PORT}", "${HOME}", "$PORT"}, "127.0.0.1", "8123")
	want := []string{"gunicorn", "--bind", "127.0.0.1:8123", "${HOME}", "$PORT"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("substitute = %q, want %q", got, want)
	}
}

func TestIsPytest(t *testing.T) {
	tests := []struct {
		argv []string
		want bool
	}{
		{[]string{"pytest", "tests/integration"}, true},
		{[]string{"/venv/bin/pytest"}, true},
		{[]string{"py.test"}, true},
		{[]string{"python", "-m", "pytest", "-q"}, true},
		{[]string{"python3.11", "-m", "pytest"}, true},
		{[]string{"python", "-m", "unittest"}, false},
		{[]string{"python", "run_pytest.py"}, false},
		{[]string{"make", "pytest"}, false},
		{nil, false},
	}
	for _, tt := range tests {
		if got := IsPytest(tt.argv); got != tt.want {
			t.Errorf("IsPytest(%q) = %v, want %v", tt.argv, got, tt.want)
		}
	}
}

func TestJUnitArg(t *testing.T) {
	tests := []struct {
		argv []string
		want string
		ok   bool
	}{
		{[]string{"pytest", "--junitxml=out/j.xml"}, "out/j.xml", true},
		{[]string{"pytest", "--junitxml", "j.xml", "-q"}, "j.xml", true},
		{[]string{"pytest", "--junit-xml=k.xml"}, "k.xml", true},
		{[]string{"pytest", "-q"}, "", false},
	}
	for _, tt := range tests {
		got, ok := JUnitArg(tt.argv)
		if got != tt.want || ok != tt.ok {
			t.Errorf("JUnitArg(%q) = %q, %v; want %q, %v", tt.argv, got, ok, tt.want, tt.ok)
		}
	}
}

func TestLookPath(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "tool"), []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "data"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	env := []string{"PATH=/nonexistent:" + dir}
	if got, err := lookPath("tool", env); err != nil || got != filepath.Join(dir, "tool") {
		t.Errorf("lookPath(tool) = %q, %v", got, err)
	}
	if _, err := lookPath("data", env); err == nil || !strings.Contains(err.Error(), `"data"`) {
		t.Errorf("lookPath(data) of a non-executable: err = %v, want not found naming it", err)
	}
	if got, _ := lookPath("./bin/python", env); got != "./bin/python" {
		t.Errorf("lookPath(./bin/python) = %q, want it unchanged", got)
	}
}

func TestDatabaseURL(t *testing.T) {
	tests := []struct{ admin, want string }{
		// Every URL handed out is postgresql://, whichever scheme the server's was given in.
		{"postgres://u:p%40ss@127.0.0.1:5432/postgres", "postgresql://u:p%40ss@127.0.0.1:5432/auth_1"},
		{"postgresql://u@db.internal/admin?sslmode=require", "postgresql://u@db.internal/auth_1?sslmode=require"},
		{"postgres://u@h", "postgresql://u@h/auth_1"},
	}
	for _, tt := range tests {
		got, err := databaseURL(tt.admin, "auth_1")
		if err != nil || got != tt.want {
			t.Errorf("databaseURL(%q) = %q, %v; want %q", tt.admin, got, err, tt.want)
		}
	}
	if _, err := databaseURL("mysql://x/y", "a"); err == nil {
		t.Error("databaseURL accepted a mysql:// URL")
	}
}

func TestInvalidSpec(t *testing.T) {
	ok := Service{Name: "a", Serve: []string{"x"}}
	suite := Suite{Argv: []string{"pytest"}}
	tests := []struct {
		name string
		spec Spec
		want string
	}{
		{"no suite", Spec{Services: []Service{ok}}, "no command"},
		{"unnamed service", Spec{Services: []Service{{Serve: []string{"x"}}}, Suite: suite}, "has no name"},
		{"duplicate", Spec{Services: []Service{ok, ok}, Suite: suite}, "listed twice"},
		{"no serve", Spec{Services: []Service{{Name: "b"}}, Suite: suite}, "no serve command"},
		{"same URL variable", Spec{Services: []Service{ok, {Name: "c-d", Serve: []string{"x"}}, {Name: "c_d", Serve: []string{"x"}}}, Suite: suite}, "C_D_URL"},
		{"reserved variable", Spec{Services: []Service{{Name: "database", Serve: []string{"x"}}}, Suite: suite}, "DATABASE_URL"},
		{"bad postgres URL", Spec{Postgres: "mysql://x", Services: []Service{ok}, Suite: suite}, "postgres://"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var events []model.Event
			rep, err := Run(t.Context(), tt.spec, WithEvents(func(e model.Event) { events = append(events, e) }))
			if !errors.Is(err, model.ErrInvalidSpec) || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Run: err = %v, want model.ErrInvalidSpec mentioning %q", err, tt.want)
			}
			if rep == nil || len(events) != 0 {
				t.Errorf("Run of an invalid spec: report %v, %d events; want a report and no events", rep, len(events))
			}
		})
	}
}
