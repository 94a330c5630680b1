// Package testenv holds the rules tests follow about their environment, and the checks they make of
// files with standard means.
package testenv

import (
	"crypto/sha256"
	"encoding/hex"
	"io"
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

// FileSHA256 is the SHA-256 of a file's content in hex, as sha256sum prints it: the independent check
// of an image against the digest a case recorded.
func FileSHA256(t testing.TB, path string) string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(h.Sum(nil))
}
