package report

import (
	"context"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/acquire-forensics/acquire/custody"
	"github.com/acquire-forensics/acquire/custody/custodytest"
)

// vectors is where the published custody test vectors live, relative to this package.
const vectors = "../../testdata/custody/vectors"

// fixedNow dates reports in tests.
func fixedNow() time.Time { return time.Date(2026, 11, 27, 9, 0, 0, 0, time.UTC) }

func testGenerator() custody.Tool {
	return custody.Tool{Name: "acquire", Version: "test", Commit: "0000000"}
}

// vectorKey is the trusted key of the published vectors.
func vectorKey(t *testing.T) *custody.Verifier {
	t.Helper()
	v, err := custody.LoadVerifier(context.Background(), filepath.Join(vectors, "custody.pub"))
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func testSigner(t *testing.T) *custody.Signer {
	t.Helper()
	s, _ := custodytest.NewSigner(t)
	return s
}

// Hostile strings, as an attacker who controls instance tags, user data, volume names or error
// messages could make them appear in records.
const (
	hostileScript = `<script>alert(1)</script>`
	hostilePipe   = `a | b || c`
	hostileMarkup = "[click](https://evil.example/) ![img](https://evil.example/x.png) `code` *em* _u_ ~~s~~ &amp; <b>bold</b> </td></tr></table> <!-- x"
	hostileBidi   = "invoice\u202Etxt.exe"
	hostileLines  = "line one\nline two\r\n| injected | row |"
	hostileAll    = hostileScript + " " + hostilePipe + " " + hostileMarkup + " " + hostileBidi + " " + hostileLines
)

// acquisitionCase writes a sealed case shaped like an acquisition: identity, describe with artifacts, an
// exposure finding, a snapshot, a copy, a lock, a digest, an unfinished and a failed step, two exports
// (one matching, one not) and an abort. With hostile set, every free-text field carries hostile strings.
func acquisitionCase(t *testing.T, hostile bool) (dir string, v *custody.Verifier) {
	t.Helper()
	ctx := context.Background()
	h := func(s string) string {
		if hostile {
			return s + " " + hostileAll
		}
		return s
	}
	s := testSigner(t)
	var n atomic.Int64
	start := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	dir = filepath.Join(t.TempDir(), "case")
	l, err := custody.Create(ctx, dir, "IR-7", custody.Options{
		Signer:    s,
		Operator:  h("responder@example.org"),
		Tool:      custody.Tool{Name: "acquire", Version: h("1.2.3"), Commit: "abc123"},
		Authority: &custody.Authority{Ticket: h("IR-7"), Justification: h("web shell"), Approver: h("ciso@example.org")},
		Now:       func() time.Time { return start.Add(time.Duration(n.Add(1)) * time.Second) },
	})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	src := &custody.Provider{Cloud: "aws", Account: "111111111111", Region: "us-east-1"}
	fx := &custody.Provider{Cloud: "aws", Account: "222222222222", Region: "us-east-1"}
	with := func(p *custody.Provider, res ...custody.Resource) *custody.Provider {
		q := *p
		q.Resources = res
		q.RequestIDs = []string{h("req-1")}
		return &q
	}
	snapRes := func(id string) custody.Resource { return custody.Resource{Kind: "snapshot", ID: id} }
	instance := custody.Resource{Kind: "instance", ID: h("i-1")}
	cfg, err := l.AddArtifact("aws/i-1/instance.json", []byte(`{"Tags":[{"Key":"Name","Value":"`+hostileScript+`"}]}`), "application/json")
	if err != nil {
		t.Fatal(err)
	}
	ud, err := l.AddArtifact("aws/i-1/user-data", []byte("#!/bin/sh\n"), "") // the ledger refuses odd artifact names
	if err != nil {
		t.Fatal(err)
	}
	evidence := custody.Subject{
		Name:        "aws:snapshot:snap-copy",
		Digest:      map[string]string{"sha256": "1111111111111111111111111111111111111111111111111111111111111111"},
		Annotations: map[string]string{"kind": custody.KindEvidence, "sourceVolume": "vol-1", "sizeBytes": "1073741824"},
	}
	if hostile { // nothing checks a subject's name or digest when it is written
		evidence.Name, evidence.Digest["sha256"] = "aws:snapshot:"+h("snap-copy"), h("1111")
		evidence.Annotations["sourceVolume"] = h("vol-1")
	}
	exported := evidence
	exported.Digest = map[string]string{"sha256": evidence.Digest["sha256"]}
	entries := []custody.Entry{
		{Action: "identity", Phase: custody.PhaseResult, Step: "case/identity.source", Principal: "arn:aws:iam::111111111111:user/responder", Provider: with(src),
			Details: map[string]any{"principal": map[string]any{"id": "arn:aws:iam::111111111111:user/responder", "account": "111111111111", "side": "source"}}},
		{Action: "describe", Phase: custody.PhaseResult, Step: "case/describe", Principal: "arn:aws:iam::111111111111:user/responder", Provider: with(src, instance),
			Subjects: []custody.Subject{cfg, ud}, Note: h("1 workloads, 1 volumes"),
			Details: map[string]any{"volumes": []any{map[string]any{"id": "vol-1", "sizeBytes": 1073741824}}}},
		{Action: "exposure.check", Phase: custody.PhaseResult, Step: "case/exposure", Provider: with(src), Note: h("FINDING: 1 snapshot is public"),
			Details: map[string]any{"findings": []any{map[string]any{"kind": "public-snapshot", "snapshot": "snap-old", "volumeId": "vol-1", "accounts": []any{"all"}, "detail": h("public since 2026-01-01")}}}},
		{Action: "snapshot.create", Phase: custody.PhaseIntent, Step: "i-1/snapshot", Provider: with(src, instance)},
		{Action: "snapshot.create", Phase: custody.PhaseResult, Step: "i-1/snapshot", Provider: with(src, instance, snapRes("snap-src")), Note: h("crash-consistent")},
		{Action: "copy", Phase: custody.PhaseResult, Step: "vol-1/t1/copy", Principal: "arn:aws:iam::222222222222:user/analyst", Provider: with(fx, snapRes("snap-src"), snapRes("snap-copy")),
			Details: map[string]any{"copy": map[string]any{"id": "snap-copy", "keyId": "alias/evidence"}}},
		{Action: "lock", Phase: custody.PhaseResult, Step: "vol-1/lock", Provider: with(fx, snapRes("snap-copy")), Details: map[string]any{"mode": "compliance", "days": 365, "coolOffHours": 24}},
		{Action: "evidence", Phase: custody.PhaseResult, Step: "vol-1/evidence", Provider: with(fx, snapRes("snap-copy")), Subjects: []custody.Subject{evidence},
			Details: map[string]any{"evidence": map[string]any{"name": evidence.Name, "cloud": "aws", "account": "222222222222", "location": "us-east-1",
				"snapshot": strings.TrimPrefix(evidence.Name, "aws:snapshot:"), "sourceVolume": evidence.Annotations["sourceVolume"], "consistency": "crash-consistent",
				"sizeBytes": 1073741824, "digestStatus": "computed",
				"digest": map[string]any{"imageSha256": evidence.Digest["sha256"], "blockListSha256": "2222222222222222222222222222222222222222222222222222222222222222",
					"blockSize": 524288, "listedBlocks": 3, "sizeBytes": 1073741824, "method": h("EBS direct APIs")}}}},
		{Action: "unshare", Phase: custody.PhaseIntent, Step: "vol-1/unshare", Provider: with(src, snapRes("snap-src"))},
		{Action: "unstage", Phase: custody.PhaseResult, Step: "vol-1/unstage", Provider: with(src, snapRes("snap-src")),
			Result: custody.Result{Status: custody.StatusFailed, Code: "permission-denied", Message: h("AccessDenied")}},
		// Exports as acquire export records them, then one in another shape (no match flag) that differs.
		{Action: "export", Subjects: []custody.Subject{exported}, Provider: with(fx, snapRes("snap-copy")), Note: h("exported"),
			Details: map[string]any{"path": h("/evidence/vol-1.raw"), "host": "lab-1", "imageSha256": evidence.Digest["sha256"],
				"recordedImageSha256": evidence.Digest["sha256"], "match": true, "digestRecord": "9"}},
		{Action: "export", Subjects: []custody.Subject{evidence}, Note: "exported again", Result: custody.Result{Status: custody.StatusFailed, Code: "integrity"},
			Details: map[string]any{"destination": "/evidence/vol-1-again.raw", "imageSha256": "3333333333333333333333333333333333333333333333333333333333333333",
				"verificationOverridden": true, "verificationProblems": 2}},
		{Action: "acquisition.aborted", Result: custody.Result{Status: custody.StatusAborted, Code: "cancelled", Message: h("context canceled")},
			Details: map[string]any{"left": []any{map[string]any{"side": "forensic", "region": "us-east-1", "kind": "snapshot", "id": "snap-copy", "note": h("the evidence")}}}},
	}
	for _, e := range entries {
		if _, err := l.Append(ctx, e); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := l.Seal(ctx, h("sealed")); err != nil {
		t.Fatal(err)
	}
	v, err = custody.NewVerifier(s.PublicKey())
	if err != nil {
		t.Fatal(err)
	}
	return dir, v
}

// build reports on dir with the trusted key v and the test clock and generator.
func build(t *testing.T, dir string, v *custody.Verifier) *Report {
	t.Helper()
	opts := Options{Generator: testGenerator(), Now: fixedNow}
	if v != nil {
		opts.Verify.Verifier, opts.KeyGiven = v, "custody.pub"
	}
	r, err := Build(context.Background(), dir, opts)
	if err != nil {
		t.Fatal(err)
	}
	return r
}
