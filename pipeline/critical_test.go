package pipeline

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/convoy-ci/convoy/pipeline/config"
	"github.com/convoy-ci/convoy/stages"
)

// criticalJob is a job over api and web (web depends_on api), with images and integration
// when integrate is set.
func criticalJob(t *testing.T, integrate bool) *Job {
	t.Helper()
	root := t.TempDir()
	for _, svc := range []string{"api", "web"} {
		dir := filepath.Join(root, "services", svc)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, "requirements.txt"), nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	manifest := "version: 1\nservices:\n  - {name: api, path: services/api}\n  - {name: web, path: services/web, depends_on: [api]}\n"
	cfg, err := config.Parse([]byte(manifest), config.FileName, root)
	if err != nil {
		t.Fatal(err)
	}
	opts := PlanOptions{Engine: "test", Jobs: 2}
	if integrate {
		opts.Stages = stages.WithImage
	}
	plan, err := NewPlan(cfg, opts)
	if err != nil {
		t.Fatal(err)
	}
	return &Job{Name: "run", Plan: plan, Integrate: integrate}
}

// TestCritical: the critical path of constructed runs over the real graph of two services —
// the stage that ended last, back through the need of each that ended last.
func TestCritical(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	span := func(id string, from, to float64) Span {
		svc, st := splitID(id)
		at := func(s float64) time.Time { return t0.Add(time.Duration(s * float64(time.Second))) }
		return Span{Service: svc, Stage: st, Start: at(from), End: at(to), Status: StatusPassed}
	}
	gates := func(svc string, deps, unit, lint, populate float64) []Span {
		return []Span{span(svc+"/deps", 0, deps), span(svc+"/unit", deps, deps+unit),
			span(svc+"/lint", deps, deps+lint), span(svc+"/populate", deps+max(unit, lint), deps+max(unit, lint)+populate)}
	}
	for _, tc := range []struct {
		name       string
		integrate  bool
		overlapped bool
		spans      []Span
		want       string // "service/stage seconds" joined by " → ", "= total"; "" for none
	}{
		{name: "no stage ran", want: ""},
		{name: "the longer service's longer branch", spans: append(gates("api", 4, 2, 1, 1), gates("web", 2, 1, 7, 1)...),
			want: "web/deps 2 → web/lint 7 → web/populate 1 = 10"},
		{name: "unit longer than lint", spans: gates("api", 4, 3, 1, 2),
			want: "api/deps 4 → api/unit 3 → api/populate 2 = 9"},
		{name: "a tie: the first to end", spans: []Span{span("api/deps", 0, 2), span("web/deps", 0, 2)},
			want: "api/deps 2 = 2"},
		{name: "a need that did not run (cached) ends the chain", spans: []Span{span("api/populate", 5, 6)},
			want: "api/populate 1 = 1"},
		{name: "integration through depends_on", integrate: true, overlapped: true,
			spans: append(append(gates("api", 4, 2, 1, 1), span("api/image", 7, 9), span("api/integration", 9, 10)),
				append(gates("web", 2, 1, 1, 1), span("web/image", 4, 5), span("web/integration", 10, 12), span("integration/suite", 12, 20))...),
			want: "api/deps 4 → api/unit 2 → api/populate 1 → api/image 2 → api/integration 1 → web/integration 2 → integration/suite 8 = 20"},
		{name: "a dependent migrating while its dependency starts counts from that one's end", integrate: true, overlapped: true,
			spans: append(append(gates("api", 4, 2, 1, 1), span("api/image", 7, 9), span("api/integration", 9, 12)),
				append(gates("web", 2, 1, 1, 1), span("web/image", 4, 5), span("web/integration", 5, 14), span("integration/suite", 14, 20))...),
			want: "api/deps 4 → api/unit 2 → api/populate 1 → api/image 2 → api/integration 3 → web/integration 2 → integration/suite 6 = 20"},
		{name: "integration after the whole run", integrate: true,
			spans: append(append(gates("api", 4, 2, 1, 1), span("api/image", 7, 8), span("api/integration", 15, 16)),
				append(gates("web", 2, 1, 1, 1), span("web/image", 4, 13), span("web/integration", 16, 17), span("integration/suite", 17, 18))...),
			want: "web/deps 2 → web/unit 1 → web/populate 1 → web/image 9 → api/integration 1 → web/integration 1 → integration/suite 1 = 16"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			j := criticalJob(t, tc.integrate)
			got := pathString(Critical(tc.spans, j.needs(tc.overlapped)))
			if got != tc.want {
				t.Errorf("critical path\n got  %s\n want %s", got, tc.want)
			}
		})
	}
}

func pathString(cp *CriticalPath) string {
	if cp == nil {
		return ""
	}
	var parts []string
	for _, s := range cp.Stages {
		parts = append(parts, fmt.Sprintf("%s/%s %g", s.Service, s.Stage, s.Duration))
	}
	return fmt.Sprintf("%s = %g", strings.Join(parts, " → "), cp.Duration)
}
