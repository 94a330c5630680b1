package custody

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// rewriteRecord changes record seq's note and signs the new payload with s: a forgery only the holder
// of a key can make, and one the chain and the checkpoints must still expose.
func rewriteRecord(t *testing.T, dir string, seq uint64, s *Signer) {
	t.Helper()
	path := filepath.Join(dir, RecordPath(seq))
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	b, st, err := parseRecord(data)
	if err != nil {
		t.Fatal(err)
	}
	st.Predicate.Note = "rewritten"
	if b.DSSEEnvelope.Payload, err = encodeStatement(st); err != nil {
		t.Fatal(err)
	}
	out, err := b.encode()
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, path, out)
	resign(t, dir, seq, s, PayloadType)
}

// flipPayloadByte changes one byte of record seq's payload and leaves its signature as it was.
func flipPayloadByte(t *testing.T, dir string, seq uint64) {
	t.Helper()
	path := filepath.Join(dir, RecordPath(seq))
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	b, _, err := parseRecord(data)
	if err != nil {
		t.Fatal(err)
	}
	p := b.DSSEEnvelope.Payload
	i := strings.Index(string(p), `"note":"`) + len(`"note":"`)
	p[i] ^= 0x01
	out, err := b.encode()
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, path, out)
}

// TestWritersRefuseTamperedHistory: a writer opening a case refuses history the case key did not sign,
// wherever it builds on it: the records after the latest checkpoint, the first and the last record,
// the checkpoints.
func TestWritersRefuseTamperedHistory(t *testing.T) {
	other := testSigner(t)
	tests := []struct {
		name   string
		sealed bool
		tamper func(t *testing.T, dir string, s *Signer)
		want   string
	}{
		{"earlier record's byte changed", false, func(t *testing.T, dir string, _ *Signer) { flipPayloadByte(t, dir, 2) }, "record 2"},
		{"last record's byte changed under a checkpoint", true, func(t *testing.T, dir string, _ *Signer) { flipPayloadByte(t, dir, 7) }, "record 7 is not the one checkpoint 7 signed"},
		{"first record's byte changed under a checkpoint", true, func(t *testing.T, dir string, _ *Signer) { flipPayloadByte(t, dir, 1) }, "record 1"},
		{"earlier record re-signed with the case key", false, func(t *testing.T, dir string, s *Signer) { rewriteRecord(t, dir, 2, s) }, "does not follow record 2"},
		{"last record re-signed under a checkpoint", true, func(t *testing.T, dir string, s *Signer) { rewriteRecord(t, dir, 7, s) }, "record 7 is not the one checkpoint 7 signed"},
		{"earlier record signed by another key", false, func(t *testing.T, dir string, _ *Signer) { resign(t, dir, 2, other, PayloadType) }, "not the case key"},
		{"record removed", false, func(t *testing.T, dir string, _ *Signer) { _ = os.Remove(filepath.Join(dir, RecordPath(3))) }, "records are missing"},
		{"record removed after the checkpoint", true, func(t *testing.T, dir string, s *Signer) {
			appendNotes(t, dir, s, 3)
			_ = os.Remove(filepath.Join(dir, RecordPath(9)))
		}, "records are missing"},
		{"record after the checkpoint changed", true, func(t *testing.T, dir string, s *Signer) {
			appendNotes(t, dir, s, 3)
			flipPayloadByte(t, dir, 9)
		}, "record 9"},
		{"checkpoint replaced", true, func(t *testing.T, dir string, _ *Signer) {
			writeFile(t, filepath.Join(dir, CheckpointPath(7)), []byte("forged\n"))
		}, "0000000007.checkpoint"},
		{"checkpoint renamed", true, func(t *testing.T, dir string, s *Signer) {
			appendNotes(t, dir, s, 2)
			if err := os.Rename(filepath.Join(dir, CheckpointPath(7)), filepath.Join(dir, CheckpointPath(9))); err != nil {
				t.Fatal(err)
			}
		}, "renamed"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := testSigner(t)
			dir := newCase(t, s, 5, tc.sealed)
			tc.tamper(t, dir, s)
			l, err := Open(context.Background(), dir, testOptions(s))
			if err == nil {
				l.Close()
				t.Fatal("the writer opened a case whose history was changed")
			}
			if !errors.Is(err, ErrTamperedHistory) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %q: want ErrTamperedHistory naming %q", err, tc.want)
			}
		})
	}
}

