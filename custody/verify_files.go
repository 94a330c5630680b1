package custody

import (
	"bytes"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/transparency-dev/formats/note"
	sumdbnote "golang.org/x/mod/sumdb/note"
)

// checkArtifacts checks every artifact a record cites against its digest.
func checkArtifacts(dir string, recs []*checkedRecord, r *Report, known map[string]bool) {
	seen := map[string]bool{}
	for _, c := range recs {
		for _, s := range c.artifacts {
			if !seen[s.Name] {
				seen[s.Name] = true
				r.Artifacts++
			}
			known[s.Name] = true
			if !safeCasePath(s.Name) || !strings.HasPrefix(s.Name, ArtifactsDir+"/") {
				r.fail(CodeArtifactMismatch, c.path, c.seq, "cites artifact %q outside the case's artifacts", s.Name)
				continue
			}
			f, err := hashFile(filepath.Join(dir, filepath.FromSlash(s.Name)))
			if err != nil {
				r.fail(CodeArtifactMismatch, c.path, c.seq, "cites artifact %s, which cannot be read: %v", s.Name, err)
				continue
			}
			if want := s.Digest["sha256"]; f.SHA256 != want {
				r.fail(CodeArtifactMismatch, s.Name, 0, "SHA-256 is %s, but record %d captured it as %s: the artifact was changed", f.SHA256, c.seq, want)
			}
		}
	}
}

// checkCheckpoints checks each checkpoint's note signature and bundle, and its root against the tree of
// the records: a checkpoint larger than the log shows a cut tail, a different root a rewritten history.
// Checkpoints held outside the case are checked the same way.
func checkCheckpoints(dir string, v *Verifier, tsa *TSATrust, tree *merkleLog, held [][]byte, r *Report, known map[string]bool) {
	entries, _ := os.ReadDir(filepath.Join(dir, CheckpointsDir))
	for _, e := range entries {
		m := checkpointName.FindStringSubmatch(e.Name())
		if m == nil {
			continue
		}
		rel := path.Join(CheckpointsDir, e.Name())
		known[rel] = true
		known[rel+".sigstore.json"] = true
		r.Checkpoints++
		named, _ := strconv.ParseInt(m[1], 10, 64)
		data, err := readBounded(filepath.Join(dir, rel))
		if err != nil {
			r.fail(CodeCheckpointMalformed, rel, 0, "cannot be read: %v", err)
			continue
		}
		checkFileBundle(dir, rel, data, v, tsa, CodeCheckpointSignature, r)
		checkCheckpoint(rel, data, named, v, tree, r)
	}
	for i, data := range held {
		checkCheckpoint(fmt.Sprintf("held checkpoint %d", i+1), data, -1, v, tree, r)
	}
	if r.Records > 0 && r.Sealed < int64(r.Records) && (r.Sealed > 0 || r.Checkpoints == 0) {
		if r.Sealed == 0 {
			r.warn(WarnUnsealed, CheckpointsDir, "no checkpoint covers the records: a cut tail could not be detected (seal the case)")
		} else {
			r.warn(WarnUnsealed, CheckpointsDir, "records %d to %d are not covered by a checkpoint yet", r.Sealed+1, r.Records)
		}
	}
}

// checkCheckpoint checks one signed checkpoint note against the tree; named is the size its file name
// gives, or -1.
func checkCheckpoint(label string, data []byte, named int64, v *Verifier, tree *merkleLog, r *Report) {
	cp, err := openCheckpoint(data, v, r.CaseID)
	if err != nil {
		r.fail(CodeCheckpointSignature, label, 0, "%v", err)
		return
	}
	if named >= 0 && cp.Size != named {
		r.fail(CodeCheckpointMalformed, label, 0, "covers %d records but is named for %d", cp.Size, named)
	}
	if cp.Size > tree.n {
		r.fail(CodeCheckpointTruncated, label, 0, "a signed checkpoint covers %d records but only %d are present: records were removed", cp.Size, tree.n)
		return
	}
	root, err := tree.root(cp.Size)
	if err != nil {
		r.fail(CodeCheckpointRoot, label, 0, "%v", err)
		return
	}
	if root != cp.Root {
		r.fail(CodeCheckpointRoot, label, 0, "the Merkle root of the first %d records is not the one this checkpoint signed: records up to %d were changed", cp.Size, cp.Size)
		return
	}
	r.Sealed = max(r.Sealed, cp.Size)
}

