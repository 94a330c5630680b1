package gcp

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/acquire-forensics/acquire/custody"
	"github.com/acquire-forensics/acquire/providers/acquisition"
	"github.com/acquire-forensics/acquire/providers/driver"
	"github.com/acquire-forensics/acquire/providers/gcp/gcpsim"
	"github.com/acquire-forensics/acquire/providers/providertest"
)

// envWith is the suite's environment on a simulator of another scenario.
func envWith(t *testing.T, sc *gcpsim.Scenario, tune func(*Config)) (*providertest.Env, simEnv) {
	t.Helper()
	e := startSim(t, sc)
	cfg := testConfig(e.url, e.keyFile)
	if tune != nil {
		tune(&cfg)
	}
	return harness{}.envFor(newDriver(t, cfg), e.sim), e
}

// leastPrivilege is the fixture with the responder holding exactly the permissions `acquire iam gcp`
// lists for each side, minus one.
func leastPrivilege(t *testing.T, missing string) *gcpsim.Scenario {
	sc := scenario(t)
	for i, side := range []driver.Side{driver.Source, driver.Forensic} {
		var allow []string
		for _, p := range Permissions(side) {
			if p != missing {
				allow = append(allow, p)
			}
		}
		sc.Projects[i].IAM = []gcpsim.ScenarioBinding{{Member: "serviceAccount:" + responder, Permissions: allow}}
	}
	return sc
}

// TestLeastPrivilege: the permissions `acquire iam gcp` lists are enough for every kind of target.
func TestLeastPrivilege(t *testing.T) {
	for _, name := range []string{"two-volume-instance", "single-volume", "crash-consistent"} {
		env, _ := envWith(t, leastPrivilege(t, ""), nil)
		sc := env.Scenarios[name]
		tune := func(*acquisition.Options) {}
		if name == "crash-consistent" {
			sc, tune = env.Scenarios["two-volume-instance"], crash
		}
		c := providertest.NewCase(t)
		res, err := providertest.Acquire(context.Background(), t, env, c, sc, tune)
		if err != nil {
			t.Fatalf("%s with the listed permissions: %v", name, err)
		}
		providertest.CheckEndState(t, env, c, sc, res)
	}
}

// TestAccessDeniedIsClear: a permission missing on either side ends the acquisition with
// permission-denied naming it, makes nothing, and the failure is in the case, which verifies.
func TestAccessDeniedIsClear(t *testing.T) {
	for _, missing := range []string{"compute.disks.createSnapshot", "compute.snapshots.create", "compute.instances.get", "compute.projects.get"} {
		t.Run(missing, func(t *testing.T) {
			env, _ := envWith(t, leastPrivilege(t, missing), nil)
			c := providertest.NewCase(t)
			_, err := providertest.Acquire(context.Background(), t, env, c, env.Scenarios["two-volume-instance"], nil)
			if driver.CodeOf(err) != driver.CodePermissionDenied || !strings.Contains(err.Error(), missing) {
				t.Fatalf("error %v: want permission-denied naming %s", err, missing)
			}
			if s := env.Inspect.Snapshots(driver.Forensic); len(s) > 0 {
				t.Errorf("snapshots were made: %v", s)
			}
			verifies(t, c)
			if !failureRecorded(t, c.Dir, "permission-denied", missing) {
				t.Error("no failed record names the missing permission")
			}
		})
	}
}

func verifies(t *testing.T, c *providertest.Case) {
	t.Helper()
	r, err := custody.Verify(context.Background(), c.Dir, custody.VerifyOptions{Verifier: c.Verifier})
	if err != nil || !r.OK() {
		t.Fatalf("the case does not verify: %v %v", err, r.Problems)
	}
}

