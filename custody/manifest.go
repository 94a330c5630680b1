package custody

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"regexp"
	"slices"

	"github.com/gowebpki/jcs"
)

// Manifest lists every file of a case, as of one record, with its digest.
type Manifest struct {
	CaseID     string         `json:"caseId"`
	Records    uint64         `json:"records"`
	Checkpoint string         `json:"checkpoint,omitempty"`
	Created    string         `json:"created"`
	Files      []ManifestFile `json:"files"`
}

// ManifestFile is one file of a case: its path (slash-separated, relative to the case), size and SHA-256.
type ManifestFile struct {
	Path   string `json:"path"`
	Size   int64  `json:"size"`
	SHA256 string `json:"sha256"`
}

// ManifestPath is the path of the manifest written at record count n.
func ManifestPath(n uint64) string {
	return filepath.Join(ManifestsDir, fmt.Sprintf("%010d.json", n))
}

var manifestName = regexp.MustCompile(`^([0-9]{10})\.json$`)

// SignedManifest is a manifest as written.
type SignedManifest struct {
	Manifest
	Path       string
	BundlePath string
}

// manifestLocked writes the signed manifest of the given files (slash-separated, each accounted for by
// the case: Seal's verification says which), as of the last record. A manifest already signed for
// that record is returned as it is; one left unsigned by an interrupted seal is replaced.
func (l *Ledger) manifestLocked(ctx context.Context, checkpoint string, files []string) (SignedManifest, error) {
	m := SignedManifest{Path: ManifestPath(l.seq)}
	m.BundlePath = m.Path + ".sigstore.json"
	rel, brel := filepath.ToSlash(m.Path), filepath.ToSlash(m.BundlePath)
	if ok, err := l.root.exists(brel); err != nil {
		return m, err
	} else if ok {
		data, err := l.root.readFile(rel, maxBundleSize, nil)
		if err != nil {
			return m, err
		}
		err = json.Unmarshal(data, &m.Manifest)
		return m, err
	}
	m.Manifest = Manifest{
		CaseID:     l.caseID,
		Records:    l.seq,
		Checkpoint: filepath.ToSlash(checkpoint),
		Created:    FormatTime(l.opts.Now()),
	}
	slices.Sort(files)
	for _, f := range slices.Compact(files) {
		if f == rel || f == brel {
			continue
		}
		h, err := l.root.hashFile(f)
		if err != nil {
			return m, err
		}
		m.Files = append(m.Files, h)
	}
	raw, err := json.Marshal(m.Manifest)
	if err != nil {
		return m, err
	}
	data, err := jcs.Transform(raw)
	if err != nil {
		return m, err
	}
	data = append(data, '\n')
	if err := l.root.remove(rel); err != nil {
		return m, err // an unsigned manifest left by a crash is replaced
	}
	if err := l.root.writeNew(rel, data, 0o444); err != nil {
		return m, err
	}
	b, err := l.signFile(ctx, data)
	if err != nil {
		return m, err
	}
	return m, l.root.writeNew(brel, b, 0o444)
}
