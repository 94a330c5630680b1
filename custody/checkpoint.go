package custody

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"regexp"
	"strings"

	"golang.org/x/mod/sumdb/note"
)

// CheckpointPath is the path of the checkpoint over the first size records.
func CheckpointPath(size int64) string {
	return filepath.Join(CheckpointsDir, fmt.Sprintf("%010d.checkpoint", size))
}

var checkpointName = regexp.MustCompile(`^([0-9]{10})\.checkpoint$`)

// SignedCheckpoint is a checkpoint as written: the signed note and its bundle.
type SignedCheckpoint struct {
	Checkpoint
	Path       string // the signed note, relative to the case directory
	BundlePath string // the bundle signing that file
	Note       []byte // the file's bytes
}

// Checkpoint writes a signed checkpoint over every record written so far (or returns the one that
// exists for that size). The checkpoint is a C2SP signed note (signature type 0x02, ECDSA, named by the
// log origin) and the note file is also signed as a Sigstore bundle, for cosign and openssl.
func (l *Ledger) Checkpoint(ctx context.Context) (SignedCheckpoint, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.broken != nil {
		return SignedCheckpoint{}, fmt.Errorf("ledger stopped after an earlier failed write (%w): reopen the case", l.broken)
	}
	return l.checkpointLocked(ctx)
}

func (l *Ledger) checkpointLocked(ctx context.Context) (SignedCheckpoint, error) {
	size := int64(l.seq)
	root, err := l.tree.root(size)
	if err != nil {
		return SignedCheckpoint{}, err
	}
	cp := SignedCheckpoint{
		Checkpoint: Checkpoint{Origin: CheckpointOrigin(l.caseID), Size: size, Root: root},
		Path:       CheckpointPath(size),
	}
	cp.BundlePath = cp.Path + ".sigstore.json"
	rel, brel := filepath.ToSlash(cp.Path), filepath.ToSlash(cp.BundlePath)
	existing, err := l.root.readFile(rel, maxBundleSize, nil)
	switch {
	case err == nil:
		// Written before (by this writer's seal, or one interrupted): it must be the checkpoint of
		// this tree, signed by this key.
		v, verr := NewVerifier(l.opts.Signer.PublicKey())
		if verr != nil {
			return cp, verr
		}
		got, err := openCheckpoint(existing, v, l.caseID)
		if err != nil || got != cp.Checkpoint {
			return cp, historyError(l.dir, "%s is not the checkpoint of the records: it was changed", rel)
		}
		cp.Note = existing
		if ok, err := l.root.exists(brel); err != nil || ok {
			l.covered = size
			return cp, err
		}
	case !errors.Is(err, fs.ErrNotExist):
		return cp, err
	default:
		signer := noteSigner{ctx: ctx, s: l.opts.Signer, name: cp.Origin}
		cp.Note, err = note.Sign(&note.Note{Text: cp.Checkpoint.String()}, signer)
		if err != nil {
			return cp, fmt.Errorf("signing checkpoint: %w", err)
		}
		if err := l.root.writeNew(rel, cp.Note, 0o444); err != nil {
			return cp, err
		}
	}
	b, err := l.signFile(ctx, cp.Note)
	if err != nil {
		return cp, err
	}
	if err := l.root.writeNew(brel, b, 0o444); err != nil {
		return cp, err
	}
	l.covered = size
	l.cacheTiles(size)
	return cp, nil
}

// cacheTiles writes the tiles of the tree of size records, for the next writer to open the case by.
func (l *Ledger) cacheTiles(size int64) {
	if size <= l.tiled {
		return
	}
	if err := writeTiles(l.root, l.tree, l.tiled, size); err != nil {
		l.opts.Logger.Warn("custody: the tile cache could not be written", "case_id", l.caseID, "error", err)
		return
	}
	l.tiled = size
}

// Sealed describes what Seal wrote.
type Sealed struct {
	Record     Record
	Checkpoint SignedCheckpoint
	Manifest   SignedManifest
	// Completed says that Seal completed a seal a writer had begun and not finished (its checkpoint or
	// manifest missing), and wrote no new seal record.
	Completed bool
}

// Seal closes a stage of the case (an acquisition, a transfer, ...): it appends a "case.seal" record,
// writes a checkpoint over every record, and a signed manifest of every file in the case.
//
// A manifest vouches for every file of the case, so Seal first verifies the whole case against the
// case key, as Verify does, and refuses (ErrTamperedHistory) when anything does not hold or the case
// holds anything it cannot account for. A seal interrupted before its checkpoint or manifest was
// written is completed instead of being sealed over.
func (l *Ledger) Seal(ctx context.Context, note string) (Sealed, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.broken != nil {
		return Sealed{}, fmt.Errorf("ledger stopped after an earlier failed write (%w): reopen the case", l.broken)
	}
	v, err := NewVerifier(l.opts.Signer.PublicKey())
	if err != nil {
		return Sealed{}, err
	}
	vopts := VerifyOptions{Verifier: v}
	if l.opts.TSA != nil {
		vopts.TSATrust = &l.opts.TSA.trust
	}
	r, found, err := verify(ctx, l.dir, vopts)
	if err != nil {
		return Sealed{}, err
	}
	if r.Records != l.seq {
		return Sealed{}, historyError(l.dir, "the case holds %d records, and this writer wrote up to record %d", r.Records, l.seq)
	}
	interrupted := interruptedSeal(r)
	if !r.OK() && !interrupted {
		return Sealed{}, sealRefused(l.dir, r)
	}
	var out Sealed
	if interrupted {
		out.Completed = true
		out.Record, _, err = readRecordFile(l.root, l.seq)
		if err != nil {
			return Sealed{}, err
		}
	} else if out.Record, err = l.appendLocked(ctx, Entry{Action: ActionSeal, Note: note}); err != nil {
		return Sealed{}, err
	}
	if out.Checkpoint, err = l.checkpointLocked(ctx); err != nil {
		return Sealed{}, err
	}
	files := append(found.files(), filepath.ToSlash(out.Record.Path), filepath.ToSlash(out.Checkpoint.Path), filepath.ToSlash(out.Checkpoint.BundlePath))
	if l.opts.TSA != nil {
		files = append(files, tsaChainName(l.opts.TSA.trust.PEM))
	}
	if out.Manifest, err = l.manifestLocked(ctx, out.Checkpoint.Path, files); err != nil {
		return Sealed{}, err
	}
	return out, nil
}

// interruptedSeal reports whether everything that does not hold in r is the last record's seal, left
// without its checkpoint or manifest (or with a manifest whose signature was never written) by a
// writer that stopped.
func interruptedSeal(r *Report) bool {
	n := len(r.Seals)
	if r.OK() || n == 0 || r.Seals[n-1].Seq != r.Records || r.Seals[n-1].Complete {
		return false
	}
	last := r.Seals[n-1]
	for _, p := range r.Problems {
		switch {
		case p.Code == CodeSealIncomplete && p.Seq == last.Seq:
		case p.Code == CodeManifestUnsigned && p.Path == last.Manifest:
		default:
			return false
		}
	}
	return true
}

// sealRefused is the error of a seal over a case that does not verify, naming the first problems.
func sealRefused(dir string, r *Report) error {
	var shown []string
	for i, p := range r.Problems {
		if i == 3 {
			shown = append(shown, fmt.Sprintf("and %d more", len(r.Problems)-3))
			break
		}
		shown = append(shown, p.String())
	}
	return historyError(dir, "the case does not verify, and a seal would vouch for it (%s)", strings.Join(shown, "; "))
}
