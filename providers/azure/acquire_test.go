package azure

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/compute/armcompute/v7"

	"github.com/acquire-forensics/acquire/custody"
	"github.com/acquire-forensics/acquire/providers/acquisition"
	"github.com/acquire-forensics/acquire/providers/azure/azuresim"
	"github.com/acquire-forensics/acquire/providers/driver"
	"github.com/acquire-forensics/acquire/providers/providertest"
)

// TestFaultsStillComplete: throttling (429 with Retry-After) and server errors on every ARM call and
// blob read, added latency, and the acquisition still completes with the same end state.
func TestFaultsStillComplete(t *testing.T) {
	h := harness{faults: azuresim.Faults{Seed: 7, Rules: []azuresim.FaultRule{
		{Kind: azuresim.FaultThrottle, Rate: 0.1, RetryAfterSeconds: 1},
		{Kind: azuresim.FaultServerError, Rate: 0.05, Status: 503},
		{Kind: azuresim.FaultServerError, Rate: 0.05},
		{Kind: azuresim.FaultLatency, Latency: azuresim.Duration(2 * time.Millisecond)},
	}}}
	for _, name := range []string{"single-volume", "two-volume-instance"} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			env := h.New(t)
			sc := env.Scenarios[name]
			c := providertest.NewCase(t)
			res, err := providertest.Acquire(context.Background(), t, env, c, sc, nil)
			if err != nil {
				t.Fatalf("acquisition under faults: %v", err)
			}
			providertest.CheckEndState(t, env, c, sc, res)
		})
	}
}

// TestRetryAfterHonoured: a throttled snapshot create is tried again no sooner than ARM's Retry-After,
// and an error the SDK gives up on carries that delay to the engine.
func TestRetryAfterHonoured(t *testing.T) {
	sc := scenario(t)
	sc.Faults = azuresim.Faults{Rules: []azuresim.FaultRule{{Kind: azuresim.FaultThrottle, Operations: []string{"Snapshots_CreateOrUpdate"}, Max: 1, RetryAfterSeconds: 2}}}
	sim, d, _ := startSim(t, sc, nil)
	env := harness{}.envFor(d, sim)
	c := providertest.NewCase(t)
	start := time.Now()
	res, err := providertest.Acquire(context.Background(), t, env, c, env.Scenarios["single-volume"], nil)
	if err != nil {
		t.Fatal(err)
	}
	if el := time.Since(start); el < 2*time.Second {
		t.Errorf("the acquisition took %v: the throttled create was retried before its Retry-After of 2s", el)
	}
	if n := sim.CallCounts()["Snapshots_CreateOrUpdate"]; n != 2 {
		t.Errorf("%d snapshot creates, want 2 (one throttled, one retried)", n)
	}
	providertest.CheckEndState(t, env, c, env.Scenarios["single-volume"], res)

	// With no retries left, the throttling reaches the engine with its delay.
	sc = scenario(t)
	sc.Faults = azuresim.Faults{Rules: []azuresim.FaultRule{{Kind: azuresim.FaultThrottle, Operations: []string{"Disks_Get"}, RetryAfterSeconds: 7}}}
	_, d, _ = startSim(t, sc, func(c *Config) { c.MaxRetries = -1 })
	_, err = d.Describe(context.Background(), driver.Target{Volumes: []string{diskID("disk-1")}})
	if d.ErrorCode(err) != driver.CodeThrottled {
		t.Fatalf("error %v: want throttled", err)
	}
	if ra, ok := driver.RetryAfter(err); !ok || ra != 7*time.Second {
		t.Errorf("Retry-After %v %v, want 7s", ra, ok)
	}
}

// denyScenario is the fixture with one action taken from the forensic role.
func denyScenario(t *testing.T, missing string) *azuresim.Scenario {
	sc := scenario(t)
	for i, r := range sc.Roles {
		sc.Roles[i].Actions = slices.DeleteFunc(slices.Clone(r.Actions), func(a string) bool { return a == missing })
	}
	return sc
}

