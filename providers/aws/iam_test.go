package aws

import (
	"context"
	"slices"
	"testing"

	"github.com/acquire-forensics/acquire/providers"
	"github.com/acquire-forensics/acquire/providers/aws/awssim"
	"github.com/acquire-forensics/acquire/providers/providertest"
)

// leastPrivilege is the fixture with each side's principal allowed exactly the actions the published
// policy grants.
func leastPrivilege(t *testing.T) *awssim.Scenario {
	sc := scenario(t)
	sc.Accounts[0].Users[0].Allow = Permissions(providers.Source)
	sc.Accounts[1].Users[0].Allow = Permissions(providers.Forensic)
	return sc
}

// TestPoliciesAreSufficient acquires every kind of volume, with a lock, under principals limited to
// the policies `acquire iam aws` prints.
func TestPoliciesAreSufficient(t *testing.T) {
	for _, name := range []string{"default-key", "customer-key", "two-volume-instance", "cross-region"} {
		t.Run(name, func(t *testing.T) {
			sim, d, _ := startSim(t, leastPrivilege(t), nil)
			env := harness{}.envFor(d, sim)
			sc := env.Scenarios[name]
			c := providertest.NewCase(t)
			res, err := providertest.Acquire(context.Background(), t, env, c, sc, func(o *providers.Options) {
				o.Lock = &providers.LockRequest{Mode: "governance", Days: 1}
			})
			if err != nil {
				t.Fatalf("under the published policies: %v", err)
			}
			providertest.CheckEndState(t, env, c, sc, res)
		})
	}
}

// TestPoliciesCoverEveryCall checks the published policies against the calls the driver actually
// makes, as the simulator counted them: every call is allowed by one of them.
func TestPoliciesCoverEveryCall(t *testing.T) {
	sim, d, _ := startSim(t, scenario(t), nil)
	env := harness{}.envFor(d, sim)
	for _, name := range []string{"default-key", "customer-key", "two-volume-instance"} {
		c := providertest.NewCase(t)
		if _, err := providertest.Acquire(context.Background(), t, env, c, env.Scenarios[name], func(o *providers.Options) {
			o.Lock = &providers.LockRequest{Mode: "governance", Days: 1}
		}); err != nil {
			t.Fatal(err)
		}
	}
	allowed := append(Permissions(providers.Source), Permissions(providers.Forensic)...)
	for action := range sim.CallCounts() {
		if !slices.Contains(allowed, action) {
			t.Errorf("the driver calls %s, which neither policy grants", action)
		}
	}
}

// TestExposureFinding: a snapshot of a target volume that another account may use (the attacker's) is
// reported as a finding and recorded in the case.
func TestExposureFinding(t *testing.T) {
	env := (harness{}).New(t)
	d := env.Driver.(*Driver)
	// An existing snapshot of the volume, shared with an outside account before the acquisition.
	snaps, err := d.CreateSnapshots(context.Background(), providers.SnapshotRequest{Region: region, Volume: &providers.Volume{ID: "vol-00000000000000001"}, Tags: providers.Tags{"Name": "old backup"}})
	if err != nil {
		t.Fatal(err)
	}
	shared := snaps[0]
	for _, account := range []string{forensicAccount, "999988887777"} { // the forensic account's is no finding; the other's is
		if err := d.shareOp(context.Background(), shared, "add", account); err != nil {
			t.Fatal(err)
		}
	}
	c := providertest.NewCase(t)
	res, err := providertest.Acquire(context.Background(), t, env, c, env.Scenarios["unencrypted"], nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Findings) != 1 || res.Findings[0].Snapshot != shared.ID || !slices.Equal(res.Findings[0].Accounts, []string{"999988887777"}) {
		t.Fatalf("findings %+v, want the snapshot shared with 999988887777", res.Findings)
	}
}
