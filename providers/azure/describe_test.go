package azure

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/acquire-forensics/acquire/providers/azure/azuresim"
	"github.com/acquire-forensics/acquire/providers/driver"
	"github.com/acquire-forensics/acquire/providers/providertest"
)

// TestUnmanagedDataDiskIsAFinding: a VM's unmanaged (VHD) data disk, which no managed snapshot can
// copy, is left out of the volumes and told as a finding, with its blob's URI without the query; a
// driver that did not describe the VM (a resumed run) tells it too, and so does a whole acquisition.
func TestUnmanagedDataDiskIsAFinding(t *testing.T) {
	sc := scenario(t)
	vms := sc.Subscriptions[0].ResourceGroups[0].VirtualMachines
	const blob = "https://stlegacy.blob.core.windows.net/vhds/legacy-data.vhd"
	vms[0].DataDisks = append(vms[0].DataDisks, azuresim.ScenarioDataDisk{Disk: "legacy-data", LUN: 3, VHD: blob + "?sv=2018-03-28&sig=c2VjcmV0"})
	sim, d, _ := startSim(t, sc, nil)
	ctx := context.Background()
	ws, err := d.Describe(ctx, driver.Target{Workloads: []string{vmID("vm-1")}})
	if err != nil {
		t.Fatal(err)
	}
	if len(ws) != 1 || len(ws[0].Volumes) != 2 {
		t.Fatalf("described %+v, want vm-1 with its two managed disks", ws)
	}
	check := func(where string, findings []driver.Finding) {
		t.Helper()
		var found []driver.Finding
		for _, f := range findings {
			if f.Kind == "not-acquired" {
				found = append(found, f)
			}
		}
		if len(found) != 1 || found[0].Resource != vmID("vm-1") || found[0].VolumeID != blob ||
			!strings.Contains(found[0].Detail, "legacy-data at lun 3") || strings.Contains(found[0].Detail, "sig=") {
			t.Fatalf("%s: findings %+v, want the unmanaged disk of vm-1, its URI without the query", where, findings)
		}
	}
	f, err := d.Exposure(ctx, ws[0].Volumes)
	if err != nil {
		t.Fatal(err)
	}
	check("after Describe", f)

	_, fresh, _ := startSim(t, sc, nil)
	if f, err = fresh.Exposure(ctx, ws[0].Volumes); err != nil {
		t.Fatal(err)
	}
	check("without Describe", f)

	env := harness{}.envFor(d, sim)
	res, err := providertest.Acquire(ctx, t, env, providertest.NewCase(t), env.Scenarios["two-volume-instance"], nil)
	if err != nil {
		t.Fatal(err)
	}
	check("the acquisition", res.Findings)
}

// TestUserDataStoredOnce: a VM's user data is its own artifact, decoded, and not inside vm.json too.
func TestUserDataStoredOnce(t *testing.T) {
	_, d, _ := startSim(t, scenario(t), nil)
	ws, err := d.Describe(context.Background(), driver.Target{Workloads: []string{vmID("vm-1")}})
	if err != nil {
		t.Fatal(err)
	}
	arts := map[string][]byte{}
	for _, a := range ws[0].Artifacts {
		arts[a.Name] = a.Data
	}
	if got := string(arts["azure/rg-web/vm-1/user-data"]); got != "#!/bin/sh\necho hi\n" {
		t.Fatalf("user-data artifact %q, want the decoded user data", got)
	}
	vm := arts["azure/rg-web/vm-1/vm.json"]
	var doc struct {
		Name       string         `json:"name"`
		Properties map[string]any `json:"properties"`
	}
	if err := json.Unmarshal(vm, &doc); err != nil || doc.Name != "vm-1" || doc.Properties["storageProfile"] == nil {
		t.Fatalf("vm.json %s: %v, want the VM", vm, err)
	}
	if _, ok := doc.Properties["userData"]; ok || bytes.Contains(vm, []byte("echo hi")) {
		t.Errorf("vm.json holds the user data too: %s", vm)
	}
}
