package custody

import (
	"bytes"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"slices"
	"strings"

	"github.com/transparency-dev/formats/note"
	sumdbnote "golang.org/x/mod/sumdb/note"
)

// accounting tracks the files something in the case accounts for (inventory.go says what may be
// there): kept files are those a manifest of the case lists; claimed files were reported already.
type accounting struct {
	inv     *inventory
	kept    map[string]bool
	claimed map[string]bool
}

func newAccounting(inv *inventory) *accounting {
	a := &accounting{inv: inv, kept: map[string]bool{}, claimed: map[string]bool{}}
	for rel := range inv.evidence {
		a.kept[rel] = true
	}
	return a
}

func (a *accounting) keep(rel string)  { a.kept[rel] = true }
func (a *accounting) claim(rel string) { a.claimed[rel] = true }

// files lists what a manifest of the case lists, sorted: the records and what is kept.
func (a *accounting) files() []string {
	out := make([]string, 0, len(a.kept)+len(a.inv.records))
	for _, seq := range a.inv.records {
		if rel := recordRel(seq); !a.kept[rel] {
			out = append(out, rel)
		}
	}
	for rel := range a.kept {
		out = append(out, rel)
	}
	slices.Sort(out)
	return out
}

// readProblem reports a file that could not be read: a missing file is a change to the case (it was
// removed), anything else is a failure of its own kind, never taken for a change nor for a pass.
func readProblem(r *Report, rel string, seq uint64, what string, err error) {
	if errors.Is(err, fs.ErrNotExist) {
		r.fail(CodeManifestFile, rel, seq, "%s, but it is missing: it was removed", what)
		return
	}
	r.fail(CodeUnreadable, rel, seq, "%s, but it cannot be read: %s", what, errText(err))
}

// checkArtifacts checks every artifact a record cites against its digest.
func checkArtifacts(root *caseRoot, inv *inventory, recs []*checkedRecord, r *Report, acc *accounting) {
	seen := map[string]bool{}
	for _, c := range recs {
		for _, s := range c.artifacts {
			if !seen[s.Name] {
				seen[s.Name] = true
				r.Artifacts++
			}
			if !safeCasePath(s.Name) || !strings.HasPrefix(s.Name, ArtifactsDir+"/") {
				r.fail(CodeArtifactMismatch, c.rel(), c.seq, "cites artifact %q outside the case's artifacts", s.Name)
				continue
			}
			f, err := root.hashFile(s.Name)
			if !errors.Is(err, fs.ErrNotExist) {
				acc.keep(s.Name)
			}
			switch {
			case errors.Is(err, fs.ErrNotExist):
				r.fail(CodeArtifactMismatch, c.rel(), c.seq, "cites artifact %s, which is missing: it was removed", s.Name)
			case err != nil:
				r.fail(CodeUnreadable, s.Name, c.seq, "record %d cites this artifact, but it cannot be read: %s", c.seq, errText(err))
			case f.SHA256 != s.Digest["sha256"]:
				r.fail(CodeArtifactMismatch, s.Name, 0, "SHA-256 is %s, but record %d captured it as %s: the artifact was changed", f.SHA256, c.seq, s.Digest["sha256"])
			}
		}
	}
}

