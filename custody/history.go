package custody

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"slices"

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

// What a writer checks when it opens a case, so that it never signs anything built on history the case
// key did not sign:
//
//   - the first record (the case's ID and nonce) and every record after the latest signed checkpoint:
//     signed by the case key, numbered in order, each chained to the one before;
//   - every checkpoint: signed by the case key, and consistent with the Merkle tree of the records;
//   - the records a checkpoint covers, through the checkpoint: the writer takes their tree from tiles
//     that hash up to the checkpoint's signed root (tiles.go), checks the first and the last covered
//     record against it, and extends that tree, never one rebuilt from files it has not checked. Without
//     usable tiles it reads every record instead, checking each one's hash against the checkpoints.
//
// So opening costs the same at 100,000 records as at 10. A covered record changed in its file is not
// looked at here: nothing the writer signs depends on it (the chain and the tree it extends are the
// signed ones); History reads every record against the tree, and Seal, which signs a manifest of
// every file, first verifies the whole case.
func (l *Ledger) loadHistory(ctx context.Context, v *Verifier) error {
	first, b, err := readRecordFile(l.root, 1)
	if err != nil {
		return unreadable(l.dir, "record 1", err)
	}
	if err := checkSigned(first, b, v); err != nil {
		return historyError(l.dir, "%v", err)
	}
	l.caseID = first.Statement.Predicate.CaseID
	l.nonce, _ = first.Statement.Predicate.Details[nonceDetail].(string)
	checkpoints, err := l.signedCheckpoints(v)
	if err != nil {
		return err
	}
	last, err := l.lastRecord(checkpoints)
	if err != nil {
		return err
	}
	if n := len(checkpoints); n > 0 && checkpoints[n-1].Size > int64(last) {
		return historyError(l.dir, "checkpoint %d covers %d records; the case holds %d", checkpoints[n-1].Size, checkpoints[n-1].Size, last)
	}
	if ok, err := l.loadFromTiles(ctx, v, checkpoints, last); ok || err != nil {
		return err
	}
	return l.loadFromRecords(ctx, v, checkpoints, last)
}

// lastRecord finds the number of the last record: from the state the last writer left, when the
// records directory is as it left it, else by listing the directory. Records must be numbered from 1
// without a gap.
func (l *Ledger) lastRecord(checkpoints []Checkpoint) (uint64, error) {
	ident, err := recordsDirIdentity(l.root)
	if err != nil {
		return 0, unreadable(l.dir, "the records", err)
	}
	l.recordsIdent = ident
	if st, ok := readCacheState(l.root); ok && st.RecordsDir == ident && st.Records > 0 {
		here, err := l.root.exists(recordRel(st.Records))
		beyond, err2 := l.root.exists(recordRel(st.Records + 1))
		if err == nil && err2 == nil && here && !beyond {
			return st.Records, nil
		}
	}
	seqs, err := listRecordSeqs(l.root)
	if err != nil {
		return 0, unreadable(l.dir, "the records", err)
	}
	if len(seqs) == 0 {
		return 0, fmt.Errorf("%s: %w (it holds no records)", l.dir, ErrNotACase)
	}
	last := seqs[len(seqs)-1]
	if last != uint64(len(seqs)) {
		return 0, historyError(l.dir, "the case has %d records but the last is numbered %d: records are missing", len(seqs), last)
	}
	return last, nil
}

// loadFromTiles opens the history through the cached tiles of the latest checkpoint. It reports false
// (and no error) when there are no usable tiles: the caller then reads every record.
func (l *Ledger) loadFromTiles(ctx context.Context, v *Verifier, checkpoints []Checkpoint, last uint64) (bool, error) {
	if len(checkpoints) == 0 {
		return false, nil
	}
	latest := checkpoints[len(checkpoints)-1]
	tiles := tlog.TileHashReader(tlog.Tree{N: latest.Size, Hash: latest.Root}, newTileCache(l.root))
	tree := newMerkleLogOn(tiles, latest.Size)
	for _, cp := range checkpoints {
		root, err := tlog.TreeHash(cp.Size, tree)
		if err != nil || root != cp.Root {
			// Tiles missing or not the signed tree; or an earlier checkpoint that disagrees with the
			// latest, which reading the records will name.
			return false, nil
		}
	}
	covered := uint64(latest.Size)
	var prev string
	for _, seq := range []uint64{1, covered} {
		rec, _, err := readRecordFile(l.root, seq)
		if err != nil {
			return true, unreadable(l.dir, fmt.Sprint("record ", seq), err)
		}
		want, err := tree.leaf(seq)
		if err != nil {
			return false, nil
		}
		if tlog.RecordHash(rec.Payload) != want {
			return true, historyError(l.dir, "record %d is not the one checkpoint %d signed: it was changed", seq, latest.Size)
		}
		prev = PayloadDigest(rec.Payload)
	}
	prev, err := l.checkTail(ctx, v, tree, covered+1, last, prev)
	if err != nil {
		return true, err
	}
	l.tree, l.tiled, l.covered, l.seq, l.prev = tree, latest.Size, latest.Size, last, prev
	return true, nil
}

