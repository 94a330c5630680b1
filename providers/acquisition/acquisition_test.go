package acquisition_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/acquire-forensics/acquire/custody"
	"github.com/acquire-forensics/acquire/custody/custodytest"
	"github.com/acquire-forensics/acquire/providers/acquisition"
	"github.com/acquire-forensics/acquire/providers/driver"
	"github.com/acquire-forensics/acquire/providers/memcloud"
)

func newLedger(t *testing.T, dir string, s *custody.Signer) *custody.Ledger {
	t.Helper()
	opts := custody.Options{Signer: s, Operator: "test"}
	l, err := custody.Open(context.Background(), dir, opts)
	if errors.Is(err, custody.ErrNotACase) {
		l, err = custody.Create(context.Background(), dir, "IR-1", opts)
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return l
}

func options(l *custody.Ledger, volumes ...string) acquisition.Options {
	return acquisition.Options{Ledger: l, Target: driver.Target{Volumes: volumes},
		Destination:  driver.Destination{Account: memcloud.ForensicAccount, Key: memcloud.ForensicKey},
		PollInterval: time.Millisecond, MaxPollInterval: 2 * time.Millisecond, RetryBackoff: time.Millisecond}
}

// TestJournalOnlyFromVerifiedRecords: a record changed after the case was opened (a forged result that
// would make the run skip a step) stops the run instead of steering it.
func TestJournalOnlyFromVerifiedRecords(t *testing.T) {
	s, _ := custodytest.NewSigner(t)
	dir := filepath.Join(t.TempDir(), "case")
	c := memcloud.New(memcloud.Config{Shape: memcloud.Direct})
	c.Fail("CreateSnapshots", driver.CodePermissionDenied, 1)
	l := newLedger(t, dir, s)
	if _, err := acquisition.New(c).Run(context.Background(), options(l, "vol-plain")); driver.CodeOf(err) != driver.CodePermissionDenied {
		t.Fatalf("first run: %v", err)
	}
	l.Close()
	l = newLedger(t, dir, s)
	recs, err := custody.ReadRecords(dir)
	if err != nil {
		t.Fatal(err)
	}
	// Flip a byte of the failed snapshot result, as a forger would turn it into a success.
	for _, r := range recs {
		if r.Statement.Predicate.Action == "snapshot.create" && r.Statement.Predicate.Phase == custody.PhaseResult {
			path := filepath.Join(dir, r.Path)
			data, _ := os.ReadFile(path)
			os.Chmod(path, 0o644)
			os.WriteFile(path, []byte(strings.Replace(string(data), `"`, `'`, 1)), 0o644)
		}
	}
	_, err = acquisition.New(c).Run(context.Background(), options(l, "vol-plain"))
	if driver.CodeOf(err) != driver.CodeIntegrity || !errors.Is(err, custody.ErrTamperedHistory) {
		t.Fatalf("run over a record changed since the open: %v, want an integrity error", err)
	}
	if n := c.Calls()["CreateSnapshots"]; n != 1 {
		t.Errorf("the cloud was called after the journal failed to verify: %d CreateSnapshots", n)
	}
}

// TestResumeRecordsWhatWasInFlight: a run that continues an interrupted one says so in the case, with
// the steps left in flight and failed.
func TestResumeRecordsWhatWasInFlight(t *testing.T) {
	s, _ := custodytest.NewSigner(t)
	dir := filepath.Join(t.TempDir(), "case")
	c := memcloud.New(memcloud.Config{Shape: memcloud.Direct})
	c.Fail("CreateSnapshots", driver.CodeInvalid, 1)
	l := newLedger(t, dir, s)
	if _, err := acquisition.New(c).Run(context.Background(), options(l, "vol-plain")); err == nil {
		t.Fatal("the first run succeeded despite the fault")
	}
	res, err := acquisition.New(c).Run(context.Background(), options(l, "vol-plain"))
	if err != nil || !res.Resumed || res.Acquisition != 1 {
		t.Fatalf("second run: %v %+v", err, res)
	}
	recs, _ := custody.ReadRecords(dir)
	var resume *custody.Event
	for _, r := range recs {
		if r.Statement.Predicate.Action == "acquisition.resume" {
			resume = &r.Statement.Predicate
		}
	}
	if resume == nil {
		t.Fatal("no acquisition.resume record")
	}
	failed, _ := resume.Details["failed"].([]any)
	if !slices.ContainsFunc(failed, func(v any) bool { s, _ := v.(string); return strings.HasSuffix(s, "/snapshot.1") }) {
		t.Errorf("the resume record lists failed steps %v, want the snapshot step", failed)
	}
}

// TestPlanDifferencesNamed: the refusal of a re-run with other arguments names each difference.
func TestPlanDifferencesNamed(t *testing.T) {
	s, _ := custodytest.NewSigner(t)
	l := newLedger(t, filepath.Join(t.TempDir(), "case"), s)
	c := memcloud.New(memcloud.Config{Shape: memcloud.Transfer})
	if _, err := acquisition.New(c).Run(context.Background(), options(l, "vol-plain")); err != nil {
		t.Fatal(err)
	}
	o := options(l, "vol-plain", "vol-cmk")
	o.Lock = &driver.LockRequest{Mode: "hold", Days: 3}
	_, err := acquisition.New(c).Run(context.Background(), o)
	if driver.CodeOf(err) != driver.CodeInvalid {
		t.Fatalf("re-run with other arguments: %v", err)
	}
	for _, want := range []string{"target volumes: recorded vol-plain, given vol-cmk, vol-plain", "lock: recorded (none), given hold for 3 days"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("the refusal %q does not say %q", err, want)
		}
	}
}