// checkCheckpoints checks each checkpoint's note signature and bundle, and its root against the tree of
// the records: a checkpoint larger than the log shows a cut tail, a different root a rewritten history.
// Checkpoints held outside the case are checked the same way. It returns the sizes of the checkpoints
// present as their writer signed them (note and bundle, under their own name), whatever they say.
func checkCheckpoints(root *caseRoot, inv *inventory, v *Verifier, tsa *TSATrust, tree *merkleLog, held [][]byte, r *Report) map[int64]bool {
	signed := map[int64]bool{}
	for _, named := range inv.checkpoints {
		rel := path.Join(CheckpointsDir, path.Base(CheckpointPath(named)))
		r.Checkpoints++
		data, err := root.readFile(rel, maxBundleSize, nil)
		if err != nil {
			r.fail(CodeUnreadable, rel, 0, "cannot be read: %s", errText(err))
			continue
		}
		bundled := checkFileBundle(root, inv.cpBundles[named], rel, data, v, tsa, CodeCheckpointSignature, r)
		if checkCheckpoint(rel, data, named, v, tree, r) != errCheckpointUnsigned && bundled {
			signed[named] = true
		}
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
	return signed
}

// errCheckpointUnsigned is what checkCheckpoint returns for a note that is not a checkpoint its writer
// signed under this name.
var errCheckpointUnsigned = errors.New("not a signed checkpoint")

// checkCheckpoint checks one signed checkpoint note against the tree; named is the size its file name
// gives, or -1. It returns nil when the checkpoint holds, errCheckpointUnsigned when it is not signed
// as named, and another error when it is signed and the records disagree with it.
func checkCheckpoint(label string, data []byte, named int64, v *Verifier, tree *merkleLog, r *Report) error {
	cp, err := openCheckpoint(data, v, r.CaseID)
	if err != nil {
		r.fail(CodeCheckpointSignature, label, 0, "%v", err)
		return errCheckpointUnsigned
	}
	if named >= 0 && cp.Size != named {
		r.fail(CodeCheckpointMalformed, label, 0, "covers %d records but is named for %d: a checkpoint was renamed", cp.Size, named)
		return errCheckpointUnsigned
	}
	if cp.Size > tree.n {
		r.fail(CodeCheckpointTruncated, label, 0, "a signed checkpoint covers %d records but only %d are present: records were removed", cp.Size, tree.n)
		return errors.New("beyond the log")
	}
	root, err := tree.root(cp.Size)
	if err != nil {
		r.fail(CodeCheckpointRoot, label, 0, "%v", err)
		return err
	}
	if root != cp.Root {
		r.fail(CodeCheckpointRoot, label, 0, "the Merkle root of the first %d records is not the one this checkpoint signed: records up to %d were changed", cp.Size, cp.Size)
		return errors.New("root mismatch")
	}
	r.Sealed = max(r.Sealed, cp.Size)
	return nil
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
// trusted key over exactly the file's bytes. present says whether the inventory found the bundle. It
// reports whether the bundle holds.
func checkFileBundle(root *caseRoot, present bool, rel string, data []byte, v *Verifier, tsa *TSATrust, code string, r *Report) bool {
	brel := rel + ".sigstore.json"
	if !present {
		if code == CodeManifestSignature {
			r.fail(CodeManifestUnsigned, rel, 0, "has no signature bundle: nothing proves who wrote it")
		} else {
			r.warn(WarnIncomplete, rel, "has no signature bundle: it was being written when the writer stopped (its note is signed, and is checked)")
		}
		return false
	}
	raw, err := root.readFile(brel, maxBundleSize, nil)
	if err != nil {
		r.fail(CodeUnreadable, brel, 0, "the signature bundle of %s cannot be read: %s", rel, errText(err))
		return false
	}
	b, err := parseBundle(raw)
	if err != nil {
		r.fail(code, brel, 0, "%v", err)
		return false
	}
	ms := b.MessageSignature
	sum := sha256.Sum256(data)
	switch {
	case ms == nil:
		r.fail(code, brel, 0, "holds no message signature")
		return false
	case b.VerificationMaterial.PublicKey.Hint != v.KeyID():
		r.fail(code, brel, 0, "signed by key %s, not the trusted key %s", b.VerificationMaterial.PublicKey.Hint, v.KeyID())
		return false
	case ms.MessageDigest.Algorithm != "SHA2_256" || !bytes.Equal(ms.MessageDigest.Digest, sum[:]):
		r.fail(code, brel, 0, "the digest it signs is not the SHA-256 of %s: the file was changed", rel)
		return false
	case v.verify(data, ms.Signature) != nil:
		r.fail(code, brel, 0, "the signature over %s does not verify", rel)
		return false
	}
	ok := true
	for i, tsr := range b.timestamps() {
		if tsa == nil {
			r.fail(CodeTimestampInvalid, brel, 0, "time-stamp %d cannot be checked: no time-stamping authority certificates (give --tsa-roots)", i+1)
			ok = false
			continue
		}
		if _, err := verifyTimestamp(tsr, ms.Signature, *tsa, nil); err != nil {
			r.fail(CodeTimestampInvalid, brel, 0, "time-stamp %d does not verify: %v", i+1, err)
			ok = false
		}
	}
	return ok
}

// checkManifests checks each signed manifest and every file it lists. It returns the manifests present
// as their writer signed them (bundle, name, case), by the record count they are named for, whether
// the files they list still match or not.
func checkManifests(root *caseRoot, inv *inventory, v *Verifier, tsa *TSATrust, records uint64, r *Report, acc *accounting) map[uint64]Manifest {
	signed := map[uint64]Manifest{}
	for _, named := range inv.manifests {
		rel := path.Join(ManifestsDir, path.Base(ManifestPath(named)))
		r.Manifests++
		data, err := root.readFile(rel, maxBundleSize, nil)
		if err != nil {
			r.fail(CodeUnreadable, rel, 0, "cannot be read: %s", errText(err))
			continue
		}
		if !checkFileBundle(root, inv.mfBundles[named], rel, data, v, tsa, CodeManifestSignature, r) {
			continue // an unsigned manifest says nothing
		}
		var m Manifest
		dec := json.NewDecoder(bytes.NewReader(data))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&m); err != nil {
			r.fail(CodeManifestMalformed, rel, 0, "not a manifest: %v", err)
			continue
		}
		ok := true
		if m.CaseID != r.CaseID {
			r.fail(CodeManifestMalformed, rel, 0, "belongs to case %q, not %q", m.CaseID, r.CaseID)
			ok = false
		}
		if m.Records != named {
			r.fail(CodeManifestMalformed, rel, 0, "lists the case as of record %d but is named for record %d: a manifest was renamed", m.Records, named)
			ok = false
		}
		if ok {
			signed[named] = m
		}
		if m.Records > records {
			r.fail(CodeManifestTruncated, rel, 0, "the signed manifest lists %d records but only %d are present: records were removed", m.Records, records)
		}
		for _, f := range m.Files {
			if !safeCasePath(f.Path) {
				r.fail(CodeManifestMalformed, rel, 0, "lists a path outside the case: %q", f.Path)
				ok = false
				continue
			}
			got, err := root.hashFile(f.Path)
			if !errors.Is(err, fs.ErrNotExist) {
				acc.keep(f.Path)
			}
			switch {
			case err != nil:
				readProblem(r, f.Path, seqOfRecordPath(f.Path), "listed in "+rel, err)
			case got.SHA256 != f.SHA256 || got.Size != f.Size:
				r.fail(CodeManifestFile, f.Path, seqOfRecordPath(f.Path), "differs from the copy listed in %s (SHA-256 %s, was %s): the file was changed", rel, short(got.SHA256), short(f.SHA256))
			}
		}
	}
	return signed
}

// checkSeals requires of every case.seal record what the seal wrote: a checkpoint and a manifest over
// the records up to it, both holding. A seal interrupted by a crash is no excuse: the seal record is
// written first, so a case whose writer stopped before sealing has no seal record to answer for, and
// `acquire custody seal` completes an interrupted one.
func checkSeals(recs []*checkedRecord, checkpoints map[int64]bool, manifests map[uint64]Manifest, r *Report) {
	for _, c := range recs {
		if !c.ok || c.action != ActionSeal {
			continue
		}
		s := Seal{Seq: c.seq, Checkpoint: path.Join(CheckpointsDir, path.Base(CheckpointPath(int64(c.seq)))),
			Manifest: path.Join(ManifestsDir, path.Base(ManifestPath(c.seq)))}
		var missing []string
		if !checkpoints[int64(c.seq)] {
			missing = append(missing, "its checkpoint "+s.Checkpoint)
		}
		if m, ok := manifests[c.seq]; !ok {
			missing = append(missing, "its manifest "+s.Manifest)
		} else if m.Checkpoint != s.Checkpoint {
			missing = append(missing, fmt.Sprintf("a manifest naming its checkpoint (%s names %q)", s.Manifest, m.Checkpoint))
		}
		s.Complete = len(missing) == 0
		if !s.Complete {
			r.fail(CodeSealIncomplete, c.rel(), c.seq, "this record sealed the case, but %s, signed, is not there: removed, replaced, or never written by a seal that was interrupted (`acquire custody seal` completes an interrupted one)", strings.Join(missing, " and "))
		}
		r.Seals = append(r.Seals, s)
	}
}

// checkInventory reports what the case holds that nothing accounts for.
func checkInventory(inv *inventory, acc *accounting, r *Report) {
	var unexpected []string
	for rel := range inv.unexpected {
		unexpected = append(unexpected, rel)
	}
	for _, rel := range inv.tsaFiles {
		if !acc.kept[rel] && !acc.claimed[rel] {
			unexpected = append(unexpected, rel)
		}
	}
	slices.Sort(unexpected)
	for _, rel := range unexpected {
		mode := inv.unexpected[rel]
		switch {
		case mode.IsDir():
			r.fail(CodeUnexpectedFile, rel, 0, "a case holds no such directory: it was added")
		case mode.Type() != 0:
			r.fail(CodeUnexpectedFile, rel, 0, "is a device, pipe or socket: a case holds only files")
		case path.Dir(rel) == TSADir:
			r.fail(CodeUnexpectedFile, rel, 0, "is not a time-stamping authority's certificates named by their SHA-256, as a writer keeps them: it was added")
		default:
			r.fail(CodeUnexpectedFile, rel, 0, "a case holds no such file and nothing in it accounts for this one: it was added")
		}
	}
	var uncited []string
	for rel := range inv.artifacts {
		if !acc.kept[rel] && !acc.claimed[rel] {
			uncited = append(uncited, rel)
		}
	}
	slices.Sort(uncited)
	for _, rel := range uncited {
		r.warn(WarnUncitedArtifact, rel, "no record cites this artifact: it is not part of the evidence and no manifest lists it (a writer that stopped between storing it and recording it leaves one)")
	}
	for _, rel := range inv.temporary {
		r.warn(WarnTemporaryFile, rel, "left by an interrupted write; it is not part of the case")
	}
}

func seqOfRecordPath(p string) uint64 {
	if path.Dir(p) != RecordsDir {
		return 0
	}
	n, _ := recordSeq(path.Base(p))
	return n
}
