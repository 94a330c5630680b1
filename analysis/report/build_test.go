package report

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/acquire-forensics/acquire/custody"
)

func TestValidVector(t *testing.T) {
	r := build(t, filepath.Join(vectors, "valid", "case"), vectorKey(t))
	v := r.Verification
	if !v.OK || v.Verdict != VerdictVerified || !v.KeyPinned || !v.Complete {
		t.Fatalf("verification = %+v, want VERIFIED with a pinned key", v)
	}
	if len(r.Timeline) != 6 || r.Case.Records != 6 || r.Case.CaseID != "IR-42" || !r.Case.Sealed {
		t.Fatalf("case = %+v, timeline %d rows; want IR-42, 6 records, sealed", r.Case, len(r.Timeline))
	}
	for i, rec := range r.Timeline {
		if rec.Seq != uint64(i+1) || rec.Event == nil || rec.Unreadable != "" || len(rec.PayloadSHA256) != 64 {
			t.Errorf("timeline[%d] = %+v", i, rec)
		}
	}
	if len(r.Artifacts) != 1 || r.Artifacts[0].Check != CheckMatch || r.Artifacts[0].Record != 2 {
		t.Errorf("artifacts = %+v, want one, re-hashed and matching, from record 2", r.Artifacts)
	}
	for _, c := range r.Certification.Checks {
		if c.Outcome == OutcomeFailed || c.Outcome == OutcomeNotRun || c.Outcome == OutcomeUnpinned {
			t.Errorf("check %s: %s", c.Name, c.Outcome)
		}
	}
}

// TestTamperedVectors reports on every published tampered case: each must come out FAILED, show
// every problem the vector expects, and still list every record file in the timeline.
func TestTamperedVectors(t *testing.T) {
	entries, err := os.ReadDir(vectors)
	if err != nil {
		t.Fatal(err)
	}
	key := vectorKey(t)
	tested := 0
	for _, e := range entries {
		if !e.IsDir() || e.Name() == "valid" {
			continue
		}
		tested++
		t.Run(e.Name(), func(t *testing.T) {
			data, err := os.ReadFile(filepath.Join(vectors, e.Name(), "expected.json"))
			if err != nil {
				t.Fatal(err)
			}
			var want struct {
				OK       bool     `json:"ok"`
				Problems []string `json:"problems"`
			}
			if err := json.Unmarshal(data, &want); err != nil {
				t.Fatal(err)
			}
			dir := filepath.Join(vectors, e.Name(), "case")
			r := build(t, dir, key)
			if r.Verification.OK || r.Verification.Verdict != VerdictFailed {
				t.Fatalf("verdict %s, want %s", r.Verification.Verdict, VerdictFailed)
			}
			files, _ := filepath.Glob(filepath.Join(dir, "records", "*.sigstore.json"))
			if len(r.Timeline) != len(files) {
				t.Errorf("timeline has %d rows for %d record files", len(r.Timeline), len(files))
			}
			var md, page bytes.Buffer
			if err := Markdown(&md, r); err != nil {
				t.Fatal(err)
			}
			if err := HTML(&page, r); err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(md.String(), "**Verification: FAILED (") || !strings.Contains(page.String(), `id="verdict">Verification: FAILED (`) {
				t.Error("the verdict FAILED is not shown at the top")
			}
			for _, code := range want.Problems {
				if !slices.ContainsFunc(r.Verification.Result.Problems, func(p custody.Problem) bool { return p.Code == code }) {
					t.Errorf("problem %s missing from the report", code)
				}
				// In Markdown, codes show as "\[code\]"; the HTML shows "[code]".
				if !strings.Contains(md.String(), `\[`+mdText(code)+`\]`) || !strings.Contains(page.String(), "["+code+"]") {
					t.Errorf("problem %s is not rendered", code)
				}
			}
			for _, c := range r.Certification.Checks {
				if c.Outcome == OutcomeFailed {
					return
				}
			}
			t.Error("no certification check FAILED")
		})
	}
	if tested < 10 {
		t.Fatalf("only %d tampered vectors found", tested)
	}
}