// TestTargetNamedTwiceAcquiredOnce: a volume named twice, or named alone and attached to a named
// workload, is acquired once.
func TestTargetNamedTwiceAcquiredOnce(t *testing.T) {
	s, _ := custodytest.NewSigner(t)
	l := newLedger(t, filepath.Join(t.TempDir(), "case"), s)
	c := memcloud.New(memcloud.Config{Shape: memcloud.Direct})
	o := options(l, "vol-root", "vol-plain", "vol-plain")
	o.Target.Workloads = []string{"vm-1", "vm-1"}
	res, err := acquisition.New(c).Run(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Volumes) != 3 || len(c.Snapshots(driver.Forensic)) != 3 {
		t.Errorf("%d volumes acquired and %d snapshots made, want 3 of each", len(res.Volumes), len(c.Snapshots(driver.Forensic)))
	}
}

// TestPreflightCarriesThePlan: the driver's preflight is told the consistency asked for and whether
// the evidence is digested, so that it can check what those need before anything is made.
func TestPreflightCarriesThePlan(t *testing.T) {
	for _, tc := range []struct {
		consistency driver.Consistency
		digest      acquisition.DigestMode
	}{{driver.CrashConsistent, acquisition.DigestCompute}, {driver.PerVolume, acquisition.DigestDefer}} {
		s, _ := custodytest.NewSigner(t)
		l := newLedger(t, filepath.Join(t.TempDir(), "case"), s)
		c := memcloud.New(memcloud.Config{Shape: memcloud.Direct})
		o := options(l)
		o.Target.Workloads = []string{"vm-1"}
		o.Consistency, o.Digest = tc.consistency, tc.digest
		if _, err := acquisition.New(c).Run(context.Background(), o); err != nil {
			t.Fatal(err)
		}
		p, ok := c.LastPreflight()
		if !ok || p.Consistency != tc.consistency || p.Digest != (tc.digest == acquisition.DigestCompute) {
			t.Errorf("asked %s, digest %s: the preflight was told %+v (%v)", tc.consistency, tc.digest, p, ok)
		}
	}
}

// TestRetriesBoundedByTime: a step throttled many times in a row keeps trying until its deadline, no
// sooner than the cloud's Retry-After, and records its retries; past the deadline it fails saying so.
func TestRetriesBoundedByTime(t *testing.T) {
	s, _ := custodytest.NewSigner(t)
	dir := filepath.Join(t.TempDir(), "case")
	c := memcloud.New(memcloud.Config{Shape: memcloud.Direct})
	c.Throttle("CreateSnapshots", 20*time.Millisecond, 12)
	l := newLedger(t, dir, s)
	o := options(l, "vol-plain")
	o.RetryDeadline = time.Minute
	start := time.Now()
	if _, err := acquisition.New(c).Run(context.Background(), o); err != nil {
		t.Fatalf("twelve throttles within the deadline: %v", err)
	}
	if took := time.Since(start); took < 12*20*time.Millisecond {
		t.Errorf("twelve Retry-After waits of 20ms took %v: the cloud's Retry-After was not honoured", took)
	}
	recs, _ := custody.ReadRecords(dir)
	var retries map[string]any
	for _, r := range recs {
		if ev := r.Statement.Predicate; ev.Action == "snapshot.create" && ev.Phase == custody.PhaseResult {
			retries, _ = ev.Details["retries"].(map[string]any)
		}
	}
	if retries == nil || retries["total"] != float64(12) {
		t.Errorf("the snapshot record says retries %v, want 12", retries)
	}

	c.Throttle("CreateSnapshots", 0, 1<<20)
	l2 := newLedger(t, filepath.Join(t.TempDir(), "case2"), s)
	o = options(l2, "vol-plain")
	o.RetryDeadline = 200 * time.Millisecond
	_, err := acquisition.New(c).Run(context.Background(), o)
	if driver.CodeOf(err) != driver.CodeThrottled || !strings.Contains(err.Error(), "retry deadline") {
		t.Fatalf("throttled past the deadline: %v", err)
	}
}

// TestCopiesBoundedPerSide: no side has more copies in flight than CopyConcurrency, and the bound
// holds each side apart, so a transfer waiting on one side does not hold the other's places.
func TestCopiesBoundedPerSide(t *testing.T) {
	s, _ := custodytest.NewSigner(t)
	l := newLedger(t, filepath.Join(t.TempDir(), "case"), s)
	c := memcloud.New(memcloud.Config{Shape: memcloud.Transfer, PollsToComplete: 3})
	o := options(l, "vol-plain", "vol-cmk", "vol-default")
	o.Target.Workloads = []string{"vm-1"}
	o.CopyConcurrency = 1
	if _, err := acquisition.New(c).Run(context.Background(), o); err != nil {
		t.Fatal(err)
	}
	for _, side := range []driver.Side{driver.Source, driver.Forensic} {
		if n := c.PeakCopies(side); n != 1 {
			t.Errorf("%d copies pending at once on the %s side, want 1", n, side)
		}
	}
}
