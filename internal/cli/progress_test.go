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
		{Kind: acquisition.EventStepError, Step: "vol-2/t1/share", Volume: "vol-2", Code: driver.CodePermissionDenied, Message: "not authorized to perform: ec2:ModifySnapshotAttribute"},
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
	for _, want := range []string{"!!! FINDING: snapshot snap-1", "vol-1/snapshot.wait 10%", "vol-1/snapshot.wait 60%", "FAILED (permission-denied)"} {
		if !strings.Contains(text, want) {
			t.Errorf("plain lines lack %q:\n%s", want, text)
		}
	}
	if strings.Contains(text, "snapshot.wait 20%") {
		t.Errorf("small steps of progress are not thinned out:\n%s", text)
	}
	if strings.Contains(text, "\x1b[") {
		t.Errorf("plain lines carry colour codes:\n%q", text)
	}

	var bars bytes.Buffer
	b := newBarsPrinter(&bars)
	for _, e := range events {
		b.event(e)
	}
	b.close()
	out := bars.String()
	for _, want := range []string{"vol-1", "vol-2", "FINDING", "FAILED (permission-denied)", colourRed} {
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
