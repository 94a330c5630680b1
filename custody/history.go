package custody

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"

	"github.com/secure-systems-lab/go-securesystemslib/dsse"
	"golang.org/x/mod/sumdb/tlog"
)

// ErrTamperedHistory is returned when a writer finds that the history it would extend is not what the
// case key signed: it refuses to sign on top of it.
var ErrTamperedHistory = errors.New("the case's history does not verify")

// nonceDetail is the detail of the opening record that holds the case's nonce.
const nonceDetail = "nonce"

// newNonce is the case's random nonce: it makes this case directory's identifiers (the idempotency
// tokens an acquisition derives from it) differ from every other case's, even one with the same ID.
func newNonce() (string, error) {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", err
	}
	return hex.EncodeToString(b[:]), nil
}

// loadHistory reads every record of the case in order and checks the history a writer is about to
// extend: each record is a record of this case, signed by the case key, chained to the one before.
// Records that a signed checkpoint already commits to need no signature check of their own: the
// checkpoint's Merkle root over their payload bytes is checked instead, which costs a hash, not an
// ECDSA verification, per record. It builds the Merkle tree the ledger keeps.
func (l *Ledger) loadHistory(ctx context.Context, v *Verifier, last uint64) error {
	first, b, err := readRecordFile(l.dir, 1)
	if err != nil {
		return historyError(l.dir, "record 1 cannot be read: %v", err)
	}
	if err := checkSigned(first, b, v); err != nil {
		return historyError(l.dir, "%v", err)
	}
	l.caseID = first.Statement.Predicate.CaseID
	l.nonce, _ = first.Statement.Predicate.Details[nonceDetail].(string)
	checkpoints, err := l.signedCheckpoints(v, last)
	if err != nil {
		return err
	}
	covered := int64(0)
	if len(checkpoints) > 0 {
		covered = checkpoints[len(checkpoints)-1].Size
	}
	tree := &merkleLog{}
	prev := GenesisPrev
	for seq := uint64(1); seq <= last; seq++ {
		if seq%1024 == 0 && ctx.Err() != nil {
			return ctx.Err()
		}
		rec, b, err := readRecordFile(l.dir, seq)
		if err != nil {
			return historyError(l.dir, "record %d cannot be read: %v", seq, err)
		}
		if int64(seq) > covered {
			if err := checkSigned(rec, b, v); err != nil {
				return historyError(l.dir, "%v", err)
			}
		}
		ev := rec.Statement.Predicate
		switch {
		case ev.Seq != seq:
			return historyError(l.dir, "record %d says it is record %d", seq, ev.Seq)
		case ev.Prev != prev:
			return historyError(l.dir, "record %d does not follow record %d (its prev is %s, record %d's digest %s)", seq, seq-1, short(ev.Prev), seq-1, short(prev))
		case ev.CaseID != l.caseID:
			return historyError(l.dir, "record %d belongs to case %q, not %q", seq, ev.CaseID, l.caseID)
		}
		if err := tree.add(rec.Payload); err != nil {
			return err
		}
		prev = PayloadDigest(rec.Payload)
	}
	for _, cp := range checkpoints {
		root, err := tree.root(cp.Size)
		if err != nil {
			return err
		}
		if root != cp.Root {
			return historyError(l.dir, "records 1 to %d are not the ones checkpoint %d signed: they were changed", cp.Size, cp.Size)
		}
	}
	l.tree, l.seq, l.prev = tree, last, prev
	return nil
}

// checkSigned checks that a record is signed by the case key.
func checkSigned(rec Record, b *bundle, v *Verifier) error {
	hint := b.VerificationMaterial.PublicKey.Hint
	if hint != v.KeyID() {
		return fmt.Errorf("record %d is signed by key %s, not the case key %s", rec.Seq, hint, v.KeyID())
	}
	if err := v.verify(dsse.PAE(PayloadType, rec.Payload), b.DSSEEnvelope.Signatures[0].Sig); err != nil {
		return fmt.Errorf("record %d (%s) does not verify against the case key: it was changed after it was signed", rec.Seq, rec.Path)
	}
	return nil
}

// signedCheckpoints returns the case's checkpoints over at most last records, each verified against
// the case key, by size. A checkpoint that does not verify, or that covers records the case does not
// have, is tampering: the writer refuses it.
func (l *Ledger) signedCheckpoints(v *Verifier, last uint64) ([]Checkpoint, error) {
	entries, err := os.ReadDir(filepath.Join(l.dir, CheckpointsDir))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("listing checkpoints: %w", err)
	}
	var out []Checkpoint
	for _, e := range entries {
		m := checkpointName.FindStringSubmatch(e.Name())
		if m == nil {
			continue
		}
		named, _ := strconv.ParseInt(m[1], 10, 64)
		rel := filepath.Join(CheckpointsDir, e.Name())
		data, err := readBounded(filepath.Join(l.dir, rel))
		if err != nil {
			return nil, historyError(l.dir, "%s cannot be read: %v", rel, err)
		}
		cp, err := openCheckpoint(data, v, l.caseID)
		if err != nil {
			return nil, historyError(l.dir, "%s: %v", rel, err)
		}
		if cp.Size != named || cp.Size > int64(last) {
			return nil, historyError(l.dir, "%s covers %d records; the case holds %d", rel, cp.Size, last)
		}
		out = append(out, cp)
	}
	slices.SortFunc(out, func(a, b Checkpoint) int { return int(a.Size - b.Size) })
	return out, nil
}

func historyError(dir, format string, args ...any) error {
	return fmt.Errorf("%w: %s; run `acquire verify %s`", ErrTamperedHistory, fmt.Sprintf(format, args...), dir)
}

// Nonce is the case's random nonce, recorded in its opening record; empty for a case opened before
// nonces were recorded.
func (l *Ledger) Nonce() string { return l.nonce }

// History calls fn with every record of the case, in order: the records this ledger checked when it
// opened the case and those it wrote since. Each file is read again and must still hash to the leaf
// the ledger holds for it, so a record changed after the case was opened stops the walk with
// ErrTamperedHistory. fn must not append to the ledger.
func (l *Ledger) History(ctx context.Context, fn func(Record) error) error {
	n := l.Len()
	for seq := uint64(1); seq <= n; seq++ {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		rec, _, err := readRecordFile(l.dir, seq)
		if err != nil {
			return historyError(l.dir, "record %d cannot be read: %v", seq, err)
		}
		want, err := l.leaf(seq)
		if err != nil {
			return err
		}
		if tlog.RecordHash(rec.Payload) != want {
			return historyError(l.dir, "record %d changed after the case was opened", seq)
		}
		if err := fn(rec); err != nil {
			return err
		}
	}
	return nil
}

// leaf is the tree's leaf hash of record seq.
func (l *Ledger) leaf(seq uint64) (tlog.Hash, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	hs, err := l.tree.ReadHashes([]int64{tlog.StoredHashIndex(0, int64(seq)-1)})
	if err != nil {
		return tlog.Hash{}, err
	}
	return hs[0], nil
}
