// Package evidence is what a case holds as evidence, in one documented shape: the engine writes it,
// and export, report and verify read it back through Items, never from a cloud's own record fields.
// It also computes the digests of a block source (Compute), so that the acquisition, a re-hash and
// an export mean the same thing by them on every cloud.
package evidence

import (
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/acquire-forensics/acquire/custody"
	"github.com/acquire-forensics/acquire/providers/driver"
)

// Action is the custody action of the record that defines an evidence item.
const Action = "evidence"

// DetailKey is the record detail that holds the Item.
const DetailKey = "evidence"

// Digest statuses.
const (
	DigestComputed = "computed"
	DigestDeferred = "deferred" // the cloud could not compute it during the acquisition: export or a later digest does
)

// Item is one piece of evidence: the forensic snapshot of a volume, where it came from, and its digests.
type Item struct {
	Name           string             `json:"name"` // "<cloud>:snapshot:<id>", the record's subject
	Cloud          string             `json:"cloud"`
	Account        string             `json:"account"`  // the forensic account, project or subscription
	Location       string             `json:"location"` // where the snapshot is
	Snapshot       string             `json:"snapshot"` // its native ID
	SourceVolume   string             `json:"sourceVolume"`
	SourceWorkload string             `json:"sourceWorkload,omitempty"`
	SourceSnapshot string             `json:"sourceSnapshot,omitempty"` // the source-side snapshot, where the cloud made one
	Consistency    driver.Consistency `json:"consistency"`
	SizeBytes      int64              `json:"sizeBytes"`
	DigestStatus   string             `json:"digestStatus"` // computed or deferred
	Deferred       string             `json:"deferred,omitempty"`
	Digest         *driver.Digest     `json:"digest,omitempty"`
	Locked         string             `json:"locked,omitempty"` // the lock's mode and limits, when locked
	Record         uint64             `json:"-"`                // the seq of the record that defines it
}

// SubjectName names the evidence subject of a snapshot.
func SubjectName(cloud, snapshot string) string { return cloud + ":snapshot:" + snapshot }

// ImageSHA256 is the item's image digest, or "" while it is deferred.
func (it Item) ImageSHA256() string {
	if it.Digest == nil {
		return ""
	}
	return it.Digest.ImageSHA256
}

// Subject is the in-toto subject that names the item in its record: by its image digest when there is
// one. A deferred item has none and is named in the record's details only.
func (it Item) Subject() (custody.Subject, bool) {
	if it.ImageSHA256() == "" {
		return custody.Subject{}, false
	}
	return custody.Subject{
		Name:   it.Name,
		Digest: map[string]string{"sha256": it.Digest.ImageSHA256},
		Annotations: map[string]string{
			"kind": custody.KindEvidence, "sourceVolume": it.SourceVolume, "sizeBytes": strconv.FormatInt(it.SizeBytes, 10),
		},
	}, true
}

// Snapshot is the item as the driver knows the forensic snapshot.
func (it Item) DriverSnapshot() driver.Snapshot {
	return driver.Snapshot{ID: it.Snapshot, VolumeID: it.SourceVolume, Side: driver.Forensic, Account: it.Account, Location: it.Location, SizeBytes: it.SizeBytes, State: driver.StateCompleted}
}

// Items lists the evidence a case's records define, in record order. A later record for the same
// snapshot (a deferred digest computed afterwards) replaces the earlier one. Records that cite
// evidence (exports, re-hashes) do not define it.
func Items(recs []custody.Record) ([]Item, error) {
	var items []Item
	at := map[string]int{}
	for _, r := range recs {
		ev := r.Statement.Predicate
		if ev.Action != Action || ev.Result.Status != custody.StatusOK {
			continue
		}
		raw, ok := ev.Details[DetailKey]
		if !ok {
			return nil, fmt.Errorf("record %d is an evidence record without its %q detail", r.Seq, DetailKey)
		}
		data, err := json.Marshal(raw)
		if err != nil {
			return nil, err
		}
		var it Item
		if err := json.Unmarshal(data, &it); err != nil {
			return nil, fmt.Errorf("record %d: the evidence detail does not read: %w", r.Seq, err)
		}
		if err := it.check(r.Statement.Subject); err != nil {
			return nil, fmt.Errorf("record %d: %w", r.Seq, err)
		}
		it.Record = r.Seq
		if i, ok := at[it.Name]; ok {
			items[i] = it
			continue
		}
		at[it.Name] = len(items)
		items = append(items, it)
	}
	return items, nil
}

// check holds an item to its documented shape, and its subject to its details.
func (it Item) check(subjects []custody.Subject) error {
	switch {
	case it.Cloud == "" || it.Snapshot == "" || it.SourceVolume == "":
		return errors.New("the evidence detail lacks its cloud, snapshot or source volume")
	case it.Name != SubjectName(it.Cloud, it.Snapshot):
		return fmt.Errorf("the evidence is named %q, not %q", it.Name, SubjectName(it.Cloud, it.Snapshot))
	case it.DigestStatus == DigestComputed && (it.Digest == nil || len(it.Digest.ImageSHA256) != 64):
		return errors.New("the evidence says its digest was computed but gives none")
	case it.DigestStatus != DigestComputed && it.DigestStatus != DigestDeferred:
		return fmt.Errorf("the evidence's digest status %q is neither computed nor deferred", it.DigestStatus)
	}
	if want, ok := it.Subject(); ok {
		for _, s := range subjects {
			if s.Name == want.Name {
				if s.Digest["sha256"] != want.Digest["sha256"] {
					return fmt.Errorf("the subject %s has SHA-256 %s, the evidence detail %s", s.Name, s.Digest["sha256"], want.Digest["sha256"])
				}
				return nil
			}
		}
		return fmt.Errorf("no subject names the evidence %s", want.Name)
	}
	return nil
}

// ErrUnknownItem is returned when a case holds no evidence item by the name given.
var ErrUnknownItem = errors.New("no such evidence item in the case")

// ErrAmbiguous is returned when no item is named and the case holds more than one.
var ErrAmbiguous = errors.New("the case holds more than one evidence item")

// Find looks an item up by its snapshot ID, its source volume ID or its subject name. With an empty
// id it returns the case's only item; with several, the error lists them.
func Find(items []Item, id string) (Item, error) {
	var names []string
	var found []Item
	for _, it := range items {
		names = append(names, it.Snapshot+" (from "+it.SourceVolume+")")
		if id != "" && (id == it.Snapshot || id == it.SourceVolume || id == it.Name) {
			found = append(found, it)
		}
	}
	switch {
	case len(items) == 0:
		return Item{}, fmt.Errorf("%w: the case holds no evidence yet", ErrUnknownItem)
	case id == "" && len(items) == 1:
		return items[0], nil
	case id == "":
		return Item{}, fmt.Errorf("%w: name one with --item: %s", ErrAmbiguous, strings.Join(names, ", "))
	case len(found) == 1:
		return found[0], nil
	case len(found) > 1:
		return Item{}, fmt.Errorf("%w: %q names %d items; name the snapshot", ErrAmbiguous, id, len(found))
	}
	return Item{}, fmt.Errorf("%w %q: the case holds %s", ErrUnknownItem, id, strings.Join(names, ", "))
}
