package acquisition

import (
	"testing"

	"github.com/acquire-forensics/acquire/providers/driver"
)

// TestFindingsNote: the exposure record's note tells volumes left out of the acquisition apart from
// copies others can use, and counts each.
func TestFindingsNote(t *testing.T) {
	ssd := driver.Finding{Kind: driver.FindingNotAcquired}
	public := driver.Finding{Kind: "public-snapshot"}
	for _, c := range []struct {
		findings []driver.Finding
		want     string
	}{
		{nil, "no snapshot or image of the target volumes can be used by others"},
		{[]driver.Finding{ssd}, "FINDING: 1 volume of the workloads NOT acquired: no snapshot can take them; no snapshot or image of the target volumes can be used by others"},
		{[]driver.Finding{public, ssd, ssd}, "FINDING: 2 volumes of the workloads NOT acquired: no snapshot can take them; FINDING: 1 snapshot or images of the target volumes can be used by others"},
	} {
		if got := findingsNote(c.findings); got != c.want {
			t.Errorf("findingsNote(%d findings) = %q, want %q", len(c.findings), got, c.want)
		}
	}
}
