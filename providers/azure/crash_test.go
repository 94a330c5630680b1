package azure

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/sigstore/sigstore/pkg/cryptoutils"

	"github.com/acquire-forensics/acquire/custody"
	"github.com/acquire-forensics/acquire/providers/acquisition"
	"github.com/acquire-forensics/acquire/providers/azure/azuresim"
	"github.com/acquire-forensics/acquire/providers/driver"
	"github.com/acquire-forensics/acquire/providers/providertest"
)

func crash(o *acquisition.Options) { o.Consistency = driver.CrashConsistent }

// caseText is every record's statement and every file of a case, for looking up what it says.
func caseText(t *testing.T, dir string) string {
	t.Helper()
	var b strings.Builder
	recs, err := custody.ReadRecords(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range recs {
		data, _ := json.Marshal(r.Statement)
		b.Write(data)
		b.WriteByte('\n')
	}
	return b.String()
}

// crashDebris lists what a crash-consistent acquisition makes for its own use and may not leave:
// restore points and their collections in the source subscription, restored disks in the forensic one.
func crashDebris(sim *azuresim.Server) []string {
	var out []string
	for _, rp := range sim.RestorePoints() {
		out = append(out, "restore point "+rp.ID)
	}
	for _, rpc := range sim.RestorePointCollections() {
		out = append(out, "restore point collection "+rpc.ID)
	}
	for _, d := range sim.Disks(forensicSub) {
		out = append(out, "disk "+d.ID)
	}
	return out
}

func verifies(t *testing.T, c *providertest.Case) {
	t.Helper()
	r, err := custody.Verify(context.Background(), c.Dir, custody.VerifyOptions{Verifier: c.Verifier})
	if err != nil || !r.OK() {
		t.Fatalf("the case does not verify: %v %v", err, r.Problems)
	}
}

// TestCrashConsistent: asked for, a VM's two disks are taken at one moment through a crash-consistent
// restore point; the evidence (full snapshots in the forensic subscription, of disks restored there)
// says crash-consistent, the records name the restore point, the consistency Azure reports and its
// removal, and nothing of it is left on either side. A lost answer to each call that makes something
// changes none of that.
func TestCrashConsistent(t *testing.T) {
	for _, lost := range []string{"", "RestorePointCollections_CreateOrUpdate", "RestorePoints_Create", "Disks_CreateOrUpdate"} {
		t.Run("lost "+lost, func(t *testing.T) {
			sim, d, _ := startSim(t, scenario(t), nil)
			env := harness{}.envFor(d, sim)
			if lost != "" {
				env.Faults.LoseReplies(lost, 1)
			}
			sc := env.Scenarios["two-volume-instance"]
			c := providertest.NewCase(t)
			res, err := providertest.Acquire(context.Background(), t, env, c, sc, crash)
			if err != nil {
				t.Fatal(err)
			}
			providertest.CheckEndState(t, env, c, sc, res)
			for _, v := range res.Volumes {
				if v.Consistency != driver.CrashConsistent {
					t.Errorf("%s: %s", v.Volume.ID, v.Consistency)
				}
			}
			if lost != "" && sim.CallCounts()[lost] < 2 {
				t.Errorf("%s was called %d times: the lost answer was not met", lost, sim.CallCounts()[lost])
			}
			if n := sim.CallCounts()["RestorePoints_Create"]; n == 0 {
				t.Fatal("no restore point was made")
			}
			snaps := sim.Snapshots(forensicSub)
			if len(snaps) != 2 {
				t.Fatalf("%d snapshots in the forensic subscription, want 2: %v", len(snaps), snaps)
			}
			for _, s := range snaps {
				if !strings.Contains(s.SourceID, "/subscriptions/"+forensicSub+"/") || !strings.Contains(s.SourceID, "/disks/acquire-rd-") {
					t.Errorf("snapshot %s was copied from %s, not a disk restored in the forensic subscription", s.Name, s.SourceID)
				}
				if s.Incremental || s.Tags[caseTag] == "" {
					t.Errorf("snapshot %s: incremental %v, case tag %q", s.Name, s.Incremental, s.Tags[caseTag])
				}
			}
			if s := sim.Snapshots(sourceSub); len(s) > 0 {
				t.Errorf("snapshots in the source subscription: %v", s)
			}
			if left := crashDebris(sim); len(left) > 0 {
				t.Errorf("left behind: %v", left)
			}
			text := caseText(t, c.Dir)
			for _, want := range []string{kindRestorePointCollection, kindRestorePoint, kindRestoredDisk, "consistencyMode CrashConsistent as Azure reports it", "/restorePoints/acquire-"} {
				if !strings.Contains(text, want) {
					t.Errorf("the case does not record %q", want)
				}
			}
			if strings.Contains(text, "WARNING") {
				t.Error("a caveat was recorded for a v5 VM with one data disk")
			}
		})
	}
}

// TestCrashConsistentFailuresUndone: the restore point or a restored disk cannot be made (its
// operation keeps failing): the engine retries until the step's deadline, gives up, and nothing is
// left in the source subscription nor among the forensic disks.
func TestCrashConsistentFailuresUndone(t *testing.T) {
	for _, op := range []string{"RestorePoints_Create", "Disks_CreateOrUpdate"} {
		t.Run(op, func(t *testing.T) {
			sc := scenario(t)
			sc.Faults = azuresim.Faults{Rules: []azuresim.FaultRule{{Kind: azuresim.FaultFailOperation, Operations: []string{op}}}}
			sim, d, _ := startSim(t, sc, nil)
			env := harness{}.envFor(d, sim)
			c := providertest.NewCase(t)
			_, err := providertest.Acquire(context.Background(), t, env, c, env.Scenarios["two-volume-instance"], func(o *acquisition.Options) {
				crash(o)
				o.RetryDeadline = 300 * time.Millisecond
			})
			if err == nil || !strings.Contains(err.Error(), "InternalOperationError") {
				t.Fatalf("error %v: want the operation's failure", err)
			}
			if n := sim.CallCounts()[op]; n < 2 {
				t.Errorf("%s was called %d times: the attempt was not retried", op, n)
			}
			if left := crashDebris(sim); len(left) > 0 {
				t.Errorf("left behind: %v", left)
			}
			if s := sim.Snapshots(""); len(s) > 0 {
				t.Errorf("snapshots were made: %v", s)
			}
			verifies(t, c)
		})
	}
}

// TestCrashConsistentRefusedUndone: Azure refuses the restore point for good (a crash-consistent one
// of the VM was made less than an hour ago): the acquisition fails saying so, and the restore point
// collection it wrote is removed at once.
func TestCrashConsistentRefusedUndone(t *testing.T) {
	sim, d, rc := startSim(t, scenario(t), nil)
	src, err := New(rc.config(t))
	if err != nil {
		t.Fatal(err)
	}
	vm := driver.Workload{ID: vmID("vm-1"), Location: region}
	// Someone else's crash-consistent restore point of the VM, a moment ago.
	if err := src.putRestorePointCollection(context.Background(), rgWeb, "owners-rpc", driver.SnapshotRequest{Workload: &vm}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := src.restorePoint(context.Background(), rgWeb, "owners-rpc", "owners-rp", false); err != nil {
		t.Fatal(err)
	}
	env := harness{}.envFor(d, sim)
	c := providertest.NewCase(t)
	_, err = providertest.Acquire(context.Background(), t, env, c, env.Scenarios["two-volume-instance"], crash)
	if driver.CodeOf(err) != driver.CodeConflict || !strings.Contains(err.Error(), "one of a VM an hour") {
		t.Fatalf("error %v: want a conflict naming the once-an-hour rule", err)
	}
	for _, rpc := range sim.RestorePointCollections() {
		if !strings.HasSuffix(rpc.ID, "/owners-rpc") {
			t.Errorf("left behind: restore point collection %s", rpc.ID)
		}
	}
	if n := len(sim.RestorePoints()); n != 1 {
		t.Errorf("%d restore points, want the owner's only", n)
	}
	verifies(t, c)
}

// TestCrashPermissionsNamed: an action crash consistency needs that a principal lacks (the source
// side's restore point, the forensic side's restored disks and the linked access to the disk restore
// points) is refused before anything is made, naming it and the principal.
func TestCrashPermissionsNamed(t *testing.T) {
	for _, missing := range []struct{ action, principal string }{
		{"Microsoft.Compute/restorePointCollections/restorePoints/write", "the source principal"},
		{"Microsoft.Compute/restorePointCollections/write", "the source principal"},
		{actionDRPBeginGetAccess, "the forensic principal"},
		{"Microsoft.Compute/disks/write", "the forensic principal"},
	} {
		t.Run(missing.action, func(t *testing.T) {
			sim, d, _ := startSim(t, denyScenario(t, missing.action), nil)
			env := harness{}.envFor(d, sim)
			c := providertest.NewCase(t)
			_, err := providertest.Acquire(context.Background(), t, env, c, env.Scenarios["two-volume-instance"], crash)
			if driver.CodeOf(err) != driver.CodePermissionDenied || !strings.Contains(err.Error(), missing.principal+" may not perform "+missing.action) {
				t.Fatalf("error %v: want permission-denied naming %s for %s", err, missing.action, missing.principal)
			}
			if !strings.Contains(err.Error(), "acquire iam azure --consistency crash-consistent") {
				t.Errorf("error %v does not say where the roles are printed", err)
			}
			if n := sim.CallCounts()["RestorePointCollections_CreateOrUpdate"]; n > 0 {
				t.Errorf("a restore point collection was written before the preflight refused")
			}
			if left := crashDebris(sim); len(left) > 0 {
				t.Errorf("left behind: %v", left)
			}
		})
	}
	t.Run("per-volume needs none", func(t *testing.T) {
		sim, d, _ := startSim(t, denyScenario(t, "Microsoft.Compute/restorePointCollections/write"), nil)
		env := harness{}.envFor(d, sim)
		c := providertest.NewCase(t)
		if _, err := providertest.Acquire(context.Background(), t, env, c, env.Scenarios["two-volume-instance"], nil); err != nil {
			t.Fatalf("a per-volume acquisition needs no restore point permission: %v", err)
		}
	})
}

// TestCrashRefusedAtPlan: a VM with an Ultra disk, and a disk given alone, are refused before anything
// is made, with the reason.
func TestCrashRefusedAtPlan(t *testing.T) {
	sc := scenario(t)
	rg := &sc.Subscriptions[0].ResourceGroups[0]
	rg.Disks = append(rg.Disks, azuresim.ScenarioDisk{Name: "ultra-os", SizeGiB: 1, SKU: "Premium_LRS", Synthetic: &azuresim.SyntheticContent{Chunks: []int64{0}}},
		azuresim.ScenarioDisk{Name: "ultra-data", SizeGiB: 1, SKU: "UltraSSD_LRS", Synthetic: &azuresim.SyntheticContent{Chunks: []int64{1}}})
	rg.VirtualMachines = append(rg.VirtualMachines, azuresim.ScenarioVM{Name: "vm-ultra", VMSize: "Standard_D2s_v5", OSDisk: "ultra-os",
		DataDisks: []azuresim.ScenarioDataDisk{{Disk: "ultra-data", LUN: 0}}})
	sim, d, _ := startSim(t, sc, nil)
	env := harness{}.envFor(d, sim)
	for _, tc := range []struct {
		name   string
		target driver.Target
		text   string
	}{
		{"ultra", driver.Target{Location: region, Workloads: []string{vmID("vm-ultra")}}, "no crash-consistent restore point of Ultra or Premium SSD v2 disks"},
		{"disk alone", driver.Target{Location: region, Volumes: []string{diskID("disk-1")}}, "is given alone"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := providertest.NewCase(t)
			_, err := providertest.Acquire(context.Background(), t, env, c, providertest.Scenario{Target: tc.target}, crash)
			if driver.CodeOf(err) != driver.CodeInvalid || !strings.Contains(err.Error(), tc.text) {
				t.Fatalf("error %v: want invalid saying %q", err, tc.text)
			}
			if n := sim.CallCounts()["RestorePointCollections_CreateOrUpdate"]; n > 0 {
				t.Error("a restore point collection was written")
			}
			if s := sim.Snapshots(""); len(s) > 0 {
				t.Errorf("snapshots were made: %v", s)
			}
		})
	}
}

// TestCrashSizeCaveat: on an Intel v6 VM with two data disks the record carries Microsoft's warning
// that its restore point might not be consistent across disks; a v5 VM's does not (TestCrashConsistent).
func TestCrashSizeCaveat(t *testing.T) {
	sc := scenario(t)
	rg := &sc.Subscriptions[0].ResourceGroups[0]
	for _, n := range []string{"v6-os", "v6-data-1", "v6-data-2"} {
		rg.Disks = append(rg.Disks, azuresim.ScenarioDisk{Name: n, SizeGiB: 1, SKU: "Premium_LRS", Synthetic: &azuresim.SyntheticContent{Chunks: []int64{0, 3}, Seed: uint64(len(n))}})
	}
	rg.VirtualMachines = append(rg.VirtualMachines, azuresim.ScenarioVM{Name: "vm-v6", VMSize: "Standard_D4ds_v6", OSDisk: "v6-os",
		DataDisks: []azuresim.ScenarioDataDisk{{Disk: "v6-data-1", LUN: 0}, {Disk: "v6-data-2", LUN: 1}}})
	sim, d, _ := startSim(t, sc, nil)
	env := harness{}.envFor(d, sim)
	c := providertest.NewCase(t)
	res, err := providertest.Acquire(context.Background(), t, env, c, providertest.Scenario{Target: driver.Target{Location: region, Workloads: []string{vmID("vm-v6")}}},
		func(o *acquisition.Options) { crash(o); o.Digest = acquisition.DigestDefer })
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Volumes) != 3 {
		t.Fatalf("%d volumes acquired, want 3", len(res.Volumes))
	}
	text := caseText(t, c.Dir)
	if !strings.Contains(text, "might not be consistent across disks") || !strings.Contains(text, "Standard_D4ds_v6 with 2 data disks") {
		t.Error("the case does not carry Microsoft's caveat for an Intel v6 VM with two data disks")
	}
	if left := crashDebris(sim); len(left) > 0 {
		t.Errorf("left behind: %v", left)
	}
}

