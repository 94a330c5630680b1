// Package export downloads an evidence item of a case to a local raw image, verified block by block
// and as a whole against the digest the case recorded, resumably, and records the export in the case.
package export

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/acquire-forensics/acquire/custody"
)

// Item is a piece of evidence as the case recorded it: the forensic copy and its digests.
type Item struct {
	Cloud           string `json:"cloud"`
	Snapshot        string `json:"snapshot"`     // the forensic copy's native ID
	SourceVolume    string `json:"sourceVolume"` // the volume it was taken from
	Account         string `json:"account"`
	Region          string `json:"region"`
	SizeBytes       int64  `json:"sizeBytes"`
	ImageSHA256     string `json:"imageSha256"`
	BlockListSHA256 string `json:"blockListSha256,omitempty"`
	Record          uint64 `json:"record"` // the seq of the record that digested it
}

// ErrUnknownItem is returned when a case holds no evidence item by the name given.
var ErrUnknownItem = errors.New("no such evidence item in the case")

// FindItem looks an evidence item up in a case by its snapshot ID, its source volume ID or its subject
// name. With an empty id it returns the case's only item, or lists them.
func FindItem(dir, id string) (Item, error) {
	items, err := Items(dir)
	if err != nil {
		return Item{}, err
	}
	var names []string
	for _, it := range items {
		names = append(names, it.Snapshot+" (from "+it.SourceVolume+")")
		if id == it.Snapshot || id == it.SourceVolume || id == it.Cloud+":snapshot:"+it.Snapshot {
			return it, nil
		}
	}
	if id == "" && len(items) == 1 {
		return items[0], nil
	}
	if len(items) == 0 {
		return Item{}, fmt.Errorf("%w: %s holds no digested evidence", ErrUnknownItem, dir)
	}
	return Item{}, fmt.Errorf("%w %q: the case holds %s", ErrUnknownItem, id, strings.Join(names, ", "))
}

// Items lists the evidence items of a case, from its digest records, in the order they were digested.
func Items(dir string) ([]Item, error) {
	recs, _, err := custody.ReadReadableRecords(dir) // a forced export of a damaged case reads what it can
	if err != nil {
		return nil, err
	}
	var items []Item
	for _, r := range recs {
		ev := r.Statement.Predicate
		if ev.Action != "digest" || ev.Result.Status != custody.StatusOK {
			continue // the digest records define the evidence; others (exports) cite it
		}
		for _, s := range r.Statement.Subject {
			if s.Kind() != custody.KindEvidence {
				continue
			}
			it := Item{ImageSHA256: s.Digest["sha256"], SourceVolume: s.Annotations["sourceVolume"], Record: ev.Seq}
			it.SizeBytes, _ = strconv.ParseInt(s.Annotations["sizeBytes"], 10, 64)
			if cloud, snap, ok := strings.Cut(s.Name, ":snapshot:"); ok {
				it.Cloud, it.Snapshot = cloud, snap
			}
			if p := ev.Provider; p != nil {
				it.Account, it.Region = p.Account, p.Region
			}
			if d, ok := ev.Details["digest"].(map[string]any); ok {
				it.BlockListSHA256, _ = d["blockListSha256"].(string)
			}
			items = append(items, it)
		}
	}
	return items, nil
}
