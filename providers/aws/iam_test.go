package aws

import (
	"context"
	"slices"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"

	"github.com/acquire-forensics/acquire/providers/acquisition"
	"github.com/acquire-forensics/acquire/providers/aws/awssim"
	"github.com/acquire-forensics/acquire/providers/driver"
	"github.com/acquire-forensics/acquire/providers/providertest"
)

// leastPrivilege is the fixture with each side's principal allowed exactly the actions the published
// policy grants.
func leastPrivilege(t *testing.T) *awssim.Scenario {
	sc := scenario(t)
	sc.Accounts[0].Users[0].Allow = Permissions(driver.Source)
	sc.Accounts[1].Users[0].Allow = Permissions(driver.Forensic)
	return sc
}

// TestPoliciesAreSufficient acquires every kind of volume, with a lock, under principals limited to
// the policies `acquire iam aws` prints.
func TestPoliciesAreSufficient(t *testing.T) {
	for _, name := range []string{"default-key", "customer-key", "two-volume-instance", "cross-location"} {
		t.Run(name, func(t *testing.T) {
			sim, d, _ := startSim(t, leastPrivilege(t), nil)
			env := harness{}.envFor(d, sim)
			sc := env.Scenarios[name]
			c := providertest.NewCase(t)
			res, err := providertest.Acquire(context.Background(), t, env, c, sc, func(o *acquisition.Options) {
				o.Lock = &driver.LockRequest{Mode: "governance", Days: 1}
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
		if _, err := providertest.Acquire(context.Background(), t, env, c, env.Scenarios[name], func(o *acquisition.Options) {
			o.Lock = &driver.LockRequest{Mode: "governance", Days: 1}
		}); err != nil {
			t.Fatal(err)
		}
	}
	allowed := append(Permissions(driver.Source), Permissions(driver.Forensic)...)
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
	made, err := d.CreateSnapshots(context.Background(), driver.SnapshotRequest{Volume: &driver.Volume{ID: "vol-00000000000000001", Location: region}, Labels: driver.Labels{"name": "old backup"}})
	if err != nil {
		t.Fatal(err)
	}
	shared := made.Snapshots[0]
	// The forensic account's share is no finding; the other account's is.
	if _, err := d.side(driver.Source, region).ec2.ModifySnapshotAttribute(context.Background(), &ec2.ModifySnapshotAttributeInput{
		SnapshotId: aws.String(shared.ID), Attribute: ec2types.SnapshotAttributeNameCreateVolumePermission,
		OperationType: ec2types.OperationTypeAdd, UserIds: []string{forensicAccount, "999988887777"},
	}); err != nil {
		t.Fatal(err)
	}
	c := providertest.NewCase(t)
	res, err := providertest.Acquire(context.Background(), t, env, c, env.Scenarios["single-volume"], nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Findings) != 1 || res.Findings[0].Resource != shared.ID || !slices.Equal(res.Findings[0].Accounts, []string{"999988887777"}) {
		t.Fatalf("findings %+v, want the snapshot shared with 999988887777", res.Findings)
	}
}
