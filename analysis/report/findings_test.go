package report

import (
	"testing"

	"github.com/acquire-forensics/acquire/custody"
)

// TestNotAcquiredIsItsOwnFinding: volumes the exposure check names as not acquired (a local SSD, an
// unmanaged disk) are a finding of their own, titled as such, not an exposure; the exposures beside
// them stay one.
func TestNotAcquiredIsItsOwnFinding(t *testing.T) {
	check := func(found ...any) Findings {
		ev := &custody.Event{Action: "exposure.check", Phase: custody.PhaseResult, Step: "case/exposure",
			Result: custody.Result{Status: custody.StatusOK}, Details: map[string]any{"findings": found}}
		return findings([]Record{{Seq: 4, Event: ev}})
	}
	ssd := map[string]any{"kind": "not-acquired", "volumeId": "projects/p/zones/z/instances/web-1/localSSD/local-ssd-0", "detail": "a local SSD, NOT acquired"}
	public := map[string]any{"kind": "public-snapshot", "snapshot": "snap-old", "volumeId": "vol-1", "detail": "public"}

	f := check(ssd)
	if len(f.Items) != 1 || f.Items[0].Kind != FindingNotAcquired || len(f.Items[0].Exposures) != 1 || kindTitle(f.Items[0].Kind) != "Volume NOT acquired" {
		t.Fatalf("a local SSD alone: %+v", f.Items)
	}
	f = check(public, ssd)
	if len(f.Items) != 2 || f.Items[0].Kind != FindingNotAcquired || f.Items[1].Kind != FindingExposure ||
		f.Items[1].Exposures[0].Snapshot != "snap-old" || len(f.Items[1].Exposures) != 1 {
		t.Fatalf("a local SSD and a public snapshot: %+v", f.Items)
	}
	if f = check(); len(f.Items) != 0 || len(f.CleanChecks) != 1 {
		t.Fatalf("a clean check: %+v", f)
	}
}
