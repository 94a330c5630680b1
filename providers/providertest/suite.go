// Package providertest is the conformance suite every driver passes against its simulator: the same
// acquisitions, interruptions, lost replies and failures on every cloud, checked from the outside (the
// simulator's state on both sides and the custody case), not from the driver's own account of them.
// A cloud declares what it cannot do (Env.Cannot, rclone's "unimplementable" list) with the reason;
// the suite then checks that the plan refuses it before anything is made, so nothing is skipped
// silently.
package providertest

import (
	"context"
	"errors"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/acquire-forensics/acquire/custody"
	"github.com/acquire-forensics/acquire/custody/custodytest"
	"github.com/acquire-forensics/acquire/providers/acquisition"
	"github.com/acquire-forensics/acquire/providers/driver"
	"github.com/acquire-forensics/acquire/providers/evidence"
)

// Harness starts a fresh simulated cloud per test, seeded with the suite's fixture.
type Harness interface {
	New(t *testing.T) *Env
}

// Env is one simulated cloud and what the suite needs to act on it and check it.
type Env struct {
	Driver      driver.Driver
	Destination driver.Destination // forensic account, default location and key
	// Scenarios are the fixture's targets by name. The suite needs "single-volume",
	// "two-volume-instance" (one workload, two volumes) and "two-instances" (two workloads), and
	// "cross-location" unless Cannot says so; it acquires every other scenario given too.
	Scenarios map[string]Scenario
	Inspect   Inspector
	Faults    Faults
	// CreatingCalls are the cloud API calls that make something, by the names Faults takes: the
	// suite loses the reply of each.
	CreatingCalls []string
	// LockMode is a lock the driver accepts, when it has a locker.
	LockMode *driver.LockRequest
	// Cannot lists what the cloud cannot do, with the reason.
	Cannot map[Ability]string
	// ErrorCodes are the driver's errors with the code each must map to.
	ErrorCodes []ErrorCase
	// Tune shortens the engine's waits for the simulator (poll intervals, backoffs).
	Tune func(*acquisition.Options)
	// HelperEnv is the environment a helper process needs to reach this simulator (RunKillTests).
	HelperEnv []string
}

// Ability is something a cloud may be unable to do.
type Ability string

// Abilities the suite checks.
const (
	CanLock            Ability = "lock"
	CanCrashConsistent Ability = "crash-consistent"
	CanCrossLocation   Ability = "cross-location"
	CanDigest          Ability = "digest" // compute digests during the acquisition
)

// ErrorCase is one driver error and the code it must map to.
type ErrorCase struct {
	Name string
	Err  error
	Want driver.Code
}

// Scenario is a target and the volumes it resolves to.
type Scenario struct {
	Target      driver.Target
	Volumes     []string
	Destination *driver.Destination // when the evidence goes elsewhere than Env.Destination
}

// Inspector reads the simulator's state directly.
type Inspector interface {
	// Snapshots lists the snapshots on a side that are not deleted.
	Snapshots(side driver.Side) []SnapshotInfo
	// Temporaries lists what is alive, on either side, that an acquisition makes only for its own use:
	// shares, key grants, temporary keys, intermediate copies, worker VMs, open access grants.
	Temporaries() []string
	// ImageSHA256 is the hex SHA-256 of a volume's content, read from its backing image.
	ImageSHA256(volumeID string) string
}

// SnapshotInfo is a snapshot as the simulator holds it.
type SnapshotInfo struct {
	ID, Location, SourceVolume, State string
	KeyID                             string
	Encrypted, Locked                 bool
	Case                              string // the case label
}

// Faults injects the simulator's faults.
type Faults interface {
	// LoseReplies makes the next count calls of an API call do their work and then close the
	// connection before the answer.
	LoseReplies(call string, count int)
	// FailSnapshots makes the snapshots and copies of these volumes end in error.
	FailSnapshots(volumes ...string)
	// Clear removes every fault.
	Clear()
	// Calls counts the API calls made so far, by the names LoseReplies takes.
	Calls() map[string]int
}

// RunConformanceTests runs the suite.
func RunConformanceTests(t *testing.T, h Harness) {
	t.Run("Acquisitions", func(t *testing.T) { t.Parallel(); testAcquisitions(t, h) })
	t.Run("Capabilities", func(t *testing.T) { t.Parallel(); testCapabilities(t, h) })
	t.Run("Interrupted", func(t *testing.T) { t.Parallel(); testInterrupted(t, h) })
	t.Run("LostReplies", func(t *testing.T) { t.Parallel(); testLostReplies(t, h) })
	t.Run("SnapshotsInError", func(t *testing.T) { t.Parallel(); testSnapshotsInError(t, h) })
	t.Run("SameCaseID", func(t *testing.T) { t.Parallel(); testSameCaseID(t, h) })
	t.Run("ChangedArguments", func(t *testing.T) { t.Parallel(); testChangedArguments(t, h) })
	t.Run("ErrorCodes", func(t *testing.T) { t.Parallel(); testErrorCodes(t, h) })
}

