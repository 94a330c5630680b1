package custody

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
)

// BenchmarkVerify measures verification per record (make bench gives the figure against the raw
// ECDSA rate; this is for profiling).
func BenchmarkVerify(b *testing.B) {
	s := testSigner(b)
	v := testVerifier(b, s)
	ctx := context.Background()
	dir := filepath.Join(b.TempDir(), "case")
	l, err := Create(ctx, dir, "BENCH", testOptions(s))
	if err != nil {
		b.Fatal(err)
	}
	for i := range 999 {
		if _, err := l.Append(ctx, Entry{Action: "note", Note: fmt.Sprint(i)}); err != nil {
			b.Fatal(err)
		}
	}
	l.Close()
	b.ResetTimer()
	for b.Loop() {
		r, err := Verify(ctx, dir, VerifyOptions{Verifier: v})
		if err != nil || !r.OK() {
			b.Fatal(err, r.Problems)
		}
	}
	b.ReportMetric(float64(b.N*1000)/b.Elapsed().Seconds(), "records/s")
}

// BenchmarkAppend measures a durable append (sign, write, fsync, link, fsync the directory).
func BenchmarkAppend(b *testing.B) {
	s := testSigner(b)
	ctx := context.Background()
	l, err := Create(ctx, filepath.Join(b.TempDir(), "case"), "BENCH", testOptions(s))
	if err != nil {
		b.Fatal(err)
	}
	defer l.Close()
	for b.Loop() {
		if _, err := l.Append(ctx, Entry{Action: "note", Note: "x"}); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkRecordParts(b *testing.B) {
	s := testSigner(b)
	v := testVerifier(b, s)
	dir := newCase(b, s, 3, false)
	root, err := openCaseRoot(dir)
	if err != nil {
		b.Fatal(err)
	}
	defer root.Close()
	data, err := root.readFile(recordRel(3), maxBundleSize, nil)
	if err != nil {
		b.Fatal(err)
	}
	bd, _, _ := parseRecord(data)
	pae := dsseTestPAE(bd)
	b.Run("read", func(b *testing.B) {
		for b.Loop() {
			_, _ = root.readFile(recordRel(3), maxBundleSize, nil)
		}
	})
	b.Run("parseBundle", func(b *testing.B) {
		for b.Loop() {
			_, _ = parseBundle(data)
		}
	})
	b.Run("decodeStatement", func(b *testing.B) {
		for b.Loop() {
			_, _ = decodeStatement(bd.DSSEEnvelope.Payload)
		}
	})
	b.Run("verify", func(b *testing.B) {
		for b.Loop() {
			_ = v.verify(pae, bd.DSSEEnvelope.Signatures[0].Sig)
		}
	})
	b.Run("checkRecord", func(b *testing.B) {
		rr := newRecordReader()
		d, err := root.dir(RecordsDir)
		for b.Loop() {
			rr.check(root, d, err, &checkedRecord{seq: 3}, v, nil)
		}
	})
}