// TestMissingPermissionsNamed: an action the forensic principal lacks (on the source disks or in the
// evidence resource group) is refused before anything is made, naming the action; and ARM's own
// LinkedAuthorizationFailed, met without the preflight, names it too.
func TestMissingPermissionsNamed(t *testing.T) {
	for _, missing := range []string{"Microsoft.Compute/disks/beginGetAccess/action", "Microsoft.Compute/snapshots/write", "Microsoft.Authorization/locks/write"} {
		t.Run(missing, func(t *testing.T) {
			sim, d, _ := startSim(t, denyScenario(t, missing), nil)
			env := harness{}.envFor(d, sim)
			c := providertest.NewCase(t)
			_, err := providertest.Acquire(context.Background(), t, env, c, env.Scenarios["two-volume-instance"], func(o *acquisition.Options) {
				o.Lock = &driver.LockRequest{Mode: "CanNotDelete"}
			})
			if driver.CodeOf(err) != driver.CodePermissionDenied || !strings.Contains(err.Error(), missing) {
				t.Fatalf("error %v: want permission-denied naming %s", err, missing)
			}
			for _, side := range []driver.Side{driver.Source, driver.Forensic} {
				if s := env.Inspect.Snapshots(side); len(s) > 0 {
					t.Errorf("snapshots were made on the %s side: %v", side, s)
				}
			}
			r, err := custody.Verify(context.Background(), c.Dir, custody.VerifyOptions{Verifier: c.Verifier})
			if err != nil || !r.OK() {
				t.Fatalf("the case does not verify: %v %v", err, r.Problems)
			}
		})
	}
	t.Run("LinkedAuthorizationFailed", func(t *testing.T) {
		_, d, _ := startSim(t, denyScenario(t, linkedBeginGetAccess.Action), nil)
		v := driver.Volume{ID: diskID("disk-1"), Location: region}
		_, err := d.CreateSnapshots(context.Background(), driver.SnapshotRequest{Volume: &v, Token: "6f1f7a4e-6d2b-5c3a-9e8f-0a1b2c3d4e5f", Labels: driver.Labels{}})
		if d.ErrorCode(err) != driver.CodePermissionDenied || !strings.Contains(err.Error(), "LinkedAuthorizationFailed") || !strings.Contains(err.Error(), linkedBeginGetAccess.Action) {
			t.Fatalf("error %v: want LinkedAuthorizationFailed naming %s", err, linkedBeginGetAccess.Action)
		}
	})
}

// TestPlanRefusals: what ARM would refuse only once copies are under way is refused before anything
// is made: another region, a lock Azure lacks, a forensic resource group that does not exist.
func TestPlanRefusals(t *testing.T) {
	tests := []struct {
		name string
		code driver.Code
		text string
		tune func(*Config, *acquisition.Options)
	}{
		{"another region", driver.CodeInvalid, "cannot place evidence in northeurope", func(_ *Config, o *acquisition.Options) { o.Destination.Location = "northeurope" }},
		{"lock mode", driver.CodeInvalid, "CanNotDelete management lock only", func(_ *Config, o *acquisition.Options) { o.Lock = &driver.LockRequest{Mode: "compliance", Days: 7} }},
		{"lock duration", driver.CodeInvalid, "do not expire", func(_ *Config, o *acquisition.Options) { o.Lock = &driver.LockRequest{Mode: "CanNotDelete", Days: 7} }},
		{"missing resource group", driver.CodePermissionDenied, "rg-nothing does not exist", func(c *Config, _ *acquisition.Options) { c.ForensicResourceGroup = "rg-nothing" }},
		{"missing encryption set", driver.CodeNotFound, "des-nothing", func(c *Config, o *acquisition.Options) {
			c.ForensicDiskEncryptionSet = strings.Replace(forensicDES, "des-evidence", "des-nothing", 1)
			o.Destination.Key = c.ForensicDiskEncryptionSet
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var o acquisition.Options
			sim, d, _ := startSim(t, scenario(t), func(c *Config) { tc.tune(c, &o) })
			env := harness{}.envFor(d, sim)
			c := providertest.NewCase(t)
			_, err := providertest.Acquire(context.Background(), t, env, c, env.Scenarios["single-volume"], func(opts *acquisition.Options) {
				if o.Destination.Location != "" {
					opts.Destination.Location = o.Destination.Location
				}
				if o.Destination.Key != "" {
					opts.Destination.Key = o.Destination.Key
				}
				opts.Lock = o.Lock
			})
			if driver.CodeOf(err) != tc.code || !strings.Contains(err.Error(), tc.text) {
				t.Fatalf("error %v: want %s naming %q", err, tc.code, tc.text)
			}
			if s := env.Inspect.Snapshots(driver.Forensic); len(s) > 0 {
				t.Errorf("snapshots were made: %v", s)
			}
		})
	}
}

