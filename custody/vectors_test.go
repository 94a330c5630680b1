package custody

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

var update = flag.Bool("update", false, "rewrite testdata/custody/vectors")

const vectorsDir = "../testdata/custody/vectors"

// vector is one published test case: a case directory and what verify must say of it.
type vector struct {
	name, description string
	require           string // the problem code the tampering must produce (empty: the case is valid)
	tamper            func(t *testing.T, dir string, other *Signer)
}

// vectorExpectation is expected.json in each vector directory.
type vectorExpectation struct {
	Description string   `json:"description"`
	OK          bool     `json:"ok"`
	Problems    []string `json:"problems"`
}

func recordFile(dir string, seq uint64) string { return filepath.Join(dir, RecordPath(seq)) }

func editRecordPayload(t *testing.T, dir string, seq uint64, edit func([]byte) []byte) {
	data, _ := os.ReadFile(recordFile(dir, seq))
	b, _, err := parseRecord(data)
	if err != nil {
		t.Fatal(err)
	}
	b.DSSEEnvelope.Payload = edit(b.DSSEEnvelope.Payload)
	out, _ := b.encode()
	writeFile(t, recordFile(dir, seq), out)
}

func editFile(t *testing.T, path string, edit func([]byte) []byte) {
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, path, edit(data))
}

var vectors = []vector{
	{"valid", "a sealed case of 6 records with one artifact: everything holds", "", nil},
	{"payload-changed", "record 3's payload says 'event x' where 'event b' was signed", CodeSignatureInvalid, func(t *testing.T, dir string, _ *Signer) {
		editRecordPayload(t, dir, 3, func(p []byte) []byte { return bytes.Replace(p, []byte("event b"), []byte("event x"), 1) })
	}},
	{"record-removed", "record 3 was deleted", CodeSeqGap, func(t *testing.T, dir string, _ *Signer) { os.Remove(recordFile(dir, 3)) }},
	{"record-duplicated", "record 3 was copied in as record 7", CodeSeqMismatch, func(t *testing.T, dir string, _ *Signer) {
		data, _ := os.ReadFile(recordFile(dir, 3))
		writeFile(t, recordFile(dir, 7), data)
	}},
	{"records-reordered", "records 3 and 4 swapped places", CodeSeqMismatch, func(t *testing.T, dir string, _ *Signer) {
		a, _ := os.ReadFile(recordFile(dir, 3))
		b, _ := os.ReadFile(recordFile(dir, 4))
		writeFile(t, recordFile(dir, 3), b)
		writeFile(t, recordFile(dir, 4), a)
	}},
	{"tail-cut", "the last record was deleted although a checkpoint covers it", CodeCheckpointTruncated, func(t *testing.T, dir string, _ *Signer) {
		os.Remove(recordFile(dir, 6))
	}},
	{"other-key", "record 2 was re-signed, unchanged, by a key that is not the case's", CodeOtherKey, func(t *testing.T, dir string, other *Signer) {
		resign(t, dir, 2, other, PayloadType)
	}},
	{"wrong-payload-type", "record 2 was re-signed by the case's key under payload type application/json", CodePayloadType, func(t *testing.T, dir string, caseKey *Signer) {
		resign(t, dir, 2, caseKey, "application/json")
	}},
	{"checkpoint-changed", "one character of the checkpoint's root hash was changed", CodeCheckpointSignature, func(t *testing.T, dir string, _ *Signer) {
		editFile(t, filepath.Join(dir, CheckpointPath(6)), func(b []byte) []byte {
			lines := bytes.SplitN(b, []byte("\n"), 4)
			lines[2][0] ^= 0x01
			return bytes.Join(lines, []byte("\n"))
		})
	}},
	{"manifest-changed", "the first recorded size in the manifest was changed", CodeManifestSignature, func(t *testing.T, dir string, _ *Signer) {
		editFile(t, filepath.Join(dir, ManifestPath(6)), func(b []byte) []byte {
			i := bytes.Index(b, []byte(`"size":`))
			b[i+7] ^= 0x01
			return b
		})
	}},
	{"artifact-changed", "the captured instance configuration was edited", CodeArtifactMismatch, func(t *testing.T, dir string, _ *Signer) {
		editFile(t, filepath.Join(dir, ArtifactsDir, "i-0abc/config.json"), func(b []byte) []byte { return bytes.Replace(b, []byte("0abc"), []byte("0abd"), 1) })
	}},
	{"non-canonical", "record 2 was re-indented: same JSON value, other bytes", CodeRecordMalformed, func(t *testing.T, dir string, _ *Signer) {
		editFile(t, recordFile(dir, 2), func(b []byte) []byte { return bytes.ReplaceAll(b, []byte(`":`), []byte(`": `)) })
	}},
	{"empty-record", "record 4 is an empty file", CodeRecordMalformed, func(t *testing.T, dir string, _ *Signer) {
		writeFile(t, recordFile(dir, 4), nil)
	}},
	{"truncated-record", "record 4 lost its second half", CodeRecordMalformed, func(t *testing.T, dir string, _ *Signer) {
		editFile(t, recordFile(dir, 4), func(b []byte) []byte { return b[:len(b)/2] })
	}},
	{"manifest-removed", "the sealed case's manifest and its signature bundle were deleted", CodeSealIncomplete, func(t *testing.T, dir string, _ *Signer) {
		os.Remove(filepath.Join(dir, ManifestPath(6)))
		os.Remove(filepath.Join(dir, ManifestPath(6)+".sigstore.json"))
	}},
	{"manifest-bundle-removed", "the signature bundle of the sealed case's manifest was deleted", CodeSealIncomplete, func(t *testing.T, dir string, _ *Signer) {
		os.Remove(filepath.Join(dir, ManifestPath(6)+".sigstore.json"))
	}},
	{"stray-file", "a file no record, checkpoint or manifest accounts for was added to records/", CodeUnexpectedFile, func(t *testing.T, dir string, _ *Signer) {
		writeFile(t, filepath.Join(dir, RecordsDir, "README.txt"), []byte("nothing to see\n"))
	}},
}

