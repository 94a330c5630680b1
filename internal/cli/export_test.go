package cli

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/acquire-forensics/acquire/analysis/export"
	"github.com/acquire-forensics/acquire/custody"
	"github.com/acquire-forensics/acquire/providers/evidence"
)

// openForTest opens a case for writing the way the commands do, for tests that need a second writer.
func openForTest(dir string, env map[string]string) (*custody.Ledger, error) {
	a := &app{Streams: Streams{LookupEnv: func(k string) (string, bool) { v, ok := env[k]; return v, ok }}}
	var o signingOptions
	return o.openCase(context.Background(), a, dir)
}

// TestExportCancelSaysWhatIsLeft: a cancelled export says once what is on disk and the command that
// resumes it, with the cancelled exit code.
func TestExportCancelSaysWhatIsLeft(t *testing.T) {
	a := &app{}
	item := evidence.Item{Snapshot: "snap-0123456789abcdef0", SourceVolume: "vol-1"}
	err := a.exportError(fmt.Errorf("reading: %w", context.Canceled), item, &export.Result{Path: "/evidence/snap-0123456789abcdef0.raw.partial", Downloaded: 5 << 20}, "IR-1", "/evidence")
	if exitCode(err) != ExitCancelled {
		t.Errorf("exit code %d, want %d", exitCode(err), ExitCancelled)
	}
	for _, want := range []string{"cancelled", "raw.partial", "5 MiB", "acquire export IR-1 --item snap-0123456789abcdef0 --out /evidence"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("%q does not say %q", err, want)
		}
	}
}