// TestUltraDiskRefused: a Premium SSD v2 disk, which Azure snapshots only incrementally, is refused
// before anything is made, with the reason.
func TestUltraDiskRefused(t *testing.T) {
	sc := scenario(t)
	rg := &sc.Subscriptions[0].ResourceGroups[0]
	rg.Disks = append(rg.Disks, azuresim.ScenarioDisk{Name: "v2", SizeGiB: 1, SKU: "PremiumV2_LRS", Synthetic: &azuresim.SyntheticContent{Chunks: []int64{1}}})
	sim, d, _ := startSim(t, sc, nil)
	env := harness{}.envFor(d, sim)
	c := providertest.NewCase(t)
	_, err := providertest.Acquire(context.Background(), t, env, c, providertest.Scenario{Target: driver.Target{Volumes: []string{diskID("v2")}}}, nil)
	if driver.CodeOf(err) != driver.CodeInvalid || !strings.Contains(err.Error(), "only incrementally") {
		t.Fatalf("error %v: want invalid, saying why", err)
	}
	if s := env.Inspect.Snapshots(driver.Forensic); len(s) > 0 {
		t.Errorf("snapshots were made: %v", s)
	}
}

// TestBadTargets: an unknown VM, an ID that is not a disk's, and a disk or VM of another subscription
// (the forensic one included) fail with clear errors and create nothing.
func TestBadTargets(t *testing.T) {
	tests := []struct {
		name   string
		target driver.Target
		code   driver.Code
		text   string
	}{
		{"unknown VM", driver.Target{Workloads: []string{vmID("vm-nothing")}}, driver.CodeNotFound, "vm-nothing"},
		{"not a VM", driver.Target{Workloads: []string{diskID("disk-1")}}, driver.CodeInvalid, "not virtualMachines"},
		{"not a resource ID", driver.Target{Volumes: []string{"disk-1"}}, driver.CodeInvalid, "not an Azure resource ID"},
		{"unknown disk", driver.Target{Volumes: []string{diskID("disk-nothing")}}, driver.CodeNotFound, "disk-nothing"},
		{"a disk of another subscription", driver.Target{Volumes: []string{strings.Replace(diskID("disk-1"), sourceSub, otherSub, 1)}}, driver.CodeInvalid, "not the source subscription"},
		{"a disk of the forensic subscription", driver.Target{Volumes: []string{"/subscriptions/" + forensicSub + "/resourceGroups/" + rgEvidence + "/providers/Microsoft.Compute/disks/disk-1"}}, driver.CodeInvalid, "is in the forensic subscription"},
		{"a VM of another subscription", driver.Target{Workloads: []string{strings.Replace(vmID("vm-1"), sourceSub, otherSub, 1)}}, driver.CodeInvalid, "not the source subscription"},
		{"VMs of another subscription", driver.Target{Workloads: []string{vmID("vm-1"), strings.Replace(vmID("vm-2"), sourceSub, otherSub, 1)}}, driver.CodeInvalid, "not the source subscription"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			env := (harness{}).New(t)
			c := providertest.NewCase(t)
			_, err := providertest.Acquire(context.Background(), t, env, c, providertest.Scenario{Target: tc.target}, nil)
			if driver.CodeOf(err) != tc.code || !strings.Contains(err.Error(), tc.text) {
				t.Fatalf("error %v: want %s naming %s", err, tc.code, tc.text)
			}
			if s := env.Inspect.Snapshots(driver.Forensic); len(s) > 0 {
				t.Errorf("snapshots were made: %v", s)
			}
		})
	}
}

