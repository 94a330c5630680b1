package custody

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/secure-systems-lab/go-securesystemslib/dsse"
)

// mentions reports whether some problem names the file rel (by path, or as the record it is).
func mentions(r *Report, rel string) bool {
	seq := seqOfRecordPath(rel)
	for _, p := range r.Problems {
		if p.Path == rel || p.Path+".sigstore.json" == rel || (seq != 0 && p.Seq == seq) {
			return true
		}
		if strings.Contains(p.Message, rel) {
			return true
		}
	}
	return false
}

// TestEveryChangedByteIsFound flips bytes all over a sealed case, one at a time: verify must fail every
// time and name the file that changed.
func TestEveryChangedByteIsFound(t *testing.T) {
	s := testSigner(t)
	v := testVerifier(t, s)
	dir := newCase(t, s, 3, true)
	files := caseFiles(t, dir)
	// Every byte with ACQUIRE_EXHAUSTIVE=1 (make fuzz); a spread sample otherwise, to keep make test short.
	stride := 7
	if raceEnabled {
		stride = 41
	}
	if os.Getenv("ACQUIRE_EXHAUSTIVE") != "" {
		stride = 1
	}
	tried := 0
	for _, rel := range files {
		path := filepath.Join(dir, filepath.FromSlash(rel))
		orig, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		for i := 0; i < len(orig); i += stride {
			for _, mask := range []byte{0x01, 0x20} {
				changed := bytes.Clone(orig)
				changed[i] ^= mask
				writeFile(t, path, changed)
				r := verifyCase(t, dir, v)
				tried++
				if r.OK() {
					t.Fatalf("%s byte %d ^%#x (%q -> %q): verify passed", rel, i, mask, orig[i], changed[i])
				}
				if !mentions(r, rel) {
					t.Fatalf("%s byte %d ^%#x: problems do not name the file: %v", rel, i, mask, r.Problems)
				}
			}
		}
		writeFile(t, path, orig)
	}
	if r := verifyCase(t, dir, v); !r.OK() {
		t.Fatalf("restored case fails: %v", r.Problems)
	}
	t.Logf("%d single-byte changes over %d files, all found", tried, len(files))
}

func TestStructuralTampering(t *testing.T) {
	s := testSigner(t)
	v := testVerifier(t, s)
	other := testSigner(t)
	rec := func(dir string, seq uint64) string { return filepath.Join(dir, RecordPath(seq)) }

	tests := []struct {
		name   string
		tamper func(t *testing.T, dir string)
		codes  []string
		seq    uint64 // a problem must name this record
	}{
		{"record removed", func(t *testing.T, dir string) { os.Remove(rec(dir, 3)) }, []string{CodeSeqGap, CodeCheckpointTruncated, CodeManifestFile}, 3},
		{"tail cut under a checkpoint", func(t *testing.T, dir string) { os.Remove(rec(dir, 5)) }, []string{CodeCheckpointTruncated, CodeManifestTruncated}, 0},
		{"record duplicated", func(t *testing.T, dir string) {
			data, _ := os.ReadFile(rec(dir, 3))
			writeFile(t, rec(dir, 6), data)
		}, []string{CodeSeqMismatch, CodePrevMismatch}, 6},
		{"records reordered", func(t *testing.T, dir string) {
			a, _ := os.ReadFile(rec(dir, 3))
			b, _ := os.ReadFile(rec(dir, 4))
			writeFile(t, rec(dir, 3), b)
			writeFile(t, rec(dir, 4), a)
		}, []string{CodeSeqMismatch, CodePrevMismatch, CodeCheckpointRoot}, 3},
		{"signed by another key", func(t *testing.T, dir string) {
			resign(t, dir, 2, other, PayloadType)
		}, []string{CodeOtherKey, CodeSignerMismatch}, 2},
		{"wrong payload type", func(t *testing.T, dir string) {
			resign(t, dir, 2, s, "application/json")
		}, []string{CodePayloadType}, 2},
		{"empty record", func(t *testing.T, dir string) { writeFile(t, rec(dir, 2), nil) }, []string{CodeRecordMalformed}, 2},
		{"truncated record", func(t *testing.T, dir string) {
			data, _ := os.ReadFile(rec(dir, 2))
			writeFile(t, rec(dir, 2), data[:len(data)/2])
		}, []string{CodeRecordMalformed}, 2},
		{"garbage record", func(t *testing.T, dir string) { writeFile(t, rec(dir, 2), []byte("\x00\xffnot json at all")) }, []string{CodeRecordMalformed}, 2},
		{"oversized record", func(t *testing.T, dir string) {
			writeFile(t, rec(dir, 2), bytes.Repeat([]byte(" "), maxBundleSize+1))
		}, []string{CodeRecordUnreadable}, 2},
		{"record re-indented", func(t *testing.T, dir string) {
			data, _ := os.ReadFile(rec(dir, 2))
			writeFile(t, rec(dir, 2), bytes.ReplaceAll(data, []byte(`,"`), []byte(`, "`)))
		}, []string{CodeRecordMalformed}, 2},
		{"case key replaced", func(t *testing.T, dir string) {
			data, _ := os.ReadFile(filepath.Join(dir, PublicKeyFile))
			other := newCase(t, other, 0, false)
			data, _ = os.ReadFile(filepath.Join(other, PublicKeyFile))
			writeFile(t, filepath.Join(dir, PublicKeyFile), data)
		}, []string{CodeKeyMismatch}, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := newCase(t, s, 3, true) // records 1..5: open, 3 events, seal
			tc.tamper(t, dir)
			r := verifyCase(t, dir, v)
			if r.OK() {
				t.Fatal("verify passed")
			}
			for _, code := range tc.codes {
				if !hasCode(r, code) {
					t.Errorf("missing problem %s in %v", code, r.Problems)
				}
			}
			if tc.seq != 0 && !mentions(r, filepath.ToSlash(RecordPath(tc.seq))) {
				t.Errorf("no problem names record %d: %v", tc.seq, r.Problems)
			}
		})
	}
}