// Case is a custody case for a test, with the key that verifies it.
type Case struct {
	Dir      string
	CaseID   string
	signer   *custody.Signer
	Verifier *custody.Verifier
}

// NewCase makes a signing key and an empty case directory, for case ID IR-TEST.
func NewCase(t *testing.T) *Case {
	t.Helper()
	s, v := custodytest.NewSigner(t)
	return &Case{Dir: filepath.Join(t.TempDir(), "case"), CaseID: "IR-TEST", signer: s, Verifier: v}
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
	return &Case{Dir: dir, CaseID: "IR-TEST", signer: s, Verifier: v}
}

// Open creates the case, or opens it for a resumed run.
func (c *Case) Open(t *testing.T) *custody.Ledger {
	t.Helper()
	opts := custody.Options{Signer: c.signer, Operator: "conformance", Tool: custody.Tool{Name: "acquire", Version: "test"}}
	l, err := custody.Open(context.Background(), c.Dir, opts)
	if errors.Is(err, custody.ErrNotACase) {
		l, err = custody.Create(context.Background(), c.Dir, c.CaseID, opts)
	}
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// Options are the engine's options for a scenario, tuned for the simulator.
func (env *Env) Options(l *custody.Ledger, sc Scenario) acquisition.Options {
	opts := acquisition.Options{Ledger: l, Target: sc.Target, Destination: env.Destination}
	if sc.Destination != nil {
		opts.Destination = *sc.Destination
	}
	if env.Tune != nil {
		env.Tune(&opts)
	}
	return opts
}

// Acquire runs one acquisition of a scenario in the case.
func Acquire(ctx context.Context, t *testing.T, env *Env, c *Case, sc Scenario, tune func(*acquisition.Options)) (*acquisition.Result, error) {
	t.Helper()
	l := c.Open(t)
	defer l.Close()
	opts := env.Options(l, sc)
	if tune != nil {
		tune(&opts)
	}
	return acquisition.New(env.Driver).Run(ctx, opts)
}

func scenario(t *testing.T, env *Env, name string) Scenario {
	t.Helper()
	sc, ok := env.Scenarios[name]
	if !ok {
		t.Fatalf("the harness has no scenario %q", name)
	}
	return sc
}

// CheckEndState asserts what every successful acquisition leaves, on both sides: exactly one
// completed forensic snapshot per volume, labelled with the case, under the forensic key where one was
// given; on the source side, exactly one snapshot per volume where the cloud snapshots there (kept, as
// by default), none where it snapshots straight into the forensic side; nothing temporary alive
// anywhere; a case that verifies; and recorded digests equal to the volumes' content.
func CheckEndState(t *testing.T, env *Env, c *Case, sc Scenario, res *acquisition.Result) {
	t.Helper()
	dest := env.Destination
	if sc.Destination != nil {
		dest = *sc.Destination
	}
	byVolume := func(side driver.Side) map[string][]SnapshotInfo {
		out := map[string][]SnapshotInfo{}
		for _, s := range env.Inspect.Snapshots(side) {
			out[s.SourceVolume] = append(out[s.SourceVolume], s)
		}
		return out
	}
	forensic, source := byVolume(driver.Forensic), byVolume(driver.Source)
	wantSource := 0
	if env.Driver.Capabilities().SnapshotSide == driver.Source {
		wantSource = 1
	}
	for _, v := range sc.Volumes {
		got := forensic[v]
		if len(got) != 1 {
			t.Errorf("volume %s: %d forensic snapshots, want exactly 1: %+v", v, len(got), got)
		} else if cp := got[0]; cp.State != string(driver.StateCompleted) || cp.Case != c.CaseID || (dest.Key != "" && cp.KeyID != dest.Key) ||
			(dest.Location != "" && cp.Location != dest.Location) {
			t.Errorf("volume %s: forensic snapshot %+v, want completed, labelled with case %s, under key %q in %q", v, cp, c.CaseID, dest.Key, dest.Location)
		}
		if n := len(source[v]); n != wantSource {
			t.Errorf("volume %s: %d snapshots on the source side, want %d: %+v", v, n, wantSource, source[v])
		}
	}
	if tmp := env.Inspect.Temporaries(); len(tmp) > 0 {
		t.Errorf("temporary resources still alive: %v", tmp)
	}
	r, err := custody.Verify(context.Background(), c.Dir, custody.VerifyOptions{Verifier: c.Verifier})
	if err != nil {
		t.Fatal(err)
	}
	if !r.OK() {
		t.Errorf("the case does not verify: %v", r.Problems)
	}
	items := RecordedEvidence(t, c.Dir)
	digested := !slices.Contains(slices.Collect(mapsKeys(env.Cannot)), CanDigest)
	for _, v := range sc.Volumes {
		it, ok := items[v]
		switch {
		case !ok:
			t.Errorf("volume %s: no evidence record", v)
		case digested && it.ImageSHA256() != env.Inspect.ImageSHA256(v):
			t.Errorf("volume %s: recorded image SHA-256 %q, the volume's content is %s", v, it.ImageSHA256(), env.Inspect.ImageSHA256(v))
		case !digested && it.DigestStatus != evidence.DigestDeferred:
			t.Errorf("volume %s: digest status %q, want deferred", v, it.DigestStatus)
		}
	}
	if res != nil {
		for _, vr := range res.Volumes {
			if vr.Error != "" || !vr.Recorded {
				t.Errorf("volume %s: result %+v", vr.Volume.ID, vr)
			}
			if digested && (vr.Digest == nil || vr.Digest.ImageSHA256 != env.Inspect.ImageSHA256(vr.Volume.ID)) {
				t.Errorf("volume %s: result digest %+v", vr.Volume.ID, vr.Digest)
			}
		}
	}
}

func mapsKeys(m map[Ability]string) func(func(Ability) bool) {
	return func(yield func(Ability) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

// RecordedEvidence reads the case's evidence items, by source volume.
func RecordedEvidence(t *testing.T, dir string) map[string]evidence.Item {
	t.Helper()
	recs, err := custody.ReadRecords(dir)
	if err != nil {
		t.Fatal(err)
	}
	items, err := evidence.Items(recs)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]evidence.Item{}
	for _, it := range items {
		if _, dup := out[it.SourceVolume]; dup {
			t.Errorf("volume %s has two evidence items", it.SourceVolume)
		}
		out[it.SourceVolume] = it
	}
	return out
}

func testAcquisitions(t *testing.T, h Harness) {
	probe := h.New(t)
	names := slices.Sorted(func(yield func(string) bool) {
		for n := range probe.Scenarios {
			if !yield(n) {
				return
			}
		}
	})
	for _, required := range []string{"single-volume", "two-volume-instance", "two-instances"} {
		if !slices.Contains(names, required) {
			t.Errorf("the harness has no scenario %q", required)
		}
	}
	if _, cannot := probe.Cannot[CanCrossLocation]; !cannot && !slices.Contains(names, "cross-location") {
		t.Errorf("the harness has no scenario cross-location and does not declare that the cloud cannot place evidence elsewhere")
	}
	for _, name := range names {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			env := h.New(t)
			sc := scenario(t, env, name)
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

// nothingMade asserts the cloud holds no snapshot and nothing temporary: a refusal at the plan.
func nothingMade(t *testing.T, env *Env) {
	t.Helper()
	for _, side := range []driver.Side{driver.Source, driver.Forensic} {
		if s := env.Inspect.Snapshots(side); len(s) > 0 {
			t.Errorf("the refused acquisition made snapshots on the %s side: %+v", side, s)
		}
	}
	if tmp := env.Inspect.Temporaries(); len(tmp) > 0 {
		t.Errorf("the refused acquisition made %v", tmp)
	}
}

func refused(t *testing.T, what string, err error) {
	t.Helper()
	if driver.CodeOf(err) != driver.CodeInvalid {
		t.Errorf("%s: error %v, want it refused at the plan (invalid)", what, err)
	}
}

// testCapabilities checks that the driver does what it declares, and refuses what it declares it
// cannot do before anything is made.
func testCapabilities(t *testing.T, h Harness) {
	t.Run("Declared", func(t *testing.T) {
		t.Parallel()
		env := h.New(t)
		caps := env.Driver.Capabilities()
		f := driver.FeaturesOf(env.Driver)
		sc := scenario(t, env, "two-volume-instance")
		c := NewCase(t)
		res, err := Acquire(context.Background(), t, env, c, sc, func(o *acquisition.Options) {
			if f.Lock != nil && env.LockMode != nil {
				o.Lock = env.LockMode
			}
			if caps.Crash != driver.CrashNone {
				o.Consistency = driver.CrashConsistent
			}
		})
		if err != nil {
			t.Fatal(err)
		}
		if caps.Crash != driver.CrashNone {
			for _, v := range res.Volumes {
				if v.Consistency != driver.CrashConsistent {
					t.Errorf("crash consistency declared, but %s's snapshot is %q", v.Volume.ID, v.Consistency)
				}
			}
		}
		if f.Lock != nil {
			if env.LockMode == nil {
				t.Fatal("the driver has a locker, but the harness gives no lock mode to try")
			}
			locked := map[string]bool{}
			for _, s := range env.Inspect.Snapshots(driver.Forensic) {
				locked[s.SourceVolume] = s.Locked
			}
			for _, v := range res.Volumes {
				if v.Locked == "" || !locked[v.Volume.ID] {
					t.Errorf("a lock was asked, but %s's evidence is not locked (result %q, cloud %v)", v.Volume.ID, v.Locked, locked[v.Volume.ID])
				}
			}
		}
		if f.Blocks != nil || f.Digest != nil {
			for _, v := range res.Volumes {
				if v.Digest == nil || v.Digest.ImageSHA256 == "" {
					t.Errorf("the driver can digest, but %s has no digest", v.Volume.ID)
				}
			}
		}
	})
	t.Run("Cannot", func(t *testing.T) {
		t.Parallel()
		probe := h.New(t)
		f := driver.FeaturesOf(probe.Driver)
		caps := probe.Driver.Capabilities()
		checks := map[Ability]struct {
			declared bool // the driver's own declaration says it can
			tune     func(*acquisition.Options)
		}{
			CanLock:            {f.Lock != nil, func(o *acquisition.Options) { o.Lock = &driver.LockRequest{Mode: "governance", Days: 1} }},
			CanCrashConsistent: {caps.Crash != driver.CrashNone, func(o *acquisition.Options) { o.Consistency = driver.CrashConsistent }},
			CanCrossLocation:   {caps.CrossLocation, func(o *acquisition.Options) { o.Destination.Location = "elsewhere-" + o.Destination.Location + "-1" }},
			CanDigest:          {f.Blocks != nil || f.Digest != nil, nil},
		}
		for ability, reason := range probe.Cannot {
			c, ok := checks[ability]
			if !ok {
				t.Errorf("Cannot names %q, which the suite does not know", ability)
				continue
			}
			if c.declared {
				t.Errorf("the harness says the cloud cannot %s (%s), but the driver declares it can", ability, reason)
			}
			if strings.TrimSpace(reason) == "" {
				t.Errorf("the harness says the cloud cannot %s without saying why", ability)
			}
		}
		for ability, c := range checks {
			if _, cannot := probe.Cannot[ability]; !cannot && !c.declared {
				t.Errorf("the driver cannot %s, and the harness does not declare it in Cannot", ability)
			}
			if c.declared || c.tune == nil {
				continue
			}
			t.Run(string(ability), func(t *testing.T) {
				t.Parallel()
				env := h.New(t)
				_, err := Acquire(context.Background(), t, env, NewCase(t), scenario(t, env, "two-volume-instance"), c.tune)
				refused(t, string(ability), err)
				nothingMade(t, env)
			})
		}
	})
}

// testChangedArguments: a re-run of a case with other arguments is refused with what differs; with
// NewAcquisition it starts a second acquisition in the same case.
func testChangedArguments(t *testing.T, h Harness) {
	env := h.New(t)
	c := NewCase(t)
	first := scenario(t, env, "single-volume")
	if _, err := Acquire(context.Background(), t, env, c, first, nil); err != nil {
		t.Fatal(err)
	}
	other := scenario(t, env, "two-volume-instance")
	_, err := Acquire(context.Background(), t, env, c, other, nil)
	refused(t, "a re-run with other targets", err)
	if err != nil && !strings.Contains(err.Error(), "differs") {
		t.Errorf("the refusal does not say what differs: %v", err)
	}
	res, err := Acquire(context.Background(), t, env, c, other, func(o *acquisition.Options) { o.NewAcquisition = true })
	if err != nil {
		t.Fatalf("a new acquisition in the same case: %v", err)
	}
	if res.Acquisition != 2 {
		t.Errorf("the new acquisition is number %d, want 2", res.Acquisition)
	}
	all := Scenario{Volumes: append(append([]string(nil), first.Volumes...), other.Volumes...), Destination: first.Destination}
	CheckEndState(t, env, c, all, nil)
}

func testErrorCodes(t *testing.T, h Harness) {
	env := h.New(t)
	if len(env.ErrorCodes) == 0 {
		t.Fatal("the harness gives no error cases: every driver maps its cloud's errors, and the table checks them")
	}
	seen := map[driver.Code]bool{}
	for _, tc := range env.ErrorCodes {
		seen[tc.Want] = true
		if got := env.Driver.ErrorCode(tc.Err); got != tc.Want {
			t.Errorf("%s: ErrorCode(%v) = %s, want %s", tc.Name, tc.Err, got, tc.Want)
		}
	}
	for _, c := range []driver.Code{driver.CodeNotFound, driver.CodePermissionDenied, driver.CodeThrottled, driver.CodeUnavailable, driver.CodeInvalid} {
		if !seen[c] {
			t.Errorf("no error case maps to %s", c)
		}
	}
}
