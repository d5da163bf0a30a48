// Package pgtest holds test helpers shared by the integration packages' tests.
package pgtest

import (
	"os"
	"strings"
	"testing"
)

// Missing stops a test that needs PostgreSQL when its programs were not found (err says why). The test
// is skipped with a message saying how to install them, except under CI (CI set to a true value), where
// it fails: CI installs PostgreSQL itself, so their absence there is a broken setup, not a reason to skip.
func Missing(t testing.TB, err error) {
	t.Helper()
	if InCI() {
		t.Fatalf("PostgreSQL is required under CI: %v", err)
	}
	t.Skipf("skipping: needs a PostgreSQL server installation: %v", err)
}

// InCI reports whether the CI environment variable is set to a true value.
func InCI() bool {
	switch strings.ToLower(os.Getenv("CI")) {
	case "", "0", "false", "no":
		return false
	}
	return true
}