// TestVectors checks verify against the published vectors; with -update it writes them anew (new keys,
// new signatures) and checks that each tampering produces the problem it is meant to.
func TestVectors(t *testing.T) {
	if *update {
		writeVectors(t)
	}
	v, err := LoadVerifier(context.Background(), filepath.Join(vectorsDir, PublicKeyFile))
	if err != nil {
		t.Fatalf("loading the vectors' key (run `go test ./custody -run TestVectors -update`): %v", err)
	}
	for _, vec := range vectors {
		t.Run(vec.name, func(t *testing.T) {
			dir := filepath.Join(vectorsDir, vec.name)
			var want vectorExpectation
			data, err := os.ReadFile(filepath.Join(dir, "expected.json"))
			if err != nil {
				t.Fatal(err)
			}
			if err := json.Unmarshal(data, &want); err != nil {
				t.Fatal(err)
			}
			r := verifyCase(t, filepath.Join(dir, "case"), v)
			if r.OK() != want.OK || !slices.Equal(problemCodes(r), want.Problems) {
				t.Errorf("verify says ok=%v %v, vector expects ok=%v %v\n%v", r.OK(), problemCodes(r), want.OK, want.Problems, r.Problems)
			}
		})
	}
}

func problemCodes(r *Report) []string {
	codes := []string{}
	for _, p := range r.Problems {
		if !slices.Contains(codes, p.Code) {
			codes = append(codes, p.Code)
		}
	}
	slices.Sort(codes)
	return codes
}

func writeVectors(t *testing.T) {
	s, other := testSigner(t), testSigner(t)
	v := testVerifier(t, s)
	base := newCase(t, s, 4, true) // open, capture, 3 notes, seal: 6 records
	if err := os.RemoveAll(vectorsDir); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(vectorsDir, 0o755); err != nil {
		t.Fatal(err)
	}
	pub, _ := os.ReadFile(filepath.Join(base, PublicKeyFile))
	if err := os.WriteFile(filepath.Join(vectorsDir, PublicKeyFile), pub, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, vec := range vectors {
		dir := filepath.Join(vectorsDir, vec.name, "case")
		if err := os.CopyFS(dir, os.DirFS(base)); err != nil {
			t.Fatal(err)
		}
		os.Remove(filepath.Join(dir, ".lock"))
		os.RemoveAll(filepath.Join(dir, CacheDir)) // the writer's cache is not part of a published case
		if vec.tamper != nil {
			signer := other
			if vec.name == "wrong-payload-type" {
				signer = s
			}
			vec.tamper(t, dir, signer)
		}
		r := verifyCase(t, dir, v)
		if vec.require == "" && !r.OK() || vec.require != "" && !hasCode(r, vec.require) {
			t.Fatalf("vector %s: want %q, verify says %v", vec.name, vec.require, r.Problems)
		}
		exp, _ := json.MarshalIndent(vectorExpectation{Description: vec.description, OK: r.OK(), Problems: problemCodes(r)}, "", "  ")
		if err := os.WriteFile(filepath.Join(vectorsDir, vec.name, "expected.json"), append(exp, '\n'), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	// Committed files are plain and writable; the read-only modes of a live case are not kept.
	_ = filepath.WalkDir(vectorsDir, func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			err = os.Chmod(p, 0o644)
		}
		return err
	})
}
