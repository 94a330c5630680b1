// Package providertest is the conformance suite every driver passes against its simulator: the same
// acquisitions, interruptions and failures on every cloud, checked from the outside (the simulator's
// state and the custody case), not from the driver's own account of them.
package providertest

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/acquire-forensics/acquire/custody"
	"github.com/acquire-forensics/acquire/custody/custodytest"
	"github.com/acquire-forensics/acquire/providers"
)

// Harness starts a fresh simulated cloud per test, seeded with the suite's fixture.
type Harness interface {
	New(t *testing.T) *Env
}

// Env is one simulated cloud and what the suite needs to act on it and check it.
type Env struct {
	Driver   providers.Driver
	Region   string                    // the target region
	Forensic providers.ForensicOptions // account, default region and key of the forensic side
	// Scenarios are the fixture's targets by name. The suite needs: "unencrypted", "customer-key",
	// "default-key" (single volumes), "two-volume-instance", "cross-region" (Target plus a
	// ForensicRegion), "two-instances".
	Scenarios map[string]Scenario
	Inspect   Inspector
	// Tune shortens the engine's waits for the simulator (poll intervals, backoffs).
	Tune func(*providers.Options)
}

// Scenario is a target and the volumes it resolves to.
type Scenario struct {
	Target         providers.Target
	Volumes        []string
	ForensicRegion string // when the copy goes to another region
	ForensicKeyID  string // the forensic key in that region
}

// Inspector reads the simulator's state directly.
type Inspector interface {
	// SharedSnapshots lists source-side snapshots anyone else may use.
	SharedSnapshots() []string
	// LiveTemporaryKeys lists keys the acquisition created that are neither deleted nor pending deletion.
	LiveTemporaryKeys() []string
	// ForensicCopies lists the snapshots in the forensic account.
	ForensicCopies() []Copy
	// SourceSnapshots lists the snapshots in the source account.
	SourceSnapshots() []Copy
	// ImageSHA256 is the hex SHA-256 of a volume's content, read from its backing image.
	ImageSHA256(volumeID string) string
}

// Copy is a snapshot as the simulator holds it.
type Copy struct {
	ID, Region, SourceVolume, KeyID, State string
	Encrypted                              bool
	Case                                   string
}

// RunConformanceTests runs the suite.
func RunConformanceTests(t *testing.T, h Harness) {
	t.Run("Acquisitions", func(t *testing.T) { testAcquisitions(t, h) })
	t.Run("Capabilities", func(t *testing.T) { testCapabilities(t, h) })
	t.Run("Interrupted", func(t *testing.T) { testInterrupted(t, h) })
}

// Case is a custody case for a test, with the key that verifies it.
type Case struct {
	Dir      string
	signer   *custody.Signer
	Verifier *custody.Verifier
}

// NewCase makes a signing key and an empty case directory.
func NewCase(t *testing.T) *Case {
	t.Helper()
	s, v := custodytest.NewSigner(t)
	return &Case{Dir: filepath.Join(t.TempDir(), "case"), signer: s, Verifier: v}
}

// CaseWithKey is a case signed by the private key in a file (unencrypted PEM), so that another process
// can write to the same case.
func CaseWithKey(t *testing.T, dir, keyFile string) *Case {
	t.Helper()
	s, err := custody.LoadSigner(context.Background(), keyFile, nil)
	if err != nil {
		t.Fatal(err)
	}
	v, err := custody.NewVerifier(s.PublicKey())
	if err != nil {
		t.Fatal(err)
	}
	return &Case{Dir: dir, signer: s, Verifier: v}
}