func failureRecorded(t *testing.T, dir, code, text string) bool {
	recs, err := custody.ReadRecords(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range recs {
		res := r.Statement.Predicate.Result
		if res.Status != custody.StatusOK && res.Code == code && strings.Contains(res.Message, text) {
			return true
		}
	}
	return false
}

// TestOrgPolicyNamed: the forensic project's storage-resource-use constraint refuses the source
// project's disks; the error names the constraint and what to ask for, as permission-denied.
func TestOrgPolicyNamed(t *testing.T) {
	sc := scenario(t)
	sc.Projects[1].OrgPolicy = &gcpsim.ScenarioOrgPolicy{StorageResourceUseRestrictions: &gcpsim.AllowedProjects{AllowedProjects: []string{"another-project"}}}
	env, _ := envWith(t, sc, nil)
	c := providertest.NewCase(t)
	_, err := providertest.Acquire(context.Background(), t, env, c, env.Scenarios["single-volume"], nil)
	if driver.CodeOf(err) != driver.CodePermissionDenied || !strings.Contains(err.Error(), storageConstraint) ||
		!strings.Contains(err.Error(), "projects/"+srcProject) {
		t.Fatalf("error %v: want permission-denied naming %s and the project to allow", err, storageConstraint)
	}
	verifies(t, c)
}

// TestFaultsStillComplete: throttling, server errors and latency on every call, and lost replies of
// the creates, still end in the end state of a clean run.
func TestFaultsStillComplete(t *testing.T) {
	h := harness{faults: gcpsim.Faults{Seed: 7, Latency: gcpsim.Duration(time.Millisecond), Rules: []gcpsim.FaultRule{
		{Kind: gcpsim.FaultLostReply, Methods: []string{"compute.snapshots.insert"}, Rate: 0.3},
		{Kind: gcpsim.FaultRateLimit, Rate: 0.2},
		{Kind: gcpsim.FaultServerError, Rate: 0.05},
		{Kind: gcpsim.FaultServerError, Status: 503, Rate: 0.05},
	}}}
	for _, name := range []string{"two-instances", "single-volume"} {
		t.Run(name, func(t *testing.T) {
			env := h.New(t)
			sc := env.Scenarios[name]
			c := providertest.NewCase(t)
			res, err := providertest.Acquire(context.Background(), t, env, c, sc, nil)
			if err != nil {
				t.Fatalf("acquisition under faults: %v", err)
			}
			if env.Faults.Calls()["compute.instances.getGuestAttributes"] == 0 {
				t.Error("no digest was computed under the faults")
			}
			providertest.CheckEndState(t, env, c, sc, res)
		})
	}
}

// TestBadTargets: unknown and malformed names, and a disk of another project, fail with their codes
// naming them, and make nothing.
func TestBadTargets(t *testing.T) {
	tests := []struct {
		name   string
		target driver.Target
		code   driver.Code
		text   string
	}{
		{"unknown instance", driver.Target{Location: zone, Workloads: []string{"no-such-vm"}}, driver.CodeNotFound, "no-such-vm"},
		{"unknown disk", driver.Target{Location: zone, Volumes: []string{"no-such-disk"}}, driver.CodeNotFound, "no-such-disk"},
		{"malformed instance", driver.Target{Location: zone, Workloads: []string{"Web_1"}}, driver.CodeInvalid, "Web_1"},
		{"another project's disk", driver.Target{Volumes: []string{"projects/other-project/zones/" + zone + "/disks/d"}}, driver.CodeInvalid, "other-project"},
		{"no zone", driver.Target{Volumes: []string{"evidence-1"}}, driver.CodeInvalid, "--zone"},
		{"zone elsewhere", driver.Target{Location: "europe-west1-b", Volumes: []string{"evidence-1"}}, driver.CodeNotFound, "europe-west1-b"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			env, _ := envWith(t, scenario(t), func(c *Config) { c.Zone = "" })
			c := providertest.NewCase(t)
			_, err := providertest.Acquire(context.Background(), t, env, c, providertest.Scenario{Target: tc.target}, nil)
			if driver.CodeOf(err) != tc.code || !strings.Contains(err.Error(), tc.text) {
				t.Fatalf("error %v: want %s naming %s", err, tc.code, tc.text)
			}
			if s := env.Inspect.Snapshots(driver.Forensic); len(s) > 0 {
				t.Errorf("snapshots were made: %v", s)
			}
			verifies(t, c)
		})
	}
}