// TestExposureFindsOpenSAS: a snapshot of a target disk in the source subscription with an active SAS
// (the attacker's copy) is reported, and so is a target disk with one; nothing once the SAS end.
func TestExposureFindsOpenSAS(t *testing.T) {
	sc := scenario(t)
	const attackerClient, attackerSecret = "0c0c0c0c-0000-4000-8000-00000000000c", "attacker-secret-value"
	sc.Tenants[0].Principals = append(sc.Tenants[0].Principals, azuresim.ScenarioPrincipal{Name: "attacker", ClientID: attackerClient, ClientSecret: attackerSecret})
	sc.Subscriptions[0].RoleAssignments = append(sc.Subscriptions[0].RoleAssignments, azuresim.ScenarioRoleAssignment{Principal: "attacker", Role: "Owner"})
	_, d, rc := startSim(t, sc, nil)
	f, err := armcompute.NewClientFactory(sourceSub, rc.credential(t, attackerClient, attackerSecret), d.arm[driver.Source])
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	snaps := f.NewSnapshotsClient()
	p, err := snaps.BeginCreateOrUpdate(ctx, rgWeb, "exfil", armcompute.Snapshot{Location: to.Ptr(region), Properties: &armcompute.SnapshotProperties{
		CreationData: &armcompute.CreationData{CreateOption: to.Ptr(armcompute.DiskCreateOptionCopy), SourceResourceID: to.Ptr(diskID("disk-1"))}}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := wait(ctx, d, p); err != nil {
		t.Fatal(err)
	}
	g, err := snaps.BeginGrantAccess(ctx, rgWeb, "exfil", armcompute.GrantAccessData{Access: to.Ptr(armcompute.AccessLevelRead), DurationInSeconds: to.Ptr[int32](3600)}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := wait(ctx, d, g); err != nil {
		t.Fatal(err)
	}
	// And the disk itself, unattached, read directly.
	dg, err := f.NewDisksClient().BeginGrantAccess(ctx, rgWeb, "disk-2", armcompute.GrantAccessData{Access: to.Ptr(armcompute.AccessLevelRead), DurationInSeconds: to.Ptr[int32](3600)}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := wait(ctx, d, dg); err != nil {
		t.Fatal(err)
	}
	vols := []driver.Volume{{ID: diskID("disk-1"), Location: region}, {ID: diskID("disk-2"), Location: region}, {ID: diskID("vm-2-os"), Location: region}}
	all, err := d.Exposure(ctx, vols)
	if err != nil {
		t.Fatal(err)
	}
	findings := activeSAS(all)
	if len(findings) != 2 || findings[0].Resource != diskID("disk-2") || findings[0].VolumeID != diskID("disk-2") ||
		!strings.HasSuffix(findings[1].Resource, "/snapshots/exfil") || findings[1].VolumeID != diskID("disk-1") || !strings.Contains(findings[1].Detail, "internet") {
		t.Fatalf("findings %+v, want the open SAS on disk-2 and on snapshot exfil of disk-1", findings)
	}
	dr, err := f.NewDisksClient().BeginRevokeAccess(ctx, rgWeb, "disk-2", nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := wait(ctx, d, dr); err != nil {
		t.Fatal(err)
	}
	r, err := snaps.BeginRevokeAccess(ctx, rgWeb, "exfil", nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := wait(ctx, d, r); err != nil {
		t.Fatal(err)
	}
	if all, err = d.Exposure(ctx, vols); err != nil || len(activeSAS(all)) != 0 {
		t.Fatalf("after endGetAccess: %+v %v, want no active SAS", all, err)
	}
}

// activeSAS are the findings of an active SAS; the fixture's disks also allow export from anywhere.
func activeSAS(all []driver.Finding) []driver.Finding {
	var out []driver.Finding
	for _, f := range all {
		if strings.Contains(f.Detail, "active SAS") {
			out = append(out, f)
		}
	}
	return out
}

// TestExposureFindsOpenNetwork: a target disk, or a source snapshot of one, that allows export from
// anywhere (networkAccessPolicy AllowAll, public network access enabled) is an open-access finding;
// one limited to private endpoints, or denying export, is not.
func TestExposureFindsOpenNetwork(t *testing.T) {
	sc := scenario(t)
	const attackerClient, attackerSecret = "0c0c0c0c-0000-4000-8000-00000000000c", "attacker-secret-value"
	sc.Tenants[0].Principals = append(sc.Tenants[0].Principals, azuresim.ScenarioPrincipal{Name: "attacker", ClientID: attackerClient, ClientSecret: attackerSecret})
	sc.Subscriptions[0].RoleAssignments = append(sc.Subscriptions[0].RoleAssignments, azuresim.ScenarioRoleAssignment{Principal: "attacker", Role: "Owner"})
	disks := sc.Subscriptions[0].ResourceGroups[0].Disks
	for i := range disks {
		switch disks[i].Name {
		case "disk-1":
			disks[i].NetworkAccessPolicy = "AllowAll"
		case "disk-2":
			disks[i].NetworkAccessPolicy = "AllowPrivate"
		default:
			disks[i].NetworkAccessPolicy = "DenyAll"
		}
	}
	_, d, rc := startSim(t, sc, nil)
	ctx := context.Background()
	vols := []driver.Volume{{ID: diskID("disk-1"), Location: region}, {ID: diskID("disk-2"), Location: region}, {ID: diskID("vm-2-os"), Location: region}}
	findings, err := d.Exposure(ctx, vols)
	if err != nil {
		t.Fatal(err)
	}
	if len(findings) != 1 || findings[0].Kind != "open-access" || findings[0].Resource != diskID("disk-1") || !strings.Contains(findings[0].Detail, "AllowAll") {
		t.Fatalf("findings %+v, want disk-1 alone, open to export from anywhere", findings)
	}
	// A snapshot of a closed disk, made open to the internet, is found too.
	f, err := armcompute.NewClientFactory(sourceSub, rc.credential(t, attackerClient, attackerSecret), d.arm[driver.Source])
	if err != nil {
		t.Fatal(err)
	}
	p, err := f.NewSnapshotsClient().BeginCreateOrUpdate(ctx, rgWeb, "open-copy", armcompute.Snapshot{Location: to.Ptr(region), Properties: &armcompute.SnapshotProperties{
		NetworkAccessPolicy: to.Ptr(armcompute.NetworkAccessPolicyAllowAll),
		CreationData:        &armcompute.CreationData{CreateOption: to.Ptr(armcompute.DiskCreateOptionCopy), SourceResourceID: to.Ptr(diskID("vm-2-os"))}}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := wait(ctx, d, p); err != nil {
		t.Fatal(err)
	}
	if findings, err = d.Exposure(ctx, vols); err != nil || len(findings) != 2 || !strings.HasSuffix(findings[1].Resource, "/snapshots/open-copy") || findings[1].VolumeID != diskID("vm-2-os") {
		t.Fatalf("findings %+v %v, want disk-1 and the open snapshot of vm-2-os", findings, err)
	}
}

// sasRecorder notes the signature of every SAS a run's blob requests carry.
type sasRecorder struct {
	next http.RoundTripper
	mu   sync.Mutex
	sigs map[string]bool
}

func (r *sasRecorder) RoundTrip(req *http.Request) (*http.Response, error) {
	if sig := req.URL.Query().Get("sig"); sig != "" {
		r.mu.Lock()
		r.sigs[sig] = true
		r.mu.Unlock()
	}
	return r.next.RoundTrip(req)
}

// TestNoSecretsAnywhere runs acquisitions with a debug log, wrong bytes, lost replies and server
// errors on the blob reads, and a denied permission, then scans every file of the cases, the log, the
// errors and the results for the SAS tokens the run used and for the client secrets.
func TestNoSecretsAnywhere(t *testing.T) {
	var logs bytes.Buffer
	var logMu sync.Mutex
	logger := slog.New(slog.NewTextHandler(lockedWriter{&logs, &logMu}, &slog.HandlerOptions{Level: slog.LevelDebug}))
	rec := &sasRecorder{sigs: map[string]bool{}}
	sc := scenario(t)
	sc.Faults = azuresim.Faults{Seed: 3, Rules: []azuresim.FaultRule{
		{Kind: azuresim.FaultWrongBytes, Operations: []string{"Blob_Download"}, Rate: 0.3},
		{Kind: azuresim.FaultLostReply, Operations: []string{"Blob_Download"}, Max: 2},
		{Kind: azuresim.FaultServerError, Operations: []string{"PageBlob_GetPageRanges"}, Max: 1},
	}}
	sim, d, _ := startSim(t, sc, func(c *Config) {
		c.Logger = logger
		rec.next = c.HTTPClient.Transport
		c.HTTPClient = &http.Client{Transport: rec}
	})
	_, denied, _ := startSim(t, denyScenario(t, linkedBeginGetAccess.Action), func(c *Config) { c.Logger = logger })
	var outputs []string
	var dirs []string
	for _, drv := range []driver.Driver{d, denied} {
		env := harness{}.envFor(drv.(*Driver), sim)
		c := providertest.NewCase(t)
		res, err := providertest.Acquire(context.Background(), t, env, c, env.Scenarios["two-volume-instance"], func(o *acquisition.Options) { o.Logger = logger })
		if err != nil {
			outputs = append(outputs, err.Error())
		}
		if res != nil {
			outputs = append(outputs, fmt.Sprintf("%+v", *res))
		}
		dirs = append(dirs, c.Dir)
	}
	if len(rec.sigs) == 0 {
		t.Fatal("no SAS was used: the scan would prove nothing")
	}
	secrets := []string{responderSecret, collectorSecret}
	for sig := range rec.sigs {
		secrets = append(secrets, sig, url.QueryEscape(sig))
	}
	check := func(where string, data []byte) {
		for _, s := range secrets {
			if bytes.Contains(data, []byte(s)) {
				t.Errorf("%s holds a secret (%.6s...)", where, s)
			}
		}
		if bytes.Contains(data, []byte("sig=")) {
			t.Errorf("%s holds a SAS signature parameter", where)
		}
	}
	for _, dir := range dirs {
		_ = filepath.WalkDir(dir, func(p string, de os.DirEntry, err error) error {
			if err != nil || de.IsDir() {
				return err
			}
			data, _ := os.ReadFile(p)
			check(p, data)
			return nil
		})
	}
	logMu.Lock()
	check("the log", logs.Bytes())
	logMu.Unlock()
	check("the errors and results", []byte(strings.Join(outputs, "\n")))
}

type lockedWriter struct {
	w  *bytes.Buffer
	mu *sync.Mutex
}

func (l lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// TestIntegrityRetriesRecorded: blocks whose content did not match their Content-MD5 were read again,
// and the evidence says how many and which.
func TestIntegrityRetriesRecorded(t *testing.T) {
	env := (harness{faults: azuresim.Faults{Seed: 5, Rules: []azuresim.FaultRule{{Kind: azuresim.FaultWrongBytes, Operations: []string{"Blob_Download"}, Max: 2}}}}).New(t)
	sc := env.Scenarios["single-volume"]
	c := providertest.NewCase(t)
	res, err := providertest.Acquire(context.Background(), t, env, c, sc, nil)
	if err != nil {
		t.Fatal(err)
	}
	providertest.CheckEndState(t, env, c, sc, res)
	it := providertest.RecordedEvidence(t, c.Dir)[sc.Volumes[0]]
	if it.Digest == nil || it.Digest.IntegrityRetries != 2 || len(it.Digest.RetriedBlocks) != 2 {
		t.Fatalf("the evidence records %+v, want two integrity retries", it.Digest)
	}
}

// TestLockRecordsItsLimits: the CanNotDelete lock is on the evidence, and its record says who can
// remove it.
func TestLockRecordsItsLimits(t *testing.T) {
	env := (harness{}).New(t)
	sc := env.Scenarios["single-volume"]
	c := providertest.NewCase(t)
	res, err := providertest.Acquire(context.Background(), t, env, c, sc, func(o *acquisition.Options) { o.Lock = &driver.LockRequest{Mode: "CanNotDelete"} })
	if err != nil {
		t.Fatal(err)
	}
	providertest.CheckEndState(t, env, c, sc, res)
	if len(res.Volumes) != 1 || !strings.Contains(res.Volumes[0].Locked, "locks/*") {
		t.Fatalf("lock result %+v, want it to say who can remove the lock", res.Volumes)
	}
	for _, s := range env.Inspect.Snapshots(driver.Forensic) {
		if !s.Locked {
			t.Errorf("snapshot %s is not locked", s.ID)
		}
	}
}

// TestLockLostReply: the lock's answer lost once, the SDK tries the PUT again, which replaces the same
// lock: the evidence is locked once.
func TestLockLostReply(t *testing.T) {
	env := (harness{}).New(t)
	env.Faults.LoseReplies("ManagementLocks_CreateOrUpdate", 1)
	sc := env.Scenarios["single-volume"]
	c := providertest.NewCase(t)
	res, err := providertest.Acquire(context.Background(), t, env, c, sc, func(o *acquisition.Options) { o.Lock = &driver.LockRequest{Mode: "CanNotDelete"} })
	if err != nil {
		t.Fatal(err)
	}
	providertest.CheckEndState(t, env, c, sc, res)
	if n := env.Faults.Calls()["ManagementLocks_CreateOrUpdate"]; n < 2 {
		t.Errorf("%d lock calls: the lost reply was not tried again", n)
	}
	if locks := env.Inspect.(inspector).sim.Locks(); len(locks) != 1 {
		t.Errorf("locks %+v, want one", locks)
	}
}

// TestMissingDataActionNamed: evidence of a disk whose dataAccessAuthMode is AzureActiveDirectory is
// read with a bearer token that needs the data action snapshots/download/action; a forensic principal
// without it is refused before anything is made, the data action named. A disk without that mode
// does not need it.
func TestMissingDataActionNamed(t *testing.T) {
	deny := func(t *testing.T) *azuresim.Scenario {
		sc := scenario(t)
		for i := range sc.Roles {
			sc.Roles[i].DataActions = nil
		}
		return sc
	}
	t.Run("acquisition", func(t *testing.T) {
		sim, d, _ := startSim(t, deny(t), nil)
		env := harness{}.envFor(d, sim)
		c := providertest.NewCase(t)
		_, err := providertest.Acquire(context.Background(), t, env, c, env.Scenarios["aad-data-access"], nil)
		if driver.CodeOf(err) != driver.CodePermissionDenied || !strings.Contains(err.Error(), snapshotDownload) || !strings.Contains(err.Error(), "aad-only") {
			t.Fatalf("error %v: want permission-denied naming %s and the disk", err, snapshotDownload)
		}
		if s := env.Inspect.Snapshots(driver.Forensic); len(s) > 0 {
			t.Errorf("snapshots were made: %v", s)
		}
	})
	t.Run("preflight without describe", func(t *testing.T) {
		_, d, _ := startSim(t, deny(t), nil)
		p := driver.Preflight{Volumes: []driver.Volume{{ID: diskID("aad-only"), Location: region}}, Destination: driver.Destination{Account: forensicSub, Location: region, Key: forensicDES}}
		if err := d.Preflight(context.Background(), p); driver.CodeOf(err) != driver.CodePermissionDenied || !strings.Contains(err.Error(), snapshotDownload) {
			t.Fatalf("error %v: want permission-denied naming %s", err, snapshotDownload)
		}
		p.Volumes = []driver.Volume{{ID: diskID("disk-1"), Location: region}}
		if err := d.Preflight(context.Background(), p); err != nil {
			t.Fatalf("a disk without Entra ID data access: %v", err)
		}
	})
}
