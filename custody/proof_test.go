package custody

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/mod/sumdb/note"
)

func TestInclusionProofs(t *testing.T) {
	s := testSigner(t)
	v := testVerifier(t, s)
	dir := newCase(t, s, 9, true) // 11 records: the tree is not a power of two
	for seq := uint64(1); seq <= 11; seq++ {
		proof, err := Prove(dir, seq)
		if err != nil {
			t.Fatalf("prove %d: %v", seq, err)
		}
		if !bytes.HasPrefix(proof, []byte("c2sp.org/tlog-proof@v1\nindex ")) {
			t.Fatalf("proof %d is not a tlog-proof:\n%s", seq, proof)
		}
		rec, _ := os.ReadFile(filepath.Join(dir, RecordPath(seq)))
		res, err := CheckProof(proof, rec, v)
		if err != nil {
			t.Fatalf("check %d: %v", seq, err)
		}
		if res.Seq != seq || res.Checkpoint.Size != 11 || res.CaseID != "IR-42" {
			t.Errorf("proof %d result %+v", seq, res)
		}
	}

	proof, _ := Prove(dir, 4)
	rec4, _ := os.ReadFile(filepath.Join(dir, RecordPath(4)))
	rec5, _ := os.ReadFile(filepath.Join(dir, RecordPath(5)))
	if _, err := CheckProof(proof, rec5, v); err == nil {
		t.Error("record 5 passed with record 4's proof")
	}
	lines := strings.Split(string(proof), "\n")
	lines[2] = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="
	if _, err := CheckProof([]byte(strings.Join(lines, "\n")), rec4, v); err == nil {
		t.Error("a proof with a wrong hash passed")
	}
	if _, err := CheckProof(proof, rec4, testVerifier(t, testSigner(t))); err == nil {
		t.Error("a proof passed under another key")
	}
	if _, err := Prove(dir, 12); err == nil {
		t.Error("proved a record beyond the checkpoint")
	}
}

// TestProveRefusesAForgedCheckpoint: a proof is never made from a checkpoint the case's key did not
// sign, even one whose root matches the records.
func TestProveRefusesAForgedCheckpoint(t *testing.T) {
	s := testSigner(t)
	dir := newCase(t, s, 3, true)
	other := testSigner(t)
	path := filepath.Join(dir, CheckpointPath(5))
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	body, _, _ := strings.Cut(string(data), "\n\n")
	forged, err := note.Sign(&note.Note{Text: body + "\n"}, noteSigner{ctx: context.Background(), s: other, name: CheckpointOrigin("IR-42")})
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, path, forged)
	if _, err := Prove(dir, 2); !errors.Is(err, ErrTamperedHistory) {
		t.Fatalf("prove from a checkpoint signed by another key: %v", err)
	}
}