func TestUnreadableRecordStaysInTimeline(t *testing.T) {
	r := build(t, filepath.Join(vectors, "truncated-record", "case"), vectorKey(t))
	rec := r.Timeline[3]
	if rec.Seq != 4 || rec.Event != nil || rec.Unreadable == "" || r.Case.Unreadable != 1 {
		t.Fatalf("record 4 = %+v, want it unreadable with a reason", rec)
	}
	if !slices.ContainsFunc(rec.Problems, func(p custody.Problem) bool { return p.Code == custody.CodeRecordMalformed }) {
		t.Errorf("record 4's row does not carry its problem: %+v", rec.Problems)
	}
}

func TestUnpinnedKeyIsProminent(t *testing.T) {
	r := build(t, filepath.Join(vectors, "valid", "case"), nil)
	if r.Verification.KeyPinned || !r.Verification.OK {
		t.Fatalf("verification = %+v, want OK but not pinned", r.Verification)
	}
	var md, page bytes.Buffer
	if err := Markdown(&md, r); err != nil {
		t.Fatal(err)
	}
	if err := HTML(&page, r); err != nil {
		t.Fatal(err)
	}
	head := md.String()[:strings.Index(md.String(), "## 1.")]
	if !strings.Contains(head, "the signing key was not pinned") {
		t.Errorf("the Markdown does not say before its first section that the key was not pinned:\n%s", head)
	}
	if !strings.Contains(page.String(), `id="unpinned-key"`) {
		t.Error("the HTML has no unpinned-key banner")
	}
	if c := r.Certification.Checks[0]; c.Name != "Trusted key" || c.Outcome != OutcomeUnpinned {
		t.Errorf("first check = %+v, want the trusted key NOT PINNED", c)
	}

	pinned, err := Build(context.Background(), filepath.Join(vectors, "valid", "case"), Options{Verify: custody.VerifyOptions{KeyID: vectorKey(t).KeyID()}})
	if err != nil {
		t.Fatal(err)
	}
	if !pinned.Verification.KeyPinned || !pinned.Verification.OK {
		t.Errorf("pinned by fingerprint: %+v", pinned.Verification)
	}
}

func TestNotACase(t *testing.T) {
	_, err := Build(context.Background(), t.TempDir(), Options{})
	if !errors.Is(err, custody.ErrNotACase) {
		t.Fatalf("err = %v, want ErrNotACase", err)
	}
}

