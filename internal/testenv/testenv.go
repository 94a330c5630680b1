// Package testenv holds the rules tests follow about their environment.
package testenv

import (
	"os"
	"os/exec"
	"testing"
)

// InCI reports whether the tests run in continuous integration (CI is set), where nothing may be skipped
// for want of a tool: .ci/run installs every tool a test needs.
func InCI() bool { return os.Getenv("CI") != "" }

// RequireTool returns the path of an external program a test needs. Where it is missing the test fails
// in CI and is skipped elsewhere.
func RequireTool(t testing.TB, name string) string {
	t.Helper()
	path, err := exec.LookPath(name)
	if err == nil {
		return path
	}
	if InCI() {
		t.Fatalf("%s is required (.ci/run installs it): %v", name, err)
	}
	t.Skipf("%s not installed: %v", name, err)
	return ""
}
