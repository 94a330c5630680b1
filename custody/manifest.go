package custody

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"

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

func (l *Ledger) manifestLocked(ctx context.Context, checkpoint string) (SignedManifest, error) {
	m := SignedManifest{Path: ManifestPath(l.seq)}
	m.BundlePath = m.Path + ".sigstore.json"
	if _, err := os.Stat(filepath.Join(l.dir, m.BundlePath)); err == nil {
		data, err := os.ReadFile(filepath.Join(l.dir, m.Path))
		if err != nil {
			return m, err
		}
		err = json.Unmarshal(data, &m.Manifest)
		return m, err
	}
	files, err := listCaseFiles(l.dir)
	if err != nil {
		return m, err
	}
	m.Manifest = Manifest{
		CaseID:     l.caseID,
		Records:    l.seq,
		Checkpoint: filepath.ToSlash(checkpoint),
		Created:    FormatTime(l.opts.Now()),
	}
	for _, rel := range files {
		if rel == filepath.ToSlash(m.Path) || rel == filepath.ToSlash(m.BundlePath) {
			continue
		}
		f, err := hashFile(filepath.Join(l.dir, filepath.FromSlash(rel)))
		if err != nil {
			return m, err
		}
		f.Path = rel
		m.Files = append(m.Files, f)
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
	path := filepath.Join(l.dir, m.Path)
	if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return m, err // an unsigned manifest left by a crash is replaced
	}
	if err := writeNewFile(path, data, 0o444); err != nil {
		return m, err
	}
	b, err := l.signFile(ctx, data)
	if err != nil {
		return m, err
	}
	return m, writeNewFile(filepath.Join(l.dir, m.BundlePath), b, 0o444)
}

// listCaseFiles lists the regular files of a case, slash-separated and sorted, leaving out the lock and
// the temporary files of interrupted writes.
func listCaseFiles(dir string) ([]string, error) {
	var out []string
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if strings.HasPrefix(d.Name(), ".") && path != dir {
			if d.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		if !d.Type().IsRegular() {
			return nil
		}
		rel, err := filepath.Rel(dir, path)
		if err != nil {
			return err
		}
		out = append(out, filepath.ToSlash(rel))
		return nil
	})
	slices.Sort(out)
	return out, err
}

func hashFile(path string) (ManifestFile, error) {
	f, err := os.Open(path)
	if err != nil {
		return ManifestFile{}, err
	}
	defer f.Close()
	h := sha256.New()
	n, err := io.Copy(h, f)
	if err != nil {
		return ManifestFile{}, fmt.Errorf("hashing %s: %w", path, err)
	}
	return ManifestFile{Size: n, SHA256: hex.EncodeToString(h.Sum(nil))}, nil
}