// loadFromRecords reads every record in order: those a checkpoint covers are checked by their hashes
// against it, the others by their signatures. It leaves tiles for the next writer.
func (l *Ledger) loadFromRecords(ctx context.Context, v *Verifier, checkpoints []Checkpoint, last uint64) error {
	covered := uint64(0)
	if len(checkpoints) > 0 {
		covered = uint64(checkpoints[len(checkpoints)-1].Size)
	}
	tree := &merkleLog{}
	prev := GenesisPrev
	for seq := uint64(1); seq <= covered; seq++ {
		if seq%1024 == 0 && ctx.Err() != nil {
			return ctx.Err()
		}
		rec, _, err := readRecordFile(l.root, seq)
		if err != nil {
			return unreadable(l.dir, fmt.Sprint("record ", seq), err)
		}
		if err := l.checkLink(rec, seq, prev); err != nil {
			return err
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
	prev, err := l.checkTail(ctx, v, tree, covered+1, last, prev)
	if err != nil {
		return err
	}
	l.tree, l.seq, l.prev, l.covered = tree, last, prev, int64(covered)
	if covered > 0 {
		// The next writer opens through these; failing to write them costs only time.
		if err := writeTiles(l.root, tree, 0, int64(covered)); err != nil {
			l.opts.Logger.Warn("custody: the tile cache could not be written", "case_id", l.caseID, "error", err)
		} else {
			l.tiled = int64(covered)
		}
	}
	return nil
}

// checkTail checks records from..last, which no checkpoint covers, by their signatures, and adds them
// to the tree. prev is the digest of the record before from; it returns the digest of the last.
func (l *Ledger) checkTail(ctx context.Context, v *Verifier, tree *merkleLog, from, last uint64, prev string) (string, error) {
	for seq := from; seq <= last; seq++ {
		if seq%1024 == 0 && ctx.Err() != nil {
			return "", ctx.Err()
		}
		rec, b, err := readRecordFile(l.root, seq)
		if err != nil {
			return "", unreadable(l.dir, fmt.Sprint("record ", seq), err)
		}
		if err := checkSigned(rec, b, v); err != nil {
			return "", historyError(l.dir, "%v", err)
		}
		if err := l.checkLink(rec, seq, prev); err != nil {
			return "", err
		}
		if err := tree.add(rec.Payload); err != nil {
			return "", err
		}
		prev = PayloadDigest(rec.Payload)
	}
	return prev, nil
}

// checkLink checks what chains record seq to the one before it.
func (l *Ledger) checkLink(rec Record, seq uint64, prev string) error {
	ev := rec.Statement.Predicate
	switch {
	case ev.Seq != seq:
		return historyError(l.dir, "record %d says it is record %d", seq, ev.Seq)
	case ev.Prev != prev:
		return historyError(l.dir, "record %d does not follow record %d (its prev is %s, record %d's digest %s)", seq, seq-1, short(ev.Prev), seq-1, short(prev))
	case ev.CaseID != l.caseID:
		return historyError(l.dir, "record %d belongs to case %q, not %q", seq, ev.CaseID, l.caseID)
	}
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

// signedCheckpoints returns the case's checkpoints, each verified against the case key, by size. A
// checkpoint that does not verify, or whose name is not its size, is tampering: the writer refuses it.
func (l *Ledger) signedCheckpoints(v *Verifier) ([]Checkpoint, error) {
	entries, err := l.root.readDir(CheckpointsDir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, unreadable(l.dir, "the checkpoints", err)
	}
	var out []Checkpoint
	for _, e := range entries {
		m := checkpointName.FindStringSubmatch(path.Base(e.rel))
		if m == nil {
			continue
		}
		data, err := l.root.readFile(e.rel, maxBundleSize, nil)
		if err != nil {
			return nil, unreadable(l.dir, e.rel, err)
		}
		cp, err := openCheckpoint(data, v, l.caseID)
		if err != nil {
			return nil, historyError(l.dir, "%s: %v", e.rel, err)
		}
		if e.rel != path.Join(CheckpointsDir, path.Base(CheckpointPath(cp.Size))) {
			return nil, historyError(l.dir, "%s covers %d records: a checkpoint was renamed", e.rel, cp.Size)
		}
		out = append(out, cp)
	}
	slices.SortFunc(out, func(a, b Checkpoint) int { return int(a.Size - b.Size) })
	return out, nil
}

func historyError(dir, format string, args ...any) error {
	return fmt.Errorf("%w: %s; run `acquire verify %s`", ErrTamperedHistory, fmt.Sprintf(format, args...), dir)
}

// unreadable is historyError for what cannot be read, keeping the reason (a link, a permission)
// for errors.Is.
func unreadable(dir, what string, err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		err = pe.Err
	}
	return fmt.Errorf("%w: %s cannot be read: %w; run `acquire verify %s`", ErrTamperedHistory, what, err, dir)
}

// Nonce is the case's random nonce, recorded in its opening record; empty for a case opened before
// nonces were recorded.
func (l *Ledger) Nonce() string { return l.nonce }

// History calls fn with every record of the case, in order: the records this ledger checked when it
// opened the case and those it wrote since. Each file is read again and must still hash to the leaf
// of the tree the ledger extends (the one its checkpoints signed), so a record changed at any time
// stops the walk with ErrTamperedHistory. fn must not append to the ledger.
func (l *Ledger) History(ctx context.Context, fn func(Record) error) error {
	n := l.Len()
	for seq := uint64(1); seq <= n; seq++ {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		rec, _, err := readRecordFile(l.root, seq)
		if err != nil {
			return unreadable(l.dir, fmt.Sprint("record ", seq), err)
		}
		want, err := l.leaf(seq)
		if err != nil {
			return err
		}
		if tlog.RecordHash(rec.Payload) != want {
			return historyError(l.dir, "record %d is not the record the case key signed: it was changed", seq)
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
	return l.tree.leaf(seq)
}
