package custody

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"

	"github.com/acquire-forensics/acquire/internal/testtsa"
)

func parseTrust(t *testing.T, pemBytes []byte) TSATrust {
	t.Helper()
	trust, err := ParseTSATrust(pemBytes)
	if err != nil {
		t.Fatal(err)
	}
	return trust
}

func TestTimestampedCase(t *testing.T) {
	tsa := testtsa.Start(t)
	trust := parseTrust(t, tsa.RootPEM)
	s := testSigner(t)
	v := testVerifier(t, s)
	ctx := context.Background()
	opts := testOptions(s)
	opts.Now = nil // time-stamps are compared with the records' own time
	opts.TSA = NewTimestampAuthority(tsa.URL, trust, nil)
	dir := filepath.Join(t.TempDir(), "case")
	l, err := Create(ctx, dir, "IR-TS", opts)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := l.Append(ctx, Entry{Action: "note"}); err != nil {
		t.Fatal(err)
	}
	if _, err := l.Seal(ctx, ""); err != nil {
		t.Fatal(err)
	}
	l.Close()
	// 3 records, a checkpoint bundle and a manifest bundle.
	if got := tsa.Calls(); got != 5 {
		t.Errorf("TSA called %d times, want 5", got)
	}

	r, err := Verify(ctx, dir, VerifyOptions{Verifier: v, TSATrust: &trust})
	if err != nil {
		t.Fatal(err)
	}
	if !r.OK() || r.Timestamps != 3 || len(r.Warnings) != 0 {
		t.Fatalf("time-stamped case: %d time-stamps, problems %v, warnings %v", r.Timestamps, r.Problems, r.Warnings)
	}
	// Without roots given, the chain kept in the case is used, and the report says so.
	r = verifyCase(t, dir, v)
	if !r.OK() || len(r.Warnings) != 1 || r.Warnings[0].Code != WarnUnpinnedTSA {
		t.Fatalf("unpinned TSA: problems %v, warnings %v", r.Problems, r.Warnings)
	}
	// Another authority's root does not vouch for these time-stamps.
	otherTrust := parseTrust(t, testtsa.Start(t).RootPEM)
	r, err = Verify(ctx, dir, VerifyOptions{Verifier: v, TSATrust: &otherTrust})
	if err != nil {
		t.Fatal(err)
	}
	if r.OK() || !hasCode(r, CodeTimestampInvalid) {
		t.Fatalf("time-stamps accepted under another root: %v", r.Problems)
	}
}

func TestTimestampOverOtherDataIsRefused(t *testing.T) {
	tsa := testtsa.Start(t)
	trust := parseTrust(t, tsa.RootPEM)
	a := NewTimestampAuthority(tsa.URL, trust, nil)
	tsr, err := a.Timestamp(context.Background(), []byte("signature A"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := verifyTimestamp(tsr, []byte("signature A"), trust, nil); err != nil {
		t.Fatalf("genuine time-stamp: %v", err)
	}
	if _, err := verifyTimestamp(tsr, []byte("signature B"), trust, nil); err == nil {
		t.Fatal("a time-stamp over other data was accepted")
	}
}

func TestBrokenTSAWritesNothing(t *testing.T) {
	tsa := testtsa.Start(t)
	trust := parseTrust(t, tsa.RootPEM)
	garbage := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write([]byte("0\x82not a time-stamp"))
	}))
	defer garbage.Close()
	s := testSigner(t)
	ctx := context.Background()
	dir := newCase(t, s, 1, false)
	opts := testOptions(s)
	opts.TSA = NewTimestampAuthority(garbage.URL, trust, nil)
	l, err := Open(ctx, dir, opts)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	if _, err := l.Append(ctx, Entry{Action: "note"}); err == nil {
		t.Fatal("append with a broken TSA succeeded")
	}
	if _, err := os.Stat(filepath.Join(dir, RecordPath(3))); !os.IsNotExist(err) {
		t.Fatalf("a record was written despite the failed time-stamp: %v", err)
	}
	if r := verifyCase(t, dir, testVerifier(t, s)); !r.OK() {
		t.Fatalf("case after failed append: %v", r.Problems)
	}
}
