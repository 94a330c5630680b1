package custody

import (
	"context"
	"errors"
	"os"
	"path/filepath"
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

// TestWritersRefuseTamperedHistory: a writer opening a case checks the whole history it would extend,
// not only its last record, whether a checkpoint covers the changed record or not.
func TestWritersRefuseTamperedHistory(t *testing.T) {
	other := testSigner(t)
	tests := []struct {
		name   string
		sealed bool
		tamper func(t *testing.T, dir string, s *Signer)
		want   string
	}{
		{"earlier record's byte changed", false, func(t *testing.T, dir string, _ *Signer) { flipPayloadByte(t, dir, 2) }, "record 2"},
		{"last record's byte changed under a checkpoint", true, func(t *testing.T, dir string, _ *Signer) { flipPayloadByte(t, dir, 7) }, "were changed"},
		{"earlier record re-signed with the case key", false, func(t *testing.T, dir string, s *Signer) { rewriteRecord(t, dir, 2, s) }, "does not follow record 2"},
		{"earlier record re-signed under a checkpoint", true, func(t *testing.T, dir string, s *Signer) { rewriteRecord(t, dir, 3, s) }, "does not follow record 3"},
		{"last record re-signed under a checkpoint", true, func(t *testing.T, dir string, s *Signer) { rewriteRecord(t, dir, 7, s) }, "were changed"},
		{"earlier record signed by another key", false, func(t *testing.T, dir string, _ *Signer) { resign(t, dir, 2, other, PayloadType) }, "not the case key"},
		{"record removed", false, func(t *testing.T, dir string, _ *Signer) { _ = os.Remove(filepath.Join(dir, RecordPath(3))) }, "records are missing"},
		{"checkpoint replaced", true, func(t *testing.T, dir string, _ *Signer) {
			writeFile(t, filepath.Join(dir, CheckpointPath(7)), []byte("forged\n"))
		}, "0000000007.checkpoint"},
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