// TestLockRefusedAtThePlan: GCE has no snapshot lock; --lock is refused before anything is made,
// saying why and what to do instead.
func TestLockRefusedAtThePlan(t *testing.T) {
	env := harness{}.New(t)
	_, err := providertest.Acquire(context.Background(), t, env, providertest.NewCase(t), env.Scenarios["single-volume"], func(o *acquisition.Options) {
		o.Lock = &driver.LockRequest{Mode: "governance", Days: 7}
	})
	if driver.CodeOf(err) != driver.CodeInvalid || !strings.Contains(err.Error(), "no lock") || !strings.Contains(err.Error(), "delete rights") {
		t.Fatalf("error %v: want it refused with the reason and what to do instead", err)
	}
	if s := env.Inspect.Snapshots(driver.Forensic); len(s) > 0 {
		t.Errorf("snapshots were made: %v", s)
	}
}

// TestRecordsNameTheCloud: the identity records carry the service account and the project numbers,
// the snapshot records the operations; the instance's capture holds its metadata keys, not their
// values; the public image of a target disk is a finding.
func TestRecordsNameTheCloud(t *testing.T) {
	env := harness{}.New(t)
	c := providertest.NewCase(t)
	res, err := providertest.Acquire(context.Background(), t, env, c, env.Scenarios["two-volume-instance"], nil)
	if err != nil {
		t.Fatal(err)
	}
	if p := res.Principals[driver.Forensic]; p.ID != responder || p.Account != forensicProject || p.AccountNumber != "222222222222" {
		t.Errorf("forensic principal %+v", p)
	}
	if p := res.Principals[driver.Source]; p.Account != srcProject || p.AccountNumber != "111111111111" {
		t.Errorf("source principal %+v", p)
	}
	all := caseText(t, c.Dir)
	for _, want := range []string{`"accountNumber":"222222222222"`, "operation-", "public-image", "web-golden"} {
		if !strings.Contains(all, want) {
			t.Errorf("the case holds no %q", want)
		}
	}
	inst, err := os.ReadFile(filepath.Join(c.Dir, "artifacts/gcp/web-1/instance.json"))
	if err != nil {
		t.Fatal(err)
	}
	var captured struct {
		Metadata struct {
			Items []map[string]any `json:"items"`
		} `json:"metadata"`
		ServiceAccounts   []any `json:"serviceAccounts"`
		NetworkInterfaces []any `json:"networkInterfaces"`
		Tags              any   `json:"tags"`
	}
	if err := json.Unmarshal(inst, &captured); err != nil {
		t.Fatal(err)
	}
	if len(captured.Metadata.Items) != 2 || len(captured.ServiceAccounts) != 1 || len(captured.NetworkInterfaces) != 1 || captured.Tags == nil {
		t.Errorf("instance capture: %s", inst)
	}
	for _, it := range captured.Metadata.Items {
		if _, ok := it["value"]; ok {
			t.Errorf("metadata %v keeps its value", it["key"])
		}
	}
	if strings.Contains(all, "hunter2-metadata-secret") {
		t.Error("a metadata value is in the case")
	}
}

// caseText is everything a case holds: its files as written, and its records decoded from their
// envelopes.
func caseText(t *testing.T, dir string) string {
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
	_ = filepath.WalkDir(dir, func(p string, de os.DirEntry, err error) error {
		if err != nil || de.IsDir() {
			return err
		}
		data, _ := os.ReadFile(p)
		b.Write(data)
		b.WriteByte('\n')
		return nil
	})
	return b.String()
}

