package ebsblocks

import (
	"regexp"
	"runtime"
	"strings"
	"testing"
)

// packageFrame matches a stack frame in this package's non-test files.
var packageFrame = regexp.MustCompile(`/providers/aws/ebsblocks/[a-z_]*[a-z]\.go:\d+`)

// requireNoWorkers fails if any goroutine is still running this package's
// code. Read waits for its goroutines before it returns, so no wait is
// needed: a goroutine found here has leaked.
func requireNoWorkers(t testing.TB) {
	t.Helper()
	buf := make([]byte, 1<<20)
	for {
		n := runtime.Stack(buf, true)
		if n < len(buf) {
			buf = buf[:n]
			break
		}
		buf = make([]byte, 2*len(buf))
	}
	for _, g := range strings.Split(string(buf), "\n\n") {
		for _, frame := range packageFrame.FindAllString(g, -1) {
			if !strings.Contains(frame, "_test.go:") {
				t.Fatalf("goroutine left running:\n%s", g)
			}
		}
	}
}