func TestAcquisitionCase(t *testing.T) {
	dir, key := acquisitionCase(t, false)
	r := build(t, dir, key)
	if !r.Verification.OK {
		t.Fatalf("the fixture does not verify: %v", r.Verification.Result.Problems)
	}
	if len(r.Evidence) != 1 {
		t.Fatalf("evidence = %+v, want one item", r.Evidence)
	}
	want := Evidence{
		Name: "aws:snapshot:snap-copy", Cloud: "aws", Snapshot: "snap-copy", SourceVolume: "vol-1",
		Account: "222222222222", Region: "us-east-1", EncryptionKey: "alias/evidence", SizeBytes: 1 << 30,
		ImageSHA256:     "1111111111111111111111111111111111111111111111111111111111111111",
		BlockListSHA256: "2222222222222222222222222222222222222222222222222222222222222222",
		BlockSize:       524288, ListedBlocks: 3, Method: "EBS direct APIs",
		DigestRecord: 9, DigestTime: "2026-11-26T12:00:09.000Z", DigestStatus: "computed", Consistency: "crash-consistent",
		Lock:    &Lock{Mode: "compliance", Days: 365, CoolOffHours: 24, Record: 8, Status: "ok"},
		Records: []uint64{6, 7, 8, 9, 10, 11, 12, 13},
	}
	got, _ := json.Marshal(r.Evidence[0])
	wantJSON, _ := json.Marshal(want)
	if string(got) != string(wantJSON) {
		t.Errorf("evidence\n got %s\nwant %s", got, wantJSON)
	}
	if len(r.Comparisons) != 2 || r.Comparisons[0].Match != CheckMatch || r.Comparisons[1].Match != CheckMismatch ||
		r.Comparisons[0].Destination != "/evidence/vol-1.raw" || r.Comparisons[0].Host != "lab-1" || r.Comparisons[1].Recorded != want.ImageSHA256 ||
		!r.Comparisons[1].Forced || r.Comparisons[1].OverriddenProblems != 2 || r.Comparisons[1].Status != custody.StatusFailed {
		t.Errorf("comparisons = %+v, want a match then a forced mismatch", r.Comparisons)
	}
	var kinds []string
	for _, f := range r.Findings.Items {
		kinds = append(kinds, f.Kind+"@"+f.Action)
	}
	wantKinds := []string{"exposure@exposure.check", "unfinished@unshare", "failed@unstage", "failed@export", "aborted@acquisition.aborted"}
	if !slices.Equal(kinds, wantKinds) {
		t.Errorf("findings = %v, want %v", kinds, wantKinds)
	}
	if f := r.Findings.Items[0]; len(f.Exposures) != 1 || f.Exposures[0].Snapshot != "snap-old" || !slices.Equal(f.Exposures[0].Accounts, []string{"all"}) {
		t.Errorf("exposure finding = %+v", f)
	}
	if f := r.Findings.Items[4]; len(f.Left) != 1 || f.Left[0].ID != "snap-copy" || f.Code != "cancelled" {
		t.Errorf("aborted finding = %+v", f)
	}
	if len(r.Case.Sources) != 1 || r.Case.Sources[0].Account != "111111111111" || !slices.Contains(r.Case.Sources[0].Resources, "volume vol-1") {
		t.Errorf("sources = %+v", r.Case.Sources)
	}
	if len(r.Case.Destinations) != 1 || r.Case.Destinations[0].Account != "222222222222" {
		t.Errorf("destinations = %+v", r.Case.Destinations)
	}
	if len(r.Certification.Process) != 1 || len(r.Certification.Process[0].Steps) == 0 {
		t.Errorf("process = %+v", r.Certification.Process)
	}
	last := r.Certification.Checks[len(r.Certification.Checks)-1]
	if last.Outcome != OutcomeFailed || len(last.Problems) != 1 {
		t.Errorf("evidence comparison check = %+v, want FAILED for the mismatching export", last)
	}

	var md bytes.Buffer
	if err := Markdown(&md, r); err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{"`" + want.ImageSHA256 + "`", "`" + want.BlockListSHA256 + "`", "compliance for 365 days", "**mismatch**", "**match**", "alias/evidence", "/evidence/vol-1.raw on lab-1", "forced past 2 verification problems"} {
		if !strings.Contains(md.String(), s) {
			t.Errorf("the Markdown lacks %q", s)
		}
	}
}

// TestJSONKeepsExactStrings: the JSON form is for machines and keeps every string as recorded, where
// the renderers show hidden characters as escapes.
func TestJSONKeepsExactStrings(t *testing.T) {
	dir, key := acquisitionCase(t, true)
	r := build(t, dir, key)
	data, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	var back Report
	if err := json.Unmarshal(data, &back); err != nil {
		t.Fatal(err)
	}
	if note := back.Timeline[2].Event.Note; !strings.Contains(note, hostileBidi) || !strings.Contains(note, hostileLines) {
		t.Errorf("the JSON changed a note: %q", note)
	}
	if back.Format != FormatVersion || back.GeneratedAt != "2026-11-27T09:00:00.000Z" {
		t.Errorf("format %q generated %q", back.Format, back.GeneratedAt)
	}
}

// TestNoKeyAtAll: with no key given and none in the case, nothing can be checked; the report still
// lists the records, and says that nothing was checked.
func TestNoKeyAtAll(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "case")
	if err := os.CopyFS(dir, os.DirFS(filepath.Join(vectors, "valid", "case"))); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(filepath.Join(dir, custody.PublicKeyFile)); err != nil {
		t.Fatal(err)
	}
	r := build(t, dir, nil)
	if r.Verification.OK || r.Verification.Complete || len(r.Timeline) != 6 {
		t.Fatalf("verification %+v, %d records", r.Verification, len(r.Timeline))
	}
	if r.Artifacts[0].Check != CheckNotRun {
		t.Errorf("artifact check = %q, want %q", r.Artifacts[0].Check, CheckNotRun)
	}
	for _, c := range r.Certification.Checks[1:7] {
		if c.Outcome != OutcomeNotRun {
			t.Errorf("check %s: %s, want %s", c.Name, c.Outcome, OutcomeNotRun)
		}
	}
	page := renderHTML(t, r)
	checkWellFormed(t, page)
	checkDOM(t, parseHTML(t, page), r)
}

