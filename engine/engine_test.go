package engine

import (
	"errors"
	"testing"
)

// TestStageErrorText: a stage error names the command that failed, and only when there is one
// (an image stage's base that cannot be read has none: no "running []").
func TestStageErrorText(t *testing.T) {
	cause := errors.New("base image: no such file")
	for _, tc := range []struct {
		err  StageError
		want string
	}{
		{StageError{Reason: Failed, ExitCode: 3, Command: []string{"flake8"}, Err: cause}, `["flake8"] exited with code 3`},
		{StageError{Reason: Failed, ExitCode: -1, Command: []string{"uv"}, Err: cause}, `running ["uv"]: base image: no such file`},
		{StageError{Reason: Failed, ExitCode: -1, Err: cause}, "base image: no such file"},
		{StageError{Reason: TimedOut, ExitCode: -1, Command: []string{"pytest"}, Err: cause}, `timed out running ["pytest"]: base image: no such file`},
		{StageError{Reason: TimedOut, ExitCode: -1, Err: cause}, "timed out: base image: no such file"},
		{StageError{Reason: Interrupted, ExitCode: -1, Command: []string{"pytest"}}, `interrupted while running ["pytest"]`},
		{StageError{Reason: Interrupted, ExitCode: -1}, "interrupted"},
	} {
		if got := tc.err.Error(); got != tc.want {
			t.Errorf("%+v: %q, want %q", tc.err, got, tc.want)
		}
	}
}