func TestSizeCaveatRule(t *testing.T) {
	two := []driver.Volume{{ID: "os", Boot: true}, {ID: "a"}, {ID: "b"}}
	for _, tc := range []struct {
		size string
		vols []driver.Volume
		warn bool
	}{
		{"Standard_D4ds_v6", two, true},
		{"Standard_E8-4ds_v6", two, true},
		{"Standard_D4s_v5", two, false},
		{"Standard_D4as_v6", two, false}, // AMD: v7 and later
		{"Standard_D4as_v7", two, true},
		{"Standard_F4alds_v7", two, true},
		{"Standard_D4ps_v6", two, false}, // Arm
		{"Standard_D4ds_v6", two[:2], false},
		{"Standard_B2s", two, false},
	} {
		if got := sizeCaveat(tc.size, tc.vols) != ""; got != tc.warn {
			t.Errorf("%s with %d volumes: warning %v, want %v", tc.size, len(tc.vols), got, tc.warn)
		}
	}
}

// TestCrashResumeFindsRestorePoint: an acquisition killed once its restore point exists is resumed;
// the resumed run finds the restore point by its token's name instead of making another (Azure would
// refuse a second within the hour), and ends with crash-consistent evidence and nothing left behind.
func TestCrashResumeFindsRestorePoint(t *testing.T) {
	env := killHarness{}.New(t)
	sim := env.Inspect.(inspector).sim
	key := writeKeyFile(t)
	c := providertest.CaseWithKey(t, filepath.Join(t.TempDir(), "case"), key)
	cmd := killHarness{}.HelperCommand(env, "two-volume-instance", c.Dir, key)
	cmd.Env = append(cmd.Env, "ACQUIRE_KILL_CONSISTENCY="+string(driver.CrashConsistent))
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	deadline := time.After(time.Minute)
wait:
	for {
		select {
		case err := <-done:
			t.Fatalf("the helper ended (%v) before it was killed", err)
		case <-deadline:
			_ = cmd.Process.Kill()
			t.Fatal("no restore point was made within a minute")
		case <-time.After(time.Millisecond):
			if len(sim.RestorePoints()) > 0 {
				_ = cmd.Process.Signal(syscall.SIGKILL)
				<-done
				break wait
			}
		}
	}
	made := sim.RestorePoints()[0].ID
	res, err := providertest.Acquire(context.Background(), t, env, c, env.Scenarios["two-volume-instance"], crash)
	if err != nil {
		t.Fatal(err)
	}
	if n := sim.CallCounts()["RestorePoints_Create"]; n != 1 {
		t.Errorf("RestorePoints_Create called %d times: the resumed run did not find the restore point", n)
	}
	if !strings.Contains(caseText(t, c.Dir), made) {
		t.Errorf("the case does not name restore point %s", made)
	}
	for _, v := range res.Volumes {
		if v.Consistency != driver.CrashConsistent {
			t.Errorf("%s: %s", v.Volume.ID, v.Consistency)
		}
	}
	if left := crashDebris(sim); len(left) > 0 {
		t.Errorf("left behind: %v", left)
	}
	verifies(t, c)
}

