package config

import (
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/convoy-ci/convoy/integration"
)

func TestBackingAndProcesses(t *testing.T) {
	cfg, err := Parse([]byte(oneService(`    backing: [redis, rabbitmq]
    processes:
      worker:
        command: [celery, -A, orders, worker]
        ready: {log: "ready\\.$", timeout: 2m}
      beat:
        command: [celery, -A, orders, beat]
        ready: {command: [celery, -A, orders, inspect, ping]}
      flower:
        command: [celery, flower]
`)), "services.yaml", repo(t, baseFiles))
	if err != nil {
		t.Fatal(err)
	}
	a := cfg.Service("a")
	if !slices.Equal(a.Backing, []string{"redis", "rabbitmq"}) {
		t.Errorf("backing = %v", a.Backing)
	}
	want := []Process{
		{Name: "worker", Command: []string{"celery", "-A", "orders", "worker"}, ReadyLog: `ready\.$`, ReadyTimeout: 2 * time.Minute},
		{Name: "beat", Command: []string{"celery", "-A", "orders", "beat"}, ReadyCommand: []string{"celery", "-A", "orders", "inspect", "ping"}},
		{Name: "flower", Command: []string{"celery", "flower"}},
	}
	if !reflect.DeepEqual(a.Processes, want) {
		t.Errorf("processes =\n %+v\nwant\n %+v", a.Processes, want)
	}
}

// TestBackingKindsAreIntegrations keeps the manifest's backing kinds those integration starts.
func TestBackingKindsAreIntegrations(t *testing.T) {
	if !slices.Equal(BackingKinds, integration.BackingKinds()) {
		t.Errorf("config.BackingKinds = %v, integration.BackingKinds() = %v", BackingKinds, integration.BackingKinds())
	}
}

func TestBackingAndProcessesProblems(t *testing.T) {
	tests := []struct {
		name, extra string
		want        []string
	}{
		{"unknown backing", "    backing: [redis, kafka, redis]\n", []string{
			`5:22: unknown backing service "kafka" (expected one of: rabbitmq, redis)`,
			`5:29: backing service "redis" is listed twice`}},
		{"backing not a list", "    backing: redis\n", []string{`5:14: backing must be a list of strings, not the scalar "redis"`}},
		{"processes not a mapping", "    processes: [worker]\n", []string{`5:16: processes must be a mapping of name: {command: [...]}, not a list`}},
		{"bad process names", "    processes:\n      Worker: {command: [a]}\n      serve: {command: [a]}\n", []string{
			`6:7: process name "Worker" is not a DNS label other than serve`,
			`7:7: process name "serve" is not a DNS label other than serve`}},
		{"no command", "    processes:\n      worker: {ready: {log: x}}\n", []string{`6:15: process "worker" has no command`}},
		{"shell string", "    processes:\n      worker: {command: celery worker}\n", []string{`6:25: command must be an argv list, not the string "celery worker"`}},
		{"unknown key", "    processes:\n      worker: {command: [a], replicas: 2}\n", []string{`6:30: unknown key "replicas" in process worker (expected one of: command, ready)`}},
		{"ready with both", "    processes:\n      worker: {command: [a], ready: {log: x, command: [b]}}\n", []string{`6:37: ready sets 2 of log and command (expected exactly one)`}},
		{"bad regexp and timeout", "    processes:\n      worker: {command: [a], ready: {log: \"(\", timeout: 0s}}\n", []string{
			`6:43: ready.log "(" is not a valid regular expression`,
			`6:57: ready.timeout "0s" is not a positive duration`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assertProblems(t, problemsOf(t, oneService(tt.extra)), tt.want)
		})
	}
}
