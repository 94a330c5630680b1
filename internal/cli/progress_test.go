package cli

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/acquire-forensics/acquire/providers/acquisition"
	"github.com/acquire-forensics/acquire/providers/driver"
)

func TestProgressRenderers(t *testing.T) {
	events := []acquisition.Event{
		{Kind: acquisition.EventFinding, Message: "snapshot snap-1 of volume vol-1 is PUBLIC"},
		{Kind: acquisition.EventStepStart, Step: "vol-1/snapshot.wait", Volume: "vol-1"},
		{Kind: acquisition.EventProgress, Step: "vol-1/snapshot.wait", Volume: "vol-1", Done: 10, Total: 100, Unit: "%"},
		{Kind: acquisition.EventProgress, Step: "vol-1/snapshot.wait", Volume: "vol-1", Done: 20, Total: 100, Unit: "%"},
		{Kind: acquisition.EventProgress, Step: "vol-1/snapshot.wait", Volume: "vol-1", Done: 60, Total: 100, Unit: "%"},
		{Kind: acquisition.EventStepDone, Step: "vol-1/snapshot.wait", Volume: "vol-1", Message: "completed"},
		{Kind: acquisition.EventStepError, Step: "a1/vol-2/t1/transfer.1", Volume: "vol-2", Code: driver.CodePermissionDenied, Message: "not authorized to perform: ec2:ModifySnapshotAttribute"},
		{Kind: acquisition.EventRetry, Step: "a1/vol-1/snapshot.1", Volume: "vol-1", Code: driver.CodeThrottled, Message: "throttled, attempt 2", Done: 1},
		{Kind: acquisition.EventVolumes, Total: 2},
		{Kind: acquisition.EventVolumes, Volume: "vol-2", Done: 1, Failed: 1, Total: 2, Code: driver.CodePermissionDenied},
		{Kind: acquisition.EventFinding, Message: "tag \x1b]0;owned\x07 \u202etxt.exe"},
	}
	for i := range events {
		events[i].Time = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	}

	var lines bytes.Buffer
	p := newProgressPrinter(&lines, false)
	for _, e := range events {
		p.event(e)
	}
	text := lines.String()
	for _, want := range []string{"!!! FINDING: snapshot snap-1", "vol-1", "snapshot.wait 10%", "snapshot.wait 60%", "t1/transfer.1 FAILED (permission-denied)",
		"snapshot.1: retrying (throttled, attempt 2)", "1 of 2 volumes done (1 failed)", `tag \u001B]0;owned\u0007 \u202Etxt.exe`} {
		if !strings.Contains(text, want) {
			t.Errorf("plain lines lack %q:\n%s", want, text)
		}
	}
	if strings.Contains(text, "snapshot.wait 20%") {
		t.Errorf("small steps of progress are not thinned out:\n%s", text)
	}
	if strings.ContainsAny(text, "\x1b\x07\u202e") {
		t.Errorf("plain lines carry control characters:\n%q", text)
	}

	var bars bytes.Buffer
	b := newBarsPrinter(&bars)
	for _, e := range events {
		b.event(e)
	}
	b.close()
	out := bars.String()
	for _, want := range []string{"vol-1", "vol-2", "FINDING", "FAILED (permission-denied)", colourRed, "1 of 2 volumes, 1 failed, 1 retries", "elapsed"} {
		if !strings.Contains(out, want) {
			t.Errorf("bars lack %q:\n%q", want, out)
		}
	}
}

func TestCompletion(t *testing.T) {
	code, out, _ := run(t, nil, "completion", "bash")
	if code != ExitOK || !strings.Contains(out, "bash completion") {
		t.Fatalf("completion: %d %.200s", code, out)
	}
}

// TestCompletesFlagValues: the shell completion offers flag values: formats, lock modes, evidence items.
func TestCompletesFlagValues(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want []string
	}{
		{[]string{"__complete", "verify", "x", "--output", ""}, []string{"text", "json"}},
		{[]string{"__complete", "aws", "--lock", ""}, []string{"governance", "compliance"}},
		{[]string{"__complete", "aws", "--consistency", ""}, []string{"crash-consistent", "per-volume"}},
	} {
		code, out, _ := run(t, nil, tc.args...)
		for _, w := range tc.want {
			if code != ExitOK || !strings.Contains(out, w) {
				t.Errorf("%v: %d, completions %q lack %q", tc.args, code, out, w)
			}
		}
	}
}
