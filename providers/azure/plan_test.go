package azure

import (
	"context"
	"strings"
	"testing"

	"github.com/acquire-forensics/acquire/providers/driver"
	"github.com/acquire-forensics/acquire/providers/providertest"
)

// TestDenyAllRefusedAtPlan: a disk whose networkAccessPolicy is DenyAll, whose evidence could be made
// but never read, is refused before anything is made, with what to do; so is it when the preflight
// runs in a driver that did not describe it (a resumed run).
func TestDenyAllRefusedAtPlan(t *testing.T) {
	sc := scenario(t)
	disks := sc.Subscriptions[0].ResourceGroups[0].Disks
	for i := range disks {
		if disks[i].Name == "vm-1-data" {
			disks[i].NetworkAccessPolicy = "DenyAll"
		}
	}
	sim, d, _ := startSim(t, sc, nil)
	env := harness{}.envFor(d, sim)
	c := providertest.NewCase(t)
	_, err := providertest.Acquire(context.Background(), t, env, c, env.Scenarios["two-volume-instance"], nil)
	if driver.CodeOf(err) != driver.CodeInvalid || !strings.Contains(err.Error(), diskID("vm-1-data")+" has networkAccessPolicy DenyAll") ||
		!strings.Contains(err.Error(), "az disk update --network-access-policy") || strings.Contains(err.Error(), diskID("vm-1-os")) {
		t.Fatalf("error %v: want vm-1-data alone refused as invalid, with what to do", err)
	}
	if s := env.Inspect.Snapshots(driver.Forensic); len(s) > 0 {
		t.Errorf("snapshots were made: %v", s)
	}

	_, fresh, _ := startSim(t, sc, nil)
	err = fresh.Preflight(context.Background(), driver.Preflight{Volumes: []driver.Volume{{ID: diskID("vm-1-data"), Location: region}},
		Destination: env.Destination})
	if driver.CodeOf(err) != driver.CodeInvalid || !strings.Contains(err.Error(), "DenyAll") {
		t.Fatalf("the preflight of a disk not described: %v, want it refused", err)
	}
}
