package report

import (
	"slices"
	"strings"

	"github.com/acquire-forensics/acquire/custody"
	"github.com/acquire-forensics/acquire/providers/evidence"
)

// evidenceItems lists the evidence of the case as its evidence records define it, read by the one
// reader export and verify use too, and describes each from the other records about it.
func evidenceItems(recs []Record) []Evidence {
	var crecs []custody.Record
	for _, rec := range recs {
		if rec.Event != nil {
			crecs = append(crecs, custody.Record{Seq: rec.Seq, Path: rec.Path, Statement: &custody.Statement{Subject: rec.Subjects, Predicate: *rec.Event}})
		}
	}
	found, err := evidence.Items(crecs)
	if err != nil {
		return nil // the verification section says what is wrong with the records
	}
	byRecord := map[uint64]Record{}
	for _, rec := range recs {
		byRecord[rec.Seq] = rec
	}
	items := make([]Evidence, 0, len(found))
	for _, it := range found {
		e := newEvidence(it, byRecord[it.Record])
		describeCopy(&e, recs)
		items = append(items, e)
	}
	return items
}

func newEvidence(it evidence.Item, rec Record) Evidence {
	e := Evidence{
		Name: it.Name, Cloud: it.Cloud, Snapshot: it.Snapshot, SourceVolume: it.SourceVolume, Account: it.Account, Region: it.Location,
		SizeBytes: it.SizeBytes, ImageSHA256: it.ImageSHA256(), DigestRecord: it.Record, DigestStatus: it.DigestStatus,
		Consistency: string(it.Consistency), Deferred: it.Deferred,
	}
	if rec.Event != nil {
		e.DigestTime = rec.Event.Time
	}
	if d := it.Digest; d != nil {
		e.BlockListSHA256, e.BlockSize, e.ListedBlocks, e.Method = d.BlockListSHA256, d.BlockSize, d.ListedBlocks, d.Method
	}
	return e
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

// ownStep reports whether the record is one of the engine's steps for this volume
// ("a<n>/<volume>/...").
func (r relatedIDs) ownStep(rec Record) bool {
	step := rec.Event.Step
	if _, rest, ok := strings.Cut(step, "/"); ok && strings.HasPrefix(step, "a") {
		step = rest
	}
	return r.volume != "" && strings.HasPrefix(step, r.volume+"/")
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