func writeKeyFile(t *testing.T) string {
	t.Helper()
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	pemBytes, err := cryptoutils.MarshalPrivateKeyToPEM(priv)
	if err != nil {
		t.Fatal(err)
	}
	key := filepath.Join(t.TempDir(), "custody.key")
	if err := os.WriteFile(key, pemBytes, 0o600); err != nil {
		t.Fatal(err)
	}
	return key
}

// TestCrashRemovesOnlyItsOwn: the crash path's removals touch only what acquire names: a restore point
// collection, restore point or disk of another name (the VM owners' own, or a record naming one) is
// refused before any call, since deleting a collection deletes every restore point in it.
func TestCrashRemovesOnlyItsOwn(t *testing.T) {
	sim, d, _ := startSim(t, scenario(t), nil)
	vm := vmID("vm-1")
	rg := vm[:strings.Index(vm, "/providers/")]
	before := sim.CallCounts()
	for _, r := range []driver.Resource{
		{Side: driver.Source, Kind: kindRestorePointCollection, ID: rg + "/providers/Microsoft.Compute/restorePointCollections/nightly"},
		{Side: driver.Source, Kind: kindRestorePoint, ID: rg + "/providers/Microsoft.Compute/restorePointCollections/nightly/restorePoints/monday",
			Parent: rg + "/providers/Microsoft.Compute/restorePointCollections/nightly"},
		{Side: driver.Forensic, Kind: kindRestoredDisk, ID: "/subscriptions/" + forensicSub + "/resourceGroups/" + rgEvidence + "/providers/Microsoft.Compute/disks/case-notes"},
	} {
		err := d.Delete(context.Background(), r)
		if err == nil || !strings.Contains(err.Error(), "not named by acquire") {
			t.Errorf("removing %s: %v, want it refused as not acquire's", r.ID, err)
		}
	}
	after := sim.CallCounts()
	for method, n := range after {
		if strings.Contains(strings.ToLower(method), "delete") && n != before[method] {
			t.Errorf("%s was called %d times", method, n-before[method])
		}
	}
}
