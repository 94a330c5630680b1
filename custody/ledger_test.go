package custody

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

func TestCaseVerifies(t *testing.T) {
	s := testSigner(t)
	dir := newCase(t, s, 5, true)
	r := verifyCase(t, dir, testVerifier(t, s))
	if !r.OK() {
		t.Fatalf("fresh case does not verify: %v", r.Problems)
	}
	if len(r.Warnings) != 0 {
		t.Errorf("unexpected warnings: %v", r.Warnings)
	}
	// open + 5 + seal
	if r.Records != 7 || r.Sealed != 7 || r.Checkpoints != 1 || r.Manifests != 1 || r.Artifacts != 1 || r.CaseID != "IR-42" {
		t.Errorf("report = %+v", r)
	}
}

func TestRecordContents(t *testing.T) {
	s := testSigner(t)
	dir := newCase(t, s, 2, false)
	recs, err := ReadRecords(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 3 {
		t.Fatalf("got %d records", len(recs))
	}
	prev := GenesisPrev
	for i, rec := range recs {
		ev := rec.Statement.Predicate
		if ev.Seq != uint64(i+1) || ev.Prev != prev {
			t.Errorf("record %d: seq %d prev %s, want prev %s", i+1, ev.Seq, ev.Prev, prev)
		}
		prev = PayloadDigest(rec.Payload)
		if ev.CaseID != "IR-42" || ev.Actor.Operator != "analyst@example.org" || ev.Tool.Version != "test" ||
			ev.Authority == nil || ev.Authority.Ticket != "IR-42" || ev.Result.Status != StatusOK || ev.Signer.KeyID != s.KeyID() {
			t.Errorf("record %d predicate = %+v", i+1, ev)
		}
		if !strings.HasSuffix(ev.Time, "Z") || len(ev.Time) != len(TimeFormat) {
			t.Errorf("record %d time %q is not UTC with milliseconds", i+1, ev.Time)
		}
	}
	art := recs[1].Statement.Subject[0]
	if art.Kind() != KindArtifact || art.Name != "artifacts/i-0abc/config.json" {
		t.Errorf("artifact subject = %+v", art)
	}
	if recs[0].Statement.Subject[0].Kind() != KindCase {
		t.Errorf("opening record subject = %+v", recs[0].Statement.Subject)
	}
	// The payload is canonical JSON: encoding its statement again gives the same bytes.
	again, err := encodeStatement(recs[1].Statement)
	if err != nil || string(again) != string(recs[1].Payload) {
		t.Errorf("payload is not canonical:\n%s\n%s", recs[1].Payload, again)
	}
}

func TestConcurrentAppends(t *testing.T) {
	s := testSigner(t)
	ctx := context.Background()
	dir := filepath.Join(t.TempDir(), "case")
	l, err := Create(ctx, dir, "IR-7", testOptions(s))
	if err != nil {
		t.Fatal(err)
	}
	const goroutines, each = 8, 25
	var wg sync.WaitGroup
	errs := make(chan error, goroutines*each)
	for g := range goroutines {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				if _, err := l.Append(ctx, Entry{Action: "volume.progress", Step: fmt.Sprintf("vol-%d", g), Note: fmt.Sprint(i)}); err != nil {
					errs <- err
				}
			}
		}()
		if g == goroutines/2 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if _, err := l.Checkpoint(ctx); err != nil {
					errs <- err
				}
			}()
		}
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if _, err := l.Seal(ctx, ""); err != nil {
		t.Fatal(err)
	}
	l.Close()
	r := verifyCase(t, dir, testVerifier(t, s))
	if !r.OK() || r.Records != goroutines*each+2 {
		t.Fatalf("records %d, problems %v", r.Records, r.Problems)
	}
}