// resign rewrites record seq's bundle with the given key and payload type, keeping its payload.
func resign(t *testing.T, dir string, seq uint64, s *Signer, payloadType string) {
	t.Helper()
	if s == nil {
		t.Fatal("resign needs a signer")
	}
	data, err := os.ReadFile(filepath.Join(dir, RecordPath(seq)))
	if err != nil {
		t.Fatal(err)
	}
	b, _, err := parseRecord(data)
	if err != nil {
		t.Fatal(err)
	}
	sig, err := s.sign(context.Background(), dsse.PAE(payloadType, b.DSSEEnvelope.Payload))
	if err != nil {
		t.Fatal(err)
	}
	b.VerificationMaterial.PublicKey.Hint = s.KeyID()
	b.DSSEEnvelope.PayloadType = payloadType
	b.DSSEEnvelope.Signatures = []envelopeSig{{Sig: sig}}
	out, err := b.encode()
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(dir, RecordPath(seq)), out)
}

func TestExternalCheckpointCatchesCutTail(t *testing.T) {
	s := testSigner(t)
	v := testVerifier(t, s)
	dir := newCase(t, s, 3, true)
	held, err := os.ReadFile(filepath.Join(dir, CheckpointPath(5)))
	if err != nil {
		t.Fatal(err)
	}
	// Whoever cuts the tail also removes the case's own checkpoint and manifest.
	for _, p := range []string{RecordPath(5), RecordPath(4), CheckpointPath(5), CheckpointPath(5) + ".sigstore.json", ManifestPath(5), ManifestPath(5) + ".sigstore.json"} {
		if err := os.Remove(filepath.Join(dir, p)); err != nil {
			t.Fatal(err)
		}
	}
	if r := verifyCase(t, dir, v); !r.OK() {
		t.Fatalf("without the held checkpoint the cut is invisible, yet: %v", r.Problems)
	}
	r, err := Verify(context.Background(), dir, VerifyOptions{Verifier: v, Checkpoints: [][]byte{held}})
	if err != nil {
		t.Fatal(err)
	}
	if !hasCode(r, CodeCheckpointTruncated) {
		t.Fatalf("held checkpoint did not reveal the cut: %v", r.Problems)
	}
}

func TestPinnedFingerprint(t *testing.T) {
	s := testSigner(t)
	dir := newCase(t, s, 1, true)
	r, err := Verify(context.Background(), dir, VerifyOptions{})
	if err != nil || !r.OK() || len(r.Warnings) != 1 || r.Warnings[0].Code != WarnUnpinnedKey {
		t.Fatalf("unpinned: err %v, report %+v", err, r)
	}
	r, err = Verify(context.Background(), dir, VerifyOptions{KeyID: s.KeyID()})
	if err != nil || !r.OK() || len(r.Warnings) != 0 {
		t.Fatalf("pinned: err %v, report %+v", err, r)
	}
	r, err = Verify(context.Background(), dir, VerifyOptions{KeyID: testSigner(t).KeyID()})
	if err != nil || r.OK() || !hasCode(r, CodeKeyMismatch) {
		t.Fatalf("wrong pin: err %v, report %+v", err, r)
	}
}

// TestChangedPayloadByteIsNamed: a payload byte changed into one JSON does not allow is reported in an
// auditor's words (the payload is not valid JSON: its bytes were changed), not as a parser's message.
func TestChangedPayloadByteIsNamed(t *testing.T) {
	s := testSigner(t)
	dir := newCase(t, s, 3, true)
	path := filepath.Join(dir, RecordPath(2))
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var b struct {
		DSSEEnvelope struct {
			Payload []byte `json:"payload"`
		} `json:"dsseEnvelope"`
	}
	if err := json.Unmarshal(data, &b); err != nil {
		t.Fatal(err)
	}
	orig := base64.StdEncoding.EncodeToString(b.DSSEEnvelope.Payload)
	changed := bytes.Clone(b.DSSEEnvelope.Payload)
	changed[12] = 0x04 // inside the statement's "_type" string
	data = bytes.Replace(data, []byte(orig), []byte(base64.StdEncoding.EncodeToString(changed)), 1)
	writeFile(t, path, data)
	r := verifyCase(t, dir, testVerifier(t, s))
	var found bool
	for _, p := range r.Problems {
		if p.Code == CodeRecordMalformed && p.Seq == 2 {
			found = true
			if !strings.Contains(p.Message, "payload is not valid JSON") || !strings.Contains(p.Message, "bytes were changed") || strings.Contains(p.Message, "jsontext") {
				t.Errorf("record 2's problem says %q", p.Message)
			}
		}
	}
	if !found {
		t.Fatalf("no malformed-record problem for record 2: %v", r.Problems)
	}
}
