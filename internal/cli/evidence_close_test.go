package cli

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/acquire-forensics/acquire/providers/driver"
	"github.com/acquire-forensics/acquire/providers/evidence"
)

// failingClose is a block source whose access cannot be ended.
type failingClose struct{ driver.BlockSource }

func (failingClose) Close(context.Context) error { return errors.New("endGetAccess: 503 \x1b[31mred") }
func (failingClose) Info() driver.SourceInfo {
	return driver.SourceInfo{Access: "read SAS until 10:00Z"}
}

// TestAccessNotEndedIsTold: when the read access to a snapshot cannot be ended, the user is told which
// access stays open and until when, escaped for the terminal.
func TestAccessNotEndedIsTold(t *testing.T) {
	var errOut strings.Builder
	a := &app{Streams: Streams{Out: &strings.Builder{}, Err: &errOut}}
	a.closeSource(t.Context(), evidence.Item{Snapshot: "snap-1"}, failingClose{})
	got := errOut.String()
	for _, want := range []string{"snap-1", "was not ended", "read SAS until 10:00Z", "503"} {
		if !strings.Contains(got, want) {
			t.Errorf("warning lacks %q: %q", want, got)
		}
	}
	if strings.Contains(got, "\x1b") {
		t.Errorf("warning carries a raw escape sequence: %q", got)
	}
}
