package report

import (
	"strings"

	"github.com/acquire-forensics/acquire/custody"
)

// isComparison reports whether a record re-reads evidence rather than acquires it: an export to a file
// or a re-hash. Such records cite the evidence subject with the digest they found.
func isComparison(action string) bool {
	return action == "export" || strings.HasPrefix(action, "export.") || strings.Contains(action, "rehash")
}

// comparisons lists every later digest of evidence: export and re-hash records, and any other record
// citing an item again.
func comparisons(recs []Record, items []Evidence) []Comparison {
	byName := map[string]*Evidence{}
	for i := range items {
		byName[items[i].Name] = &items[i]
	}
	var out []Comparison
	for _, rec := range recs {
		ev := rec.Event
		if ev == nil {
			continue
		}
		cited := false
		for _, s := range rec.Subjects {
			it := byName[s.Name]
			if s.Kind() != custody.KindEvidence || it == nil || it.DigestRecord == rec.Seq {
				continue
			}
			cited = true
			out = append(out, newComparison(rec, it, s.Digest["sha256"]))
		}
		if !cited && isComparison(ev.Action) {
			// An export record that names its item only in its details.
			name := detailString(ev.Details, "item", "snapshot", "evidence", "name")
			c := newComparison(rec, findItem(items, name), "")
			if c.Item == "" {
				c.Item = name
			}
			out = append(out, c)
		}
	}
	return out
}

func findItem(items []Evidence, id string) *Evidence {
	if id == "" {
		return nil
	}
	for i := range items {
		if id == items[i].Name || id == items[i].Snapshot || id == items[i].SourceVolume {
			return &items[i]
		}
	}
	return nil
}

func newComparison(rec Record, it *Evidence, cited string) Comparison {
	ev := rec.Event
	d := ev.Details
	c := Comparison{
		Record:      rec.Seq,
		Time:        ev.Time,
		Action:      ev.Action,
		Status:      ev.Result.Status,
		Operator:    ev.Actor.Operator,
		Destination: detailString(d, "destination", "path", "out", "file", "to"),
		Host:        detailString(d, "host"),
		SHA256:      detailString(d, "imageSha256", "sha256", "actualSha256", "computedSha256", "gotSha256"),
		Note:        ev.Note,
	}
	if c.SHA256 == "" {
		c.SHA256 = detailString(detailMap(d["digest"]), "imageSha256", "sha256")
	}
	if c.SHA256 == "" {
		c.SHA256 = cited
	}
	if it != nil {
		c.Item = it.Name
		c.Recorded = it.ImageSHA256
	}
	if c.Recorded == "" {
		c.Recorded = detailString(d, "recordedImageSha256", "recordedSha256", "expectedSha256")
	}
	c.Forced, _ = detailBool(d, "verificationOverridden", "forced", "force", "override")
	c.OverriddenProblems = detailInt(d, "verificationProblems")
	c.Match = CheckUnknown
	if m, ok := detailBool(d, "match", "matched", "digestMatch", "digestMatched"); ok {
		c.Match = matchWord(m)
	} else if c.SHA256 != "" && c.Recorded != "" {
		c.Match = matchWord(strings.EqualFold(c.SHA256, c.Recorded))
	}
	return c
}

func matchWord(ok bool) string {
	if ok {
		return CheckMatch
	}
	return CheckMismatch
}