// openCheckpoint verifies a checkpoint note's signature by the custody key and parses its body.
func openCheckpoint(data []byte, v *Verifier, caseID string) (Checkpoint, error) {
	origin := CheckpointOrigin(caseID)
	vkey, err := NoteVerifierKey(origin, v.PublicKey())
	if err != nil {
		return Checkpoint{}, err
	}
	nv, err := note.NewECDSAVerifier(vkey)
	if err != nil {
		return Checkpoint{}, err
	}
	n, err := sumdbnote.Open(data, sumdbnote.VerifierList(nv))
	if err != nil {
		var unverified *sumdbnote.UnverifiedNoteError
		if errors.As(err, &unverified) {
			return Checkpoint{}, fmt.Errorf("not signed by the custody key for origin %q", origin)
		}
		return Checkpoint{}, fmt.Errorf("signature does not verify: %v", err)
	}
	cp, err := parseCheckpointBody(n.Text)
	if err != nil {
		return Checkpoint{}, err
	}
	if cp.Origin != origin {
		return Checkpoint{}, fmt.Errorf("origin %q, want %q", cp.Origin, origin)
	}
	return cp, nil
}

// checkFileBundle checks the bundle next to a checkpoint or manifest file: a message signature by the
// trusted key over exactly the file's bytes.
// It reports whether the bundle exists: one that does not was never written (a crash between the two
// files), which leaves the file unsigned but is not a problem of the case.
func checkFileBundle(dir, rel string, data []byte, v *Verifier, tsa *TSATrust, code string, r *Report) bool {
	brel := rel + ".sigstore.json"
	raw, err := readBounded(filepath.Join(dir, brel))
	if errors.Is(err, fs.ErrNotExist) {
		r.warn(WarnIncomplete, rel, "has no signature bundle: it was being written when the writer stopped, and is not relied on")
		return false
	}
	if err != nil {
		r.fail(code, brel, 0, "the signature bundle of %s cannot be read: %v", rel, err)
		return true
	}
	b, err := parseBundle(raw)
	if err != nil {
		r.fail(code, brel, 0, "%v", err)
		return true
	}
	ms := b.MessageSignature
	sum := sha256.Sum256(data)
	switch {
	case ms == nil:
		r.fail(code, brel, 0, "holds no message signature")
		return true
	case b.VerificationMaterial.PublicKey.Hint != v.KeyID():
		r.fail(code, brel, 0, "signed by key %s, not the trusted key %s", b.VerificationMaterial.PublicKey.Hint, v.KeyID())
		return true
	case ms.MessageDigest.Algorithm != "SHA2_256" || !bytes.Equal(ms.MessageDigest.Digest, sum[:]):
		r.fail(code, brel, 0, "the digest it signs is not the SHA-256 of %s: the file was changed", rel)
		return true
	case v.verify(data, ms.Signature) != nil:
		r.fail(code, brel, 0, "the signature over %s does not verify", rel)
		return true
	}
	for i, tsr := range b.timestamps() {
		if tsa == nil {
			r.fail(CodeTimestampInvalid, brel, 0, "time-stamp %d cannot be checked: no time-stamping authority certificates (give --tsa-roots)", i+1)
			continue
		}
		if _, err := verifyTimestamp(tsr, ms.Signature, *tsa, nil); err != nil {
			r.fail(CodeTimestampInvalid, brel, 0, "time-stamp %d does not verify: %v", i+1, err)
		}
	}
	return true
}