// TestSealedOnlyWithItsSeal: the report says a case is sealed only when its last seal's checkpoint
// and manifest hold, however the last record reads.
func TestSealedOnlyWithItsSeal(t *testing.T) {
	r := build(t, filepath.Join(vectors, "manifest-removed", "case"), vectorKey(t))
	if r.Case.Sealed || !r.Case.SealIncomplete || r.Verification.Verdict != VerdictFailed {
		t.Fatalf("sealed %v, incomplete %v, verdict %s: want not sealed, incomplete, FAILED", r.Case.Sealed, r.Case.SealIncomplete, r.Verification.Verdict)
	}
	var md bytes.Buffer
	if err := Markdown(&md, r); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(md.String(), "| Sealed | yes") || !strings.Contains(md.String(), "its checkpoint or manifest is missing") {
		t.Errorf("the Markdown report's Sealed row:\n%s", md.String())
	}
}

// TestUnpinnedIsNotVerified: a report on a case checked against its own key says SELF-CONSISTENT
// ONLY, never VERIFIED.
func TestUnpinnedIsNotVerified(t *testing.T) {
	r, err := Build(context.Background(), filepath.Join(vectors, "valid", "case"), Options{Generator: testGenerator(), Now: fixedNow})
	if err != nil {
		t.Fatal(err)
	}
	if r.Verification.Verdict != VerdictSelfConsistent || r.Verification.KeyPinned {
		t.Fatalf("verdict %s, pinned %v", r.Verification.Verdict, r.Verification.KeyPinned)
	}
	var md, page bytes.Buffer
	if err := Markdown(&md, r); err != nil {
		t.Fatal(err)
	}
	if err := HTML(&page, r); err != nil {
		t.Fatal(err)
	}
	for name, text := range map[string]string{"markdown": md.String(), "html": page.String()} {
		if strings.Contains(text, "Verification: VERIFIED") || !strings.Contains(text, "Verification: SELF-CONSISTENT ONLY") {
			t.Errorf("%s report's verdict banner is wrong", name)
		}
	}
}

// TestNothingReadThroughLinks: a record that is a link or a pipe is shown as unreadable, never read
// through (a pipe would hang the report).
func TestNothingReadThroughLinks(t *testing.T) {
	dir := t.TempDir()
	if err := os.CopyFS(dir, os.DirFS(filepath.Join(vectors, "valid", "case"))); err != nil {
		t.Fatal(err)
	}
	rec2 := filepath.Join(dir, custody.RecordsDir, "0000000002.sigstore.json")
	rec3 := filepath.Join(dir, custody.RecordsDir, "0000000003.sigstore.json")
	outside := filepath.Join(t.TempDir(), "copy.json")
	data, _ := os.ReadFile(rec2)
	if err := os.WriteFile(outside, data, 0o644); err != nil {
		t.Fatal(err)
	}
	os.Remove(rec2)
	os.Remove(rec3)
	if err := os.Symlink(outside, rec2); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Mkfifo(rec3, 0o644); err != nil {
		t.Fatal(err)
	}
	done := make(chan *Report, 1)
	go func() { done <- build(t, dir, vectorKey(t)) }()
	select {
	case r := <-done:
		if r.Timeline[1].Unreadable == "" || r.Timeline[2].Unreadable == "" || r.Timeline[1].Event != nil {
			t.Errorf("rows 2 and 3: %+v / %+v", r.Timeline[1], r.Timeline[2])
		}
		if r.Verification.OK {
			t.Error("verification passed")
		}
	case <-time.After(30 * time.Second):
		t.Fatal("the report hangs on a pipe")
	}
}