// TestNoSecretsAnywhere runs acquisitions, one refused, with debug logs, and scans every file of the
// cases, the logs and the errors for the key file's private key and for access tokens.
func TestNoSecretsAnywhere(t *testing.T) {
	var logs bytes.Buffer
	logger := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	var dirs []string
	for _, missing := range []string{"", "compute.snapshots.create"} {
		env, e := envWith(t, leastPrivilege(t, missing), func(c *Config) { c.Logger = logger })
		c := providertest.NewCase(t)
		_, err := providertest.Acquire(context.Background(), t, env, c, env.Scenarios["two-volume-instance"], func(o *acquisition.Options) { o.Logger = logger })
		if err != nil {
			logs.WriteString(err.Error())
		}
		dirs = append(dirs, c.Dir)
		key := privateKeyLines(t, e.keyFile)
		for _, dir := range dirs {
			text := caseText(t, dir)
			for _, line := range key {
				if strings.Contains(text, line) {
					t.Errorf("the case %s holds the private key", dir)
				}
			}
			if strings.Contains(text, "ya29.") {
				t.Errorf("the case %s holds an access token", dir)
			}
		}
		for _, line := range key {
			if strings.Contains(logs.String(), line) {
				t.Error("the log holds the private key")
			}
		}
	}
	if strings.Contains(logs.String(), "ya29.") {
		t.Error("the log holds an access token")
	}
	if !strings.Contains(logs.String(), "compute.snapshots.create") {
		t.Error("the log does not hold the refused run's error: the scan proves nothing")
	}
}

// privateKeyLines are the base64 lines of a key file's private key.
func privateKeyLines(t *testing.T, path string) []string {
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var kf struct {
		PrivateKey string `json:"private_key"`
	}
	if err := json.Unmarshal(data, &kf); err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, l := range strings.Split(kf.PrivateKey, "\n") {
		if len(l) > 40 && !strings.HasPrefix(l, "-----") {
			out = append(out, l)
		}
	}
	if len(out) < 10 {
		t.Fatalf("the key file's private key has %d lines", len(out))
	}
	return out
}

// TestImpersonation: with --impersonate-service-account the driver acts as that account through
// generateAccessToken, and says so.
func TestImpersonation(t *testing.T) {
	sc := scenario(t)
	sc.Projects[1].ServiceAccounts[1].TokenCreators = []string{"serviceAccount:" + responder}
	_, e := envWith(t, sc, nil)
	cfg := testConfig(e.url, e.keyFile)
	cfg.ImpersonateServiceAccount = examiner
	d := newDriver(t, cfg)
	p, err := d.Identity(context.Background(), driver.Forensic)
	if err != nil || p.ID != examiner {
		t.Fatalf("identity %+v %v, want the impersonated %s", p, err, examiner)
	}
	if n := e.sim.CallCounts()["iamcredentials.generateAccessToken"]; n == 0 {
		t.Error("no generateAccessToken call")
	}
	cfg.ImpersonateServiceAccount = "not-an-email"
	if _, err := New(context.Background(), cfg); err == nil || !strings.Contains(err.Error(), "not-an-email") {
		t.Errorf("a bad account: %v", err)
	}
}

// TestDiskPermissionsCheckedAtPreflight: a permission missing on the source disks is found by
// disks.testIamPermissions at the preflight and named with the disk, before any snapshot is tried.
func TestDiskPermissionsCheckedAtPreflight(t *testing.T) {
	env, _ := envWith(t, leastPrivilege(t, "compute.disks.createSnapshot"), nil)
	c := providertest.NewCase(t)
	_, err := providertest.Acquire(context.Background(), t, env, c, env.Scenarios["two-volume-instance"], nil)
	if driver.CodeOf(err) != driver.CodePermissionDenied || !strings.Contains(err.Error(), "compute.disks.createSnapshot") ||
		!strings.Contains(err.Error(), vol("web-1")) {
		t.Fatalf("error %v: want permission-denied naming compute.disks.createSnapshot and the disk", err)
	}
	calls := env.Faults.Calls()
	if calls["compute.disks.testIamPermissions"] == 0 {
		t.Error("the permissions were not tested")
	}
	if n := calls["compute.snapshots.insert"]; n > 0 {
		t.Errorf("%d snapshots were tried after the preflight", n)
	}
	verifies(t, c)
}