// checkManifests checks each signed manifest and every file it lists.
func checkManifests(dir string, v *Verifier, tsa *TSATrust, records uint64, r *Report, known map[string]bool) {
	entries, _ := os.ReadDir(filepath.Join(dir, ManifestsDir))
	for _, e := range entries {
		if manifestName.FindStringSubmatch(e.Name()) == nil {
			continue
		}
		rel := path.Join(ManifestsDir, e.Name())
		known[rel] = true
		known[rel+".sigstore.json"] = true
		r.Manifests++
		data, err := readBounded(filepath.Join(dir, rel))
		if err != nil {
			r.fail(CodeManifestMalformed, rel, 0, "cannot be read: %v", err)
			continue
		}
		if !checkFileBundle(dir, rel, data, v, tsa, CodeManifestSignature, r) {
			continue // an unsigned manifest says nothing
		}
		var m Manifest
		dec := json.NewDecoder(bytes.NewReader(data))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&m); err != nil {
			r.fail(CodeManifestMalformed, rel, 0, "not a manifest: %v", err)
			continue
		}
		if m.CaseID != r.CaseID {
			r.fail(CodeManifestMalformed, rel, 0, "belongs to case %q, not %q", m.CaseID, r.CaseID)
		}
		if m.Records > records {
			r.fail(CodeManifestTruncated, rel, 0, "the signed manifest lists %d records but only %d are present: records were removed", m.Records, records)
		}
		for _, f := range m.Files {
			if !safeCasePath(f.Path) {
				r.fail(CodeManifestMalformed, rel, 0, "lists a path outside the case: %q", f.Path)
				continue
			}
			got, err := hashFile(filepath.Join(dir, filepath.FromSlash(f.Path)))
			switch {
			case err != nil:
				r.fail(CodeManifestFile, f.Path, 0, "listed in %s but cannot be read: %v", rel, err)
			case got.SHA256 != f.SHA256 || got.Size != f.Size:
				r.fail(CodeManifestFile, f.Path, seqOfRecordPath(f.Path), "differs from the copy listed in %s (SHA-256 %s, was %s): the file was changed", rel, short(got.SHA256), short(f.SHA256))
			}
		}
	}
}

// checkStrayFiles warns about files a case does not explain: left-over temporary files from an
// interrupted write, and anything nothing refers to.
func checkStrayFiles(dir string, r *Report, known map[string]bool) {
	files, err := listAllFiles(dir)
	if err != nil {
		return
	}
	for _, rel := range files {
		base := path.Base(rel)
		switch {
		case rel == ".lock", known[rel], recordName.MatchString(base) && path.Dir(rel) == RecordsDir,
			path.Dir(rel) == TSADir && strings.HasSuffix(base, ".pem"):
		case strings.HasPrefix(base, ".tmp-"):
			r.warn(WarnTemporaryFile, rel, "left by an interrupted write; it is not part of the case")
		default:
			r.warn(WarnUnexpectedFile, rel, "no record, checkpoint or manifest refers to this file")
		}
	}
}

func listAllFiles(dir string) ([]string, error) {
	var out []string
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, err := filepath.Rel(dir, p)
		if err == nil {
			out = append(out, filepath.ToSlash(rel))
		}
		return err
	})
	slices.Sort(out)
	return out, err
}

// safeCasePath accepts a slash-separated relative path that stays inside the case.
func safeCasePath(p string) bool {
	return p != "" && !path.IsAbs(p) && path.Clean(p) == p && !strings.HasPrefix(p, "../") && p != ".." && !strings.Contains(p, "\\")
}

func seqOfRecordPath(p string) uint64 {
	if path.Dir(p) != RecordsDir {
		return 0
	}
	m := recordName.FindStringSubmatch(path.Base(p))
	if m == nil {
		return 0
	}
	n, _ := strconv.ParseUint(m[1], 10, 64)
	return n
}