// Open creates the case, or opens it for a resumed run.
func (c *Case) Open(t *testing.T) *custody.Ledger {
	t.Helper()
	opts := custody.Options{Signer: c.signer, Operator: "conformance", Tool: custody.Tool{Name: "acquire", Version: "test"}}
	l, err := custody.Open(context.Background(), c.Dir, opts)
	if errors.Is(err, custody.ErrNotACase) {
		l, err = custody.Create(context.Background(), c.Dir, "IR-TEST", opts)
	}
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// Acquire runs one acquisition of a scenario in the case.
func Acquire(ctx context.Context, t *testing.T, env *Env, c *Case, sc Scenario, tune func(*providers.Options)) (*providers.Result, error) {
	t.Helper()
	l := c.Open(t)
	defer l.Close()
	opts := providers.Options{Ledger: l, Target: sc.Target, Forensic: env.Forensic}
	if sc.ForensicRegion != "" {
		opts.Forensic.Region, opts.Forensic.KeyID = sc.ForensicRegion, sc.ForensicKeyID
	}
	if env.Tune != nil {
		env.Tune(&opts)
	}
	if tune != nil {
		tune(&opts)
	}
	return providers.New(env.Driver).Run(ctx, opts)
}

// CheckEndState asserts what every successful acquisition leaves: one forensic copy per volume,
// encrypted with the forensic key, nothing shared, no temporary key alive, a case that verifies, and
// recorded digests equal to the volumes' content.
func CheckEndState(t *testing.T, env *Env, c *Case, sc Scenario, res *providers.Result) {
	t.Helper()
	copies := map[string][]Copy{}
	for _, cp := range env.Inspect.ForensicCopies() {
		if cp.State != "error" {
			copies[cp.SourceVolume] = append(copies[cp.SourceVolume], cp)
		}
	}
	wantRegion, wantKey := env.Forensic.Region, env.Forensic.KeyID
	if sc.ForensicRegion != "" {
		wantRegion, wantKey = sc.ForensicRegion, sc.ForensicKeyID
	}
	for _, v := range sc.Volumes {
		got := copies[v]
		if len(got) != 1 {
			t.Errorf("volume %s: %d forensic copies, want exactly 1: %+v", v, len(got), got)
			continue
		}
		cp := got[0]
		if !cp.Encrypted || cp.KeyID != wantKey || cp.Region != wantRegion || cp.Case != "IR-TEST" {
			t.Errorf("volume %s: forensic copy %+v, want encrypted with %s in %s, tagged with the case", v, cp, wantKey, wantRegion)
		}
	}
	if s := env.Inspect.SharedSnapshots(); len(s) > 0 {
		t.Errorf("snapshots still shared: %v", s)
	}
	if k := env.Inspect.LiveTemporaryKeys(); len(k) > 0 {
		t.Errorf("temporary keys still alive: %v", k)
	}
	r, err := custody.Verify(context.Background(), c.Dir, custody.VerifyOptions{Verifier: c.Verifier})
	if err != nil {
		t.Fatal(err)
	}
	if !r.OK() {
		t.Errorf("the case does not verify: %v", r.Problems)
	}
	digests := recordedDigests(t, c.Dir)
	for _, v := range sc.Volumes {
		want := env.Inspect.ImageSHA256(v)
		if got := digests[v]; got != want {
			t.Errorf("volume %s: recorded image SHA-256 %s, the volume's content is %s", v, got, want)
		}
	}
	if res != nil {
		for _, vr := range res.Volumes {
			if vr.Digest == nil || vr.Digest.ImageSHA256 != env.Inspect.ImageSHA256(vr.Volume.ID) {
				t.Errorf("volume %s: result digest %+v", vr.Volume.ID, vr.Digest)
			}
		}
	}
}

// recordedDigests reads the evidence subjects of the case's digest records, by source volume.
func recordedDigests(t *testing.T, dir string) map[string]string {
	t.Helper()
	recs, err := custody.ReadRecords(dir)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, r := range recs {
		for _, s := range r.Statement.Subject {
			if s.Kind() == custody.KindEvidence {
				out[s.Annotations["sourceVolume"]] = s.Digest["sha256"]
			}
		}
	}
	return out
}

func testAcquisitions(t *testing.T, h Harness) {
	for _, name := range []string{"unencrypted", "customer-key", "default-key", "two-volume-instance", "cross-region", "two-instances"} {
		t.Run(name, func(t *testing.T) {
			env := h.New(t)
			sc, ok := env.Scenarios[name]
			if !ok {
				t.Fatalf("the harness has no scenario %q", name)
			}
			c := NewCase(t)
			res, err := Acquire(context.Background(), t, env, c, sc, nil)
			if err != nil {
				t.Fatalf("acquisition failed: %v", err)
			}
			if len(res.Volumes) != len(sc.Volumes) {
				t.Errorf("%d volumes acquired, want %d", len(res.Volumes), len(sc.Volumes))
			}
			CheckEndState(t, env, c, sc, res)
		})
	}
}

// testCapabilities checks that the driver does what it declares.
func testCapabilities(t *testing.T, h Harness) {
	env := h.New(t)
	caps := env.Driver.Capabilities()
	sc := env.Scenarios["two-volume-instance"]
	c := NewCase(t)
	res, err := Acquire(context.Background(), t, env, c, sc, func(o *providers.Options) {
		if caps.SnapshotLock {
			o.Lock = &providers.LockRequest{Mode: "governance", Days: 1}
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	if caps.CrashConsistentGroups {
		var starts []time.Time
		for _, v := range res.Volumes {
			starts = append(starts, v.SourceSnapshot.StartTime)
		}
		if len(starts) < 2 || slices.ContainsFunc(starts, func(s time.Time) bool { return !s.Equal(starts[0]) }) {
			t.Errorf("crash-consistent groups declared, but the snapshots of one instance started at %v", starts)
		}
	}
	for _, v := range res.Volumes {
		if caps.SnapshotLock && !v.Locked {
			t.Errorf("snapshot lock declared, but %s's copy was not locked", v.Volume.ID)
		}
		if caps.BlockDigest && (v.Digest == nil || v.Digest.ImageSHA256 == "") {
			t.Errorf("block digest declared, but %s has none", v.Volume.ID)
		}
	}
}

// interrupt wraps a driver and cancels the run at a chosen call: before it is made, or after it
// returned (the cloud did it; the journal holds only its intent).
type interrupt struct {
	providers.Driver
	method string
	after  bool
	cancel context.CancelFunc
	hits   atomic.Int32
}

func (d *interrupt) at(name string, call func() error) error {
	if name != d.method || d.hits.Add(1) != 1 {
		return call()
	}
	if !d.after {
		d.cancel()
		return context.Canceled
	}
	err := call()
	d.cancel()
	return err
}

func (d *interrupt) CreateSnapshots(ctx context.Context, req providers.SnapshotRequest) (s []providers.Snapshot, err error) {
	err = d.at("CreateSnapshots", func() error { s, err = d.Driver.CreateSnapshots(ctx, req); return err })
	return s, err
}

func (d *interrupt) CreateShareKey(ctx context.Context, region, tok string) (k providers.Key, err error) {
	err = d.at("CreateShareKey", func() error { k, err = d.Driver.CreateShareKey(ctx, region, tok); return err })
	return k, err
}

func (d *interrupt) Stage(ctx context.Context, req providers.StageRequest) (s providers.Staged, err error) {
	err = d.at("Stage", func() error { s, err = d.Driver.Stage(ctx, req); return err })
	return s, err
}

func (d *interrupt) Share(ctx context.Context, s providers.Snapshot) error {
	return d.at("Share", func() error { return d.Driver.Share(ctx, s) })
}

func (d *interrupt) Copy(ctx context.Context, req providers.CopyRequest) (s providers.Snapshot, err error) {
	err = d.at("Copy", func() error { s, err = d.Driver.Copy(ctx, req); return err })
	return s, err
}

func (d *interrupt) Digest(ctx context.Context, s providers.Snapshot, p func(int64, int64)) (dg providers.Digest, err error) {
	err = d.at("Digest", func() error { dg, err = d.Driver.Digest(ctx, s, p); return err })
	return dg, err
}

func (d *interrupt) Unshare(ctx context.Context, s providers.Snapshot) error {
	return d.at("Unshare", func() error { return d.Driver.Unshare(ctx, s) })
}

func (d *interrupt) Unstage(ctx context.Context, s providers.Staged) error {
	return d.at("Unstage", func() error { return d.Driver.Unstage(ctx, s) })
}

// testInterrupted cancels an acquisition at every step boundary, before and after the cloud call, then
// runs it again in the same case: the end state must be the same as an uninterrupted run's.
func testInterrupted(t *testing.T, h Harness) {
	for _, method := range []string{"CreateSnapshots", "CreateShareKey", "Stage", "Share", "Copy", "Digest", "Unshare", "Unstage"} {
		for _, after := range []bool{false, true} {
			name := fmt.Sprintf("%s/before", method)
			if after {
				name = fmt.Sprintf("%s/after", method)
			}
			t.Run(name, func(t *testing.T) {
				env := h.New(t)
				sc := env.Scenarios["default-key"]
				c := NewCase(t)
				ctx, cancel := context.WithCancel(context.Background())
				defer cancel()
				d := &interrupt{Driver: env.Driver, method: method, after: after, cancel: cancel}
				first := *env
				first.Driver = d
				_, err := Acquire(ctx, t, &first, c, sc, nil)
				if d.hits.Load() == 0 {
					t.Fatalf("the acquisition never called %s", method)
				}
				if providers.CodeOf(err) != providers.CodeCancelled {
					t.Fatalf("interrupted run: %v, want cancelled", err)
				}
				if s := env.Inspect.SharedSnapshots(); len(s) > 0 {
					t.Errorf("after the interruption, snapshots are still shared: %v", s)
				}
				res, err := Acquire(context.Background(), t, env, c, sc, nil)
				if err != nil {
					t.Fatalf("resumed run: %v", err)
				}
				CheckEndState(t, env, c, sc, res)
			})
		}
	}
}
