package custody

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"
)

// seedRecords adds every record file of the published vectors to a fuzz corpus.
func seedRecords(f *testing.F) {
	paths, _ := filepath.Glob(filepath.Join(vectorsDir, "*", "case", RecordsDir, "*.sigstore.json"))
	for _, p := range paths {
		if data, err := os.ReadFile(p); err == nil {
			f.Add(data)
		}
	}
	f.Add([]byte(`{}`))
	f.Add([]byte(`{"mediaType":"application/vnd.dev.sigstore.bundle.v0.3+json"}`))
}

// FuzzParseRecord: the record parser never panics, and what it accepts is exactly its canonical form.
func FuzzParseRecord(f *testing.F) {
	seedRecords(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		b, _, err := parseRecord(data)
		if err != nil {
			return
		}
		again, err := b.encode()
		if err != nil || !bytes.Equal(again, data) {
			t.Fatalf("accepted a record that is not in canonical form")
		}
	})
}

// FuzzRecordLayout: the fast path for the ledger's own record form accepts nothing the full parse
// refuses, and reads what it accepts the same way.
func FuzzRecordLayout(f *testing.F) {
	seedRecords(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		fast, ok := parseRecordLayout(data)
		if !ok {
			return
		}
		full, err := parseBundleJSON(data)
		if err != nil {
			t.Fatalf("the fast path accepted what the full parse refuses: %v", err)
		}
		a, _ := fast.encode()
		b, _ := full.encode()
		if !bytes.Equal(a, b) || !bytes.Equal(a, data) {
			t.Fatal("the fast path read the record differently")
		}
	})
}

// FuzzVerify replaces record 2 of a sealed case with arbitrary bytes: verify never panics, and fails
// unless the bytes are the original record.
func FuzzVerify(f *testing.F) {
	seedRecords(f)
	s := testSigner(f)
	v := testVerifier(f, s)
	dir := newCase(f, s, 3, true)
	path := filepath.Join(dir, RecordPath(2))
	orig, err := os.ReadFile(path)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(orig)
	f.Fuzz(func(t *testing.T, data []byte) {
		writeFile(t, path, data)
		r, err := Verify(context.Background(), dir, VerifyOptions{Verifier: v, Workers: 1})
		if err != nil {
			t.Fatal(err)
		}
		if r.OK() != bytes.Equal(data, orig) {
			t.Fatalf("verify ok=%v for a record that is%s the original: %v", r.OK(), map[bool]string{true: "", false: " not"}[bytes.Equal(data, orig)], r.Problems)
		}
	})
}
