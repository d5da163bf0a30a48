package config

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"
)

// oneService is a manifest of one service a (services/a) with the lines extra added to its entry
// (from line 5 on).
func oneService(extra string) string {
	return "version: 1\nservices:\n  - name: a\n    path: services/a\n" + extra
}

// problemsOf returns the problems Parse reports for manifest, as "LINE:COL: message".
func problemsOf(t *testing.T, manifest string) []string {
	t.Helper()
	_, err := Parse([]byte(manifest), "services.yaml", repo(t, baseFiles))
	var ce *Error
	if err != nil && !errors.As(err, &ce) {
		t.Fatalf("Parse: %v", err)
	}
	var out []string
	if ce != nil {
		for _, p := range ce.Problems {
			out = append(out, fmt.Sprintf("%d:%d: %s", p.Line, p.Col, p.Msg))
		}
	}
	return out
}

// assertProblems checks that got has one problem per want, each starting with it.
func assertProblems(t *testing.T, got, want []string) {
	t.Helper()
	ok := len(got) == len(want)
	for i := 0; ok && i < len(want); i++ {
		ok = strings.HasPrefix(got[i], want[i])
	}
	if !ok {
		t.Errorf("problems:\n  %s\nwant:\n  %s", strings.Join(got, "\n  "), strings.Join(want, "\n  "))
	}
}

func TestHealthKinds(t *testing.T) {
	tests := []struct {
		health  string
		check   string
		path    string
		command []string
		timeout time.Duration
	}{
		{"", CheckHTTP, DefaultHealth, nil, 0},
		{"health: /ready", CheckHTTP, "/ready", nil, 0},
		{"health: {http: /ready, timeout: 2m}", CheckHTTP, "/ready", nil, 2 * time.Minute},
		{"health: tcp", CheckTCP, "", nil, 0},
		{"health: {tcp: true}", CheckTCP, "", nil, 0},
		{"health: none", CheckNone, "", nil, 0},
		{"health: {command: [celery, inspect, ping], timeout: 30s}", CheckCommand, "", []string{"celery", "inspect", "ping"}, 30 * time.Second},
	}
	for _, tt := range tests {
		cfg, err := Parse([]byte(oneService("    "+tt.health+"\n")), "services.yaml", repo(t, baseFiles))
		if err != nil {
			t.Fatalf("%s: %v", tt.health, err)
		}
		a := cfg.Service("a")
		if a.Check != tt.check || a.Health != tt.path || !slices.Equal(a.CheckCommand, tt.command) || a.HealthTimeout != tt.timeout {
			t.Errorf("%q: check %q, health %q, command %q, timeout %s", tt.health, a.Check, a.Health, a.CheckCommand, a.HealthTimeout)
		}
	}
}

func TestHealthProblems(t *testing.T) {
	tests := []struct {
		health string
		want   []string
	}{
		{"health: healthz", []string{`5:13: health "healthz" is not an HTTP path, tcp or none (expected /healthz, tcp, none, or {command: [...]})`}},
		{"health: {http: ready}", []string{`5:20: health.http "ready" is not an HTTP path`}},
		{"health: {tcp: false}", []string{`5:19: health.tcp must be true, not the scalar "false"`}},
		{"health: {command: celery ping}", []string{`5:23: health.command must be an argv list, not the string "celery ping"`}},
		{"health: {http: /a, tcp: true}", []string{`5:13: health sets 2 kinds of check [http tcp] (expected exactly one of http, tcp, command)`}},
		{"health: {timeout: 1m}", []string{`5:13: health sets 0 kinds of check`}},
		{"health: {tcp: true, timeout: soon}", []string{`5:34: health.timeout "soon" is not a positive duration`}},
		{"health: {port: 1}", []string{`5:13: health sets 0`, `5:14: unknown key "port" in health (expected one of: command, http, tcp, timeout)`}},
	}
	for _, tt := range tests {
		t.Run(tt.health, func(t *testing.T) {
			assertProblems(t, problemsOf(t, oneService("    "+tt.health+"\n")), tt.want)
		})
	}
}
