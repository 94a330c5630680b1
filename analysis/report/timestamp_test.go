package report

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/acquire-forensics/acquire/custody"
	"github.com/acquire-forensics/acquire/internal/testtsa"
)

// TestTimestampedCase: the time-stamp check counts the time-stamped records, and says whether the
// authority's roots were given or taken from the case.
func TestTimestampedCase(t *testing.T) {
	tsa := testtsa.Start(t) // needs openssl
	trust, err := custody.ParseTSATrust(tsa.RootPEM)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	s := testSigner(t)
	dir := filepath.Join(t.TempDir(), "case")
	l, err := custody.Create(ctx, dir, "IR-TS", custody.Options{Signer: s, Operator: "analyst", TSA: custody.NewTimestampAuthority(tsa.URL, trust, nil)})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := l.Append(ctx, custody.Entry{Action: "note", Note: "time-stamped"}); err != nil {
		t.Fatal(err)
	}
	if _, err := l.Seal(ctx, "sealed"); err != nil {
		t.Fatal(err)
	}
	l.Close()
	v, err := custody.NewVerifier(s.PublicKey())
	if err != nil {
		t.Fatal(err)
	}

	r, err := Build(ctx, dir, Options{Verify: custody.VerifyOptions{Verifier: v, TSATrust: &trust}})
	if err != nil {
		t.Fatal(err)
	}
	ts := check(t, r, "Time-stamps")
	if !r.Verification.OK || !r.Verification.TSAPinned || ts.Outcome != OutcomePassed || !strings.Contains(ts.Detail, "3 of 3") || !strings.Contains(ts.Detail, "roots given") {
		t.Errorf("with the roots: %+v, check %+v", r.Verification, ts)
	}

	r = build(t, dir, v)
	ts = check(t, r, "Time-stamps")
	if r.Verification.TSAPinned || !strings.Contains(ts.Detail, "roots were not given") {
		t.Errorf("without the roots: check %+v", ts)
	}
}

func check(t *testing.T, r *Report, name string) Check {
	t.Helper()
	for _, c := range r.Certification.Checks {
		if c.Name == name {
			return c
		}
	}
	t.Fatalf("no check %q", name)
	return Check{}
}
