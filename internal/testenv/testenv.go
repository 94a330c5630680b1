// Package testenv holds the rules tests follow about their environment, and the checks they make of
// files with standard means.
package testenv

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"testing"
)

// InCI reports whether the tests run in continuous integration (CI is set), where nothing may be skipped
// for want of a tool: .ci/run installs every tool a test needs.
func InCI() bool { return os.Getenv("CI") != "" }

// RequireTool returns the path of an external program a test needs, found on PATH. With probe
// arguments (such as "--version"), the program found must also run with them: one that does not is
// reported as unusable, not as missing. Where it is missing or unusable the test fails in CI and is
// skipped elsewhere.
func RequireTool(t testing.TB, name string, probe ...string) string {
	t.Helper()
	path, err := exec.LookPath(name)
	if err != nil {
		if InCI() {
			t.Fatalf("%s is required (.ci/run installs it): %v", name, err)
		}
		t.Skipf("%s not installed: %v", name, err)
		return ""
	}
	if len(probe) > 0 {
		if out, err := exec.Command(path, probe...).CombinedOutput(); err != nil {
			msg := fmt.Sprintf("%s was found at %s but is unusable (%s %s: %v): %s", name, path, name, strings.Join(probe, " "), err, bytes.TrimSpace(out))
			if InCI() {
				t.Fatal(msg)
			}
			t.Skip(msg)
		}
	}
	return path
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
