package report

import (
	"slices"
	"strconv"
	"strings"

	"github.com/acquire-forensics/acquire/custody"
)

// evidenceItems lists the evidence of the case: one item per evidence subject, described by the first
// record citing it that is not an export or re-hash (the digest record, for the engine).
func evidenceItems(recs []Record) []Evidence {
	var items []Evidence
	seen := map[string]bool{}
	for _, rec := range recs {
		ev := rec.Event
		if ev == nil || isComparison(ev.Action) {
			continue
		}
		for _, s := range rec.Subjects {
			if s.Kind() != custody.KindEvidence || seen[s.Name] {
				continue
			}
			seen[s.Name] = true
			items = append(items, newEvidence(rec, s))
		}
	}
	for i := range items {
		describeCopy(&items[i], recs)
	}
	return items
}

func newEvidence(rec Record, s custody.Subject) Evidence {
	ev := rec.Event
	it := Evidence{
		Name:         s.Name,
		SourceVolume: s.Annotations["sourceVolume"],
		ImageSHA256:  s.Digest["sha256"],
		DigestRecord: rec.Seq,
		DigestTime:   ev.Time,
		DigestStatus: ev.Result.Status,
	}
	it.SizeBytes, _ = strconv.ParseInt(s.Annotations["sizeBytes"], 10, 64)
	// Names are "<cloud>:<kind>:<native ID>".
	if parts := strings.SplitN(s.Name, ":", 3); len(parts) == 3 {
		it.Cloud, it.Snapshot = parts[0], parts[2]
	}
	if p := ev.Provider; p != nil {
		if it.Cloud == "" {
			it.Cloud = p.Cloud
		}
		it.Account, it.Region = p.Account, p.Region
	}
	if d := detailMap(ev.Details["digest"]); d != nil {
		it.BlockListSHA256 = detailString(d, "blockListSha256")
		it.BlockSize = detailInt(d, "blockSize")
		it.ListedBlocks = detailInt(d, "listedBlocks")
		it.Method = detailString(d, "method")
		if it.SizeBytes == 0 {
			it.SizeBytes = detailInt(d, "sizeBytes")
		}
	}
	return it
}

// describeCopy finds what other records say about an item: every record about it, its lock and the key
// it is encrypted under.
func describeCopy(it *Evidence, recs []Record) {
	ids := related(it, recs)
	for _, rec := range recs {
		ev := rec.Event
		if ev == nil || !ids.covers(rec) {
			continue
		}
		it.Records = append(it.Records, rec.Seq)
		if ev.Action == "lock" && ev.Phase != custody.PhaseIntent && it.Snapshot != "" && ids.names(rec, it.Snapshot) {
			it.Lock = &Lock{
				Mode:         detailString(ev.Details, "mode"),
				Days:         detailInt(ev.Details, "days"),
				CoolOffHours: detailInt(ev.Details, "coolOffHours"),
				Record:       rec.Seq,
				Status:       ev.Result.Status,
			}
		}
		// The copy's key: any detail describing this snapshot with a keyId; the last record knows best
		// (a copy request names an alias, the completed copy the key itself).
		for _, v := range ev.Details {
			if m := detailMap(v); m != nil && it.Snapshot != "" && detailString(m, "id") == it.Snapshot {
				if k := detailString(m, "keyId"); k != "" {
					it.EncryptionKey = k
				}
			}
		}
	}
}

// relatedIDs are the cloud identifiers of one evidence item: its source volume, its forensic copy, and
// the snapshots made on the way (found through the records of the volume's own steps).
type relatedIDs struct {
	volume string
	ids    map[string]bool
	name   string
}

func related(it *Evidence, recs []Record) relatedIDs {
	r := relatedIDs{volume: it.SourceVolume, ids: map[string]bool{}, name: it.Name}
	for _, id := range []string{it.SourceVolume, it.Snapshot} {
		if id != "" {
			r.ids[id] = true
		}
	}
	for _, rec := range recs {
		if rec.Event == nil || !r.ownStep(rec) || rec.Event.Provider == nil {
			continue
		}
		for _, res := range rec.Event.Provider.Resources {
			if res.Kind == "snapshot" || res.Kind == "volume" {
				r.ids[res.ID] = true
			}
		}
	}
	return r
}

// ownStep reports whether the record is one of the engine's steps for this volume ("<volume>/...").
func (r relatedIDs) ownStep(rec Record) bool {
	return r.volume != "" && strings.HasPrefix(rec.Event.Step, r.volume+"/")
}

func (r relatedIDs) covers(rec Record) bool {
	if r.ownStep(rec) {
		return true
	}
	for _, s := range rec.Subjects {
		if s.Name == r.name {
			return true
		}
	}
	if p := rec.Event.Provider; p != nil {
		for _, res := range p.Resources {
			if r.ids[res.ID] {
				return true
			}
		}
	}
	return false
}

// names reports whether the record's resources include id.
func (r relatedIDs) names(rec Record, id string) bool {
	p := rec.Event.Provider
	return p != nil && slices.ContainsFunc(p.Resources, func(res custody.Resource) bool { return res.ID == id })
}
