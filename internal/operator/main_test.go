package operator

import (
	"os"
	"testing"
)

// TestMain lets the test binary play the child of TestDropPrivileges
// (dropChildEnv).
func TestMain(m *testing.M) {
	if v := os.Getenv(dropChildEnv); v != "" {
		os.Exit(dropChild(v))
	}
	os.Exit(m.Run())
}