// appendNotes opens a case and appends n notes, which no checkpoint covers.
func appendNotes(t *testing.T, dir string, s *Signer, n int) {
	t.Helper()
	l, err := Open(context.Background(), dir, testOptions(s))
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	for i := range n {
		if _, err := l.Append(context.Background(), Entry{Action: "note", Note: fmt.Sprint("after ", i)}); err != nil {
			t.Fatal(err)
		}
	}
}

// TestCoveredTamperingIsNeverBuiltOn: a record a checkpoint covers, changed in its file, is not read
// when a writer opens the case through the checkpoint's tiles, and nothing the writer signs builds on
// it: appends chain to the signed records, checkpoints extend the signed tree (consistent with the
// earlier one, so the change still shows), History refuses the changed record and Seal refuses to
// vouch for the case. Without tiles, opening reads every record and refuses at once.
func TestCoveredTamperingIsNeverBuiltOn(t *testing.T) {
	ctx := context.Background()
	s := testSigner(t)
	v := testVerifier(t, s)
	dir := newCase(t, s, 5, true)
	held, err := os.ReadFile(filepath.Join(dir, CheckpointPath(7)))
	if err != nil {
		t.Fatal(err)
	}
	rewriteRecord(t, dir, 3, s) // re-signed by the key holder: only the chain and the tree show it

	l, err := Open(ctx, dir, testOptions(s))
	if err != nil {
		t.Fatalf("open through the checkpoint: %v", err)
	}
	if _, err := l.Append(ctx, Entry{Action: "note", Note: "appended"}); err != nil {
		t.Fatal(err)
	}
	if _, err := l.Checkpoint(ctx); err != nil {
		t.Fatal(err)
	}
	if err := l.History(ctx, func(Record) error { return nil }); !errors.Is(err, ErrTamperedHistory) || !strings.Contains(err.Error(), "record 3") {
		t.Errorf("history over the changed record: %v", err)
	}
	if _, err := l.Seal(ctx, "over a changed record"); !errors.Is(err, ErrTamperedHistory) || !strings.Contains(err.Error(), "record 3") {
		t.Errorf("seal over the changed record: %v", err)
	}
	l.Close()

	// The new checkpoint signed the original tree: the held checkpoint agrees with it, and both
	// expose the changed record.
	r, err := Verify(ctx, dir, VerifyOptions{Verifier: v, Checkpoints: [][]byte{held}})
	if err != nil {
		t.Fatal(err)
	}
	var roots []string
	for _, p := range r.Problems {
		if p.Code == CodeCheckpointRoot {
			roots = append(roots, p.Path)
		}
	}
	if !slices.Equal(roots, []string{"checkpoints/0000000007.checkpoint", "checkpoints/0000000008.checkpoint", "held checkpoint 1"}) {
		t.Errorf("checkpoints disagreeing with the changed records: %v, want the old, the new and the held one", roots)
	}
	if r.Records != 8 || !hasCode(r, CodePrevMismatch) {
		t.Errorf("records %d, problems %v", r.Records, r.Problems)
	}

	// Without the cache, the writer reads every record and refuses.
	if err := os.RemoveAll(filepath.Join(dir, CacheDir)); err != nil {
		t.Fatal(err)
	}
	if l, err := Open(ctx, dir, testOptions(s)); !errors.Is(err, ErrTamperedHistory) {
		if err == nil {
			l.Close()
		}
		t.Fatalf("open without tiles: %v, want ErrTamperedHistory", err)
	}
}

