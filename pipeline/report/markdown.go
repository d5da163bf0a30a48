package report

import (
	"fmt"
	"io"
	"strings"

	"github.com/convoy-ci/convoy/pipeline"
)

// WriteMarkdown writes the summary as GitHub-flavoured Markdown (a job's step summary): the
// run's status and time, the service × stage table with test counts and images, the critical
// path, the integration suite's counts, and every failure with the last lines of its log.
func WriteMarkdown(w io.Writer, s pipeline.Summary, fails []Failure) {
	fmt.Fprintf(w, "### convoy: %s in %s\n\n", s.Status, fmtSeconds(s.Duration))
	names := stageNames(s)
	head := append(append([]string{"Service", "Status"}, names...), "Tests", "Image")
	fmt.Fprintf(w, "| %s |\n|%s\n", strings.Join(head, " | "), strings.Repeat(" --- |", len(head)))
	for _, svc := range s.Services {
		row := []string{serviceLabel(svc), string(svc.Status)}
		for _, name := range names {
			row = append(row, stageCell(svc, name))
		}
		img := "-"
		if svc.Image != "" {
			img = "`" + svc.Image + "`"
		}
		row = append(row, testsCell(svc), img)
		for i := range row {
			row[i] = mdCell(row[i])
		}
		fmt.Fprintf(w, "| %s |\n", strings.Join(row, " | "))
	}
	if len(s.ShadowFailed) > 0 {
		fmt.Fprintf(w, "\n**Shadow failure:** %s did not pass — reported, but shadow services never fail the run\n",
			strings.Join(s.ShadowFailed, ", "))
	}
	if cp := criticalPath(s.CriticalPath); cp != "" {
		fmt.Fprintf(w, "\n**Critical path:** %s\n", cp)
	}
	if in := s.Integration; in != nil {
		fmt.Fprintf(w, "\n**Integration:** %s — %d passed, %d failed, %d skipped, %d errors; %s\n",
			in.Status, in.Passed, in.Failed, in.Skipped, in.Errors, provenance(*in))
	}
	for _, f := range fails {
		fmt.Fprintf(w, "\n<details><summary>%s %s %s", f.Service, f.Stage, f.Status)
		if f.ExitCode != nil {
			fmt.Fprintf(w, " (exit code %d)", *f.ExitCode)
		}
		fmt.Fprintf(w, "</summary>\n\n```\n%s\n```\n\nfull log: `%s`\n</details>\n", strings.ReplaceAll(strings.Join(f.Tail, "\n"), "```", "` ` `"), oneLine(f.Log))
	}
	fmt.Fprintln(w)
}

// stageNames lists the summary's stage names in first-seen order.
func stageNames(s pipeline.Summary) []string {
	var names []string
	seen := map[string]bool{}
	for _, svc := range s.Services {
		for _, st := range svc.Stages {
			if !seen[st.Name] {
				seen[st.Name] = true
				names = append(names, st.Name)
			}
		}
	}
	return names
}

// stageCell is a service's cell for a stage: "passed 1.2s", "skipped", or "-".
func stageCell(svc pipeline.ServiceSummary, name string) string {
	for _, st := range svc.Stages {
		if st.Name == name {
			cell := string(st.Status)
			if st.Status != pipeline.StatusSkipped && st.Status != pipeline.StatusCancelled && st.Duration > 0 {
				cell += " " + fmtSeconds(st.Duration)
			}
			return cell
		}
	}
	return "-"
}

// mdCell keeps s inside one table cell: pipes escaped, on one line.
func mdCell(s string) string { return strings.ReplaceAll(oneLine(s), "|", `\|`) }