func TestSecondWriterIsRefused(t *testing.T) {
	s := testSigner(t)
	ctx := context.Background()
	dir := filepath.Join(t.TempDir(), "case")
	l, err := Create(ctx, dir, "IR-9", testOptions(s))
	if err != nil {
		t.Fatal(err)
	}
	_, err = Open(ctx, dir, testOptions(s))
	if !errors.Is(err, ErrLocked) {
		t.Fatalf("second open: %v, want ErrLocked", err)
	}
	if !strings.Contains(err.Error(), fmt.Sprintf("pid %d", os.Getpid())) || !strings.Contains(err.Error(), "analyst@example.org") {
		t.Errorf("error does not name the holder: %v", err)
	}
	l.Close()
	l2, err := Open(ctx, dir, testOptions(s))
	if err != nil {
		t.Fatalf("open after close: %v", err)
	}
	if l2.Len() != 1 || l2.CaseID() != "IR-9" {
		t.Errorf("reopened case: %d records, case %q", l2.Len(), l2.CaseID())
	}
	if _, err := l2.Append(ctx, Entry{Action: "note"}); err != nil {
		t.Fatal(err)
	}
	l2.Close()
	if r := verifyCase(t, dir, testVerifier(t, s)); !r.OK() || r.Records != 2 {
		t.Fatalf("after reopen: %d records, %v", r.Records, r.Problems)
	}
}

func TestOpenWithOtherKeyIsRefused(t *testing.T) {
	s := testSigner(t)
	dir := newCase(t, s, 1, false)
	_, err := Open(context.Background(), dir, testOptions(testSigner(t)))
	if err == nil || !strings.Contains(err.Error(), "is bound to key") {
		t.Fatalf("open with another key: %v", err)
	}
}

func TestCreateRefusesNonEmptyDirAndBadIDs(t *testing.T) {
	s := testSigner(t)
	ctx := context.Background()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "x"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Create(ctx, dir, "IR-1", testOptions(s)); err == nil || !strings.Contains(err.Error(), "already holds files") {
		t.Errorf("create in non-empty dir: %v", err)
	}
	for _, id := range []string{"", "-x", "a b", "a+b", "a/b", strings.Repeat("x", 129)} {
		if _, err := Create(ctx, filepath.Join(t.TempDir(), "c"), id, testOptions(s)); err == nil {
			t.Errorf("case ID %q accepted", id)
		}
	}
}

func TestArtifacts(t *testing.T) {
	s := testSigner(t)
	ctx := context.Background()
	l, err := Create(ctx, filepath.Join(t.TempDir(), "c"), "IR-1", testOptions(s))
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	a, err := l.AddArtifact("x.json", []byte("1"), "application/json")
	if err != nil {
		t.Fatal(err)
	}
	b, err := l.AddArtifact("x.json", []byte("1"), "application/json")
	if err != nil || a.Digest["sha256"] != b.Digest["sha256"] {
		t.Errorf("same artifact twice: %v", err)
	}
	if _, err := l.AddArtifact("x.json", []byte("2"), "application/json"); err == nil {
		t.Error("other content under an existing name was accepted")
	}
	for _, bad := range []string{"../x", "/etc/passwd", "a/../../b", ".hidden", "a//b", ""} {
		if _, err := l.AddArtifact(bad, nil, ""); err == nil {
			t.Errorf("artifact name %q accepted", bad)
		}
	}
}

func TestTemporaryFileFromCrashIsNotARecord(t *testing.T) {
	s := testSigner(t)
	dir := newCase(t, s, 2, true)
	// A crash between writing the temporary file and linking it leaves this behind.
	tmp := filepath.Join(dir, RecordsDir, ".tmp-0000000006.sigstore.json-123")
	if err := os.WriteFile(tmp, []byte(`{"half":`), 0o600); err != nil {
		t.Fatal(err)
	}
	r := verifyCase(t, dir, testVerifier(t, s))
	if !r.OK() || r.Records != 4 {
		t.Fatalf("case with a crash leftover: %d records, %v", r.Records, r.Problems)
	}
	found := false
	for _, w := range r.Warnings {
		found = found || w.Code == WarnTemporaryFile
	}
	if !found {
		t.Errorf("no warning for the temporary file: %v", r.Warnings)
	}
	// The case can be reopened and continued.
	l, err := Open(context.Background(), dir, testOptions(s))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := l.Append(context.Background(), Entry{Action: "note"}); err != nil {
		t.Fatal(err)
	}
	l.Close()
}