// TestPlantedTilesAreNotTrusted: tiles that do not hash up to the signed checkpoint are not used: the
// writer reads the records instead, and opens as usual.
func TestPlantedTilesAreNotTrusted(t *testing.T) {
	ctx := context.Background()
	s := testSigner(t)
	dir := newCase(t, s, 5, true)
	tiles := filepath.Join(dir, CacheDir, "tile", "8", "0", "000.p", "7")
	data, err := os.ReadFile(tiles)
	if err != nil {
		t.Fatalf("no tile written at the seal: %v", err)
	}
	data[40] ^= 1
	writeFile(t, tiles, data)
	flipPayloadByte(t, dir, 4) // covered: only reading the records finds it
	if l, err := Open(ctx, dir, testOptions(s)); !errors.Is(err, ErrTamperedHistory) || !strings.Contains(err.Error(), "record 4") {
		if err == nil {
			l.Close()
		}
		t.Fatalf("open with a damaged tile over a changed record: %v", err)
	}
}

// TestHistoryReadsWhatWasChecked: History yields the records checked at open and those written since,
// with the case's nonce in the first; a record changed after the open stops it.
func TestHistoryReadsWhatWasChecked(t *testing.T) {
	s := testSigner(t)
	ctx := context.Background()
	dir := newCase(t, s, 3, true)
	l, err := Open(ctx, dir, testOptions(s))
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	if len(l.Nonce()) != 32 {
		t.Errorf("nonce %q: want 32 hex digits", l.Nonce())
	}
	if _, err := l.Append(ctx, Entry{Action: "note", Note: "after the open"}); err != nil {
		t.Fatal(err)
	}
	var actions []string
	if err := l.History(ctx, func(r Record) error { actions = append(actions, r.Statement.Predicate.Action); return nil }); err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(actions, ","); got != "case.open,capture.config,note,note,case.seal,note" {
		t.Errorf("history %s", got)
	}
	flipPayloadByte(t, dir, 2)
	err = l.History(ctx, func(Record) error { return nil })
	if !errors.Is(err, ErrTamperedHistory) {
		t.Errorf("history of a record changed after the open: %v, want ErrTamperedHistory", err)
	}
}

// TestNoncesDiffer: two cases with the same ID get different nonces.
func TestNoncesDiffer(t *testing.T) {
	s := testSigner(t)
	ctx := context.Background()
	var nonces []string
	for _, d := range []string{"a", "b"} {
		l, err := Create(ctx, filepath.Join(t.TempDir(), d, "DUP"), "DUP", testOptions(s))
		if err != nil {
			t.Fatal(err)
		}
		nonces = append(nonces, l.Nonce())
		l.Close()
	}
	if nonces[0] == nonces[1] || nonces[0] == "" {
		t.Errorf("nonces %v: want two different ones", nonces)
	}
}

// TestCloseCheckpointsALongTail: a writer leaving more than autoCheckpoint records uncovered writes a
// checkpoint as it closes, so the next writer does not check them one by one; a writer that wrote
// nothing changes nothing.
func TestCloseCheckpointsALongTail(t *testing.T) {
	ctx := context.Background()
	s := testSigner(t)
	dir := newCase(t, s, 0, false)
	l, err := Open(ctx, dir, testOptions(s))
	if err != nil {
		t.Fatal(err)
	}
	for range autoCheckpoint {
		if _, err := l.Append(ctx, Entry{Action: "note"}); err != nil {
			t.Fatal(err)
		}
	}
	l.Close()
	if _, err := os.Stat(filepath.Join(dir, CheckpointPath(autoCheckpoint+1))); err != nil {
		t.Fatalf("no closing checkpoint: %v", err)
	}
	if r := verifyCase(t, dir, testVerifier(t, s)); !r.OK() || r.Sealed != autoCheckpoint+1 {
		t.Fatalf("after closing: covered %d, %v", r.Sealed, r.Problems)
	}
	small := newCase(t, s, 2, false)
	before := caseFiles(t, small)
	l, err = Open(ctx, small, testOptions(s))
	if err != nil {
		t.Fatal(err)
	}
	l.Close()
	if after := caseFiles(t, small); !slices.Equal(before, after) {
		t.Errorf("opening and closing changed the case: %v -> %v", before, after)
	}
}
