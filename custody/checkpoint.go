package custody

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"

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
	if err := l.loadTree(); err != nil {
		return SignedCheckpoint{}, err
	}
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
	if existing, err := os.ReadFile(filepath.Join(l.dir, cp.Path)); err == nil {
		if _, err := os.Stat(filepath.Join(l.dir, cp.BundlePath)); err == nil {
			cp.Note = existing
			return cp, nil
		}
		// The note was written but not its bundle: sign the note that is there.
		cp.Note = existing
	} else if !errors.Is(err, fs.ErrNotExist) {
		return cp, err
	} else {
		signer := noteSigner{ctx: ctx, s: l.opts.Signer, name: cp.Origin}
		cp.Note, err = note.Sign(&note.Note{Text: cp.Checkpoint.String()}, signer)
		if err != nil {
			return cp, fmt.Errorf("signing checkpoint: %w", err)
		}
		if err := writeNewFile(filepath.Join(l.dir, cp.Path), cp.Note, 0o444); err != nil {
			return cp, err
		}
	}
	b, err := l.signFile(ctx, cp.Note)
	if err != nil {
		return cp, err
	}
	if err := writeNewFile(filepath.Join(l.dir, cp.BundlePath), b, 0o444); err != nil {
		return cp, err
	}
	return cp, nil
}

// loadTree builds the Merkle tree over the records on disk, the first time it is needed.
func (l *Ledger) loadTree() error {
	if l.tree != nil {
		return nil
	}
	t := &merkleLog{}
	for seq := uint64(1); seq <= l.seq; seq++ {
		rec, _, err := readRecordFile(l.dir, seq)
		if err != nil {
			return err
		}
		if err := t.add(rec.Payload); err != nil {
			return err
		}
	}
	l.tree = t
	return nil
}

// Sealed describes what Seal wrote.
type Sealed struct {
	Record     Record
	Checkpoint SignedCheckpoint
	Manifest   SignedManifest
}

// Seal closes a stage of the case (an acquisition, a transfer, ...): it appends a "case.seal" record,
// writes a checkpoint over every record, and a signed manifest of every file in the case.
func (l *Ledger) Seal(ctx context.Context, note string) (Sealed, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	rec, err := l.appendLocked(ctx, Entry{Action: "case.seal", Note: note})
	if err != nil {
		return Sealed{}, err
	}
	cp, err := l.checkpointLocked(ctx)
	if err != nil {
		return Sealed{}, err
	}
	m, err := l.manifestLocked(ctx, cp.Path)
	if err != nil {
		return Sealed{}, err
	}
	return Sealed{Record: rec, Checkpoint: cp, Manifest: m}, nil
}
