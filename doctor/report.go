package doctor

import (
	"context"
	"encoding/json"
	"fmt"
	"io"

	"github.com/convoy-ci/convoy/pipeline/config"
)

// Output formats of Report.
const (
	// FormatText is one aligned line per check, the fix indented under what is not ok, and a
	// count.
	FormatText = "text"
	// FormatJSON is one JSON object per line: {"type":"check",…} per check (Result's fields),
	// then {"type":"summary","ok":N,"warn":N,"fail":N}.
	FormatJSON = "json"
)

// Summary counts results by status: the last line of FormatJSON.
type Summary struct {
	Type string `json:"type"`
	OK   int    `json:"ok"`
	Warn int    `json:"warn"`
	Fail int    `json:"fail"`
}

// Report runs every check for cfg (see Run), writes the results to w in format and reports
// whether any failed.
func Report(ctx context.Context, cfg *config.Config, w io.Writer, format string, opts ...Option) (failed bool, err error) {
	rs := Run(ctx, cfg, opts...)
	if format == FormatJSON {
		err = writeJSON(w, rs)
	} else {
		err = writeText(w, rs)
	}
	if err != nil {
		return false, fmt.Errorf("writing the doctor's report: %w", err)
	}
	return Failed(rs), nil
}

// summarize counts rs by status.
func summarize(rs []Result) Summary {
	s := Summary{Type: "summary"}
	for _, r := range rs {
		switch r.Status {
		case OK:
			s.OK++
		case Warn:
			s.Warn++
		case Fail:
			s.Fail++
		}
	}
	return s
}

func writeText(w io.Writer, rs []Result) error {
	width := 0
	for _, r := range rs {
		width = max(width, len(r.Check))
	}
	for _, r := range rs {
		if _, err := fmt.Fprintf(w, "%-4s  %-*s  %s\n", r.Status, width, r.Check, r.Detail); err != nil {
			return err
		}
		if r.Fix != "" {
			if _, err := fmt.Fprintf(w, "      %-*s  fix: %s\n", width, "", r.Fix); err != nil {
				return err
			}
		}
	}
	s := summarize(rs)
	_, err := fmt.Fprintf(w, "%d ok, %d warn, %d fail\n", s.OK, s.Warn, s.Fail)
	return err
}

func writeJSON(w io.Writer, rs []Result) error {
	enc := json.NewEncoder(w)
	for _, r := range rs {
		line := struct {
			Type string `json:"type"`
			Result
		}{"check", r}
		if err := enc.Encode(line); err != nil {
			return err
		}
	}
	return enc.Encode(summarize(rs))
}
