package azuresim

import "fmt"

// FleetScenario is n VMs of two 1 GiB disks each in one workload
// subscription, with synthetic content of 2 to 8 chunks per disk (one disk in
// ten 20 to 40), and a forensic subscription in the same tenant:
// testdata/scenarios/azure-fleet.json, for rehearsals and benchmarks.
func FleetScenario(n int) *Scenario {
	const (
		tenantID = "9e8d7c6b-5a49-4382-9170-6f5e4d3c2b1a"
		workload = "9e8d7c6b-0000-4000-8000-000000000001"
		forensic = "9e8d7c6b-0000-4000-8000-000000000002"
	)
	g := ScenarioResourceGroup{Name: "rg-fleet", Location: "westeurope"}
	for i := range n {
		vm := ScenarioVM{Name: fmt.Sprintf("vm-%03d", i+1), NICs: []string{fmt.Sprintf("vm-%03d-nic", i+1)}}
		g.NetworkInterfaces = append(g.NetworkInterfaces, ScenarioNIC{Name: vm.NICs[0], PrivateIPAddress: fmt.Sprintf("10.1.%d.%d", i/250, i%250+4)})
		for j := range 2 {
			k := 2*i + j
			count := 2 + (k*7)%7
			if k%10 == 3 {
				count = 20 + (k*3)%21
			}
			chunks := make([]int64, count)
			for c := range chunks {
				chunks[c] = int64(c * 37)
			}
			name := fmt.Sprintf("%s-disk%d", vm.Name, j)
			d := ScenarioDisk{Name: name, SizeGiB: 1, Synthetic: &SyntheticContent{Chunks: chunks, Seed: uint64(k + 1)}}
			if j == 0 {
				d.OSType = "Linux"
				vm.OSDisk = name
			} else {
				vm.DataDisks = []ScenarioDataDisk{{Disk: name, LUN: 0}}
			}
			g.Disks = append(g.Disks, d)
		}
		g.VirtualMachines = append(g.VirtualMachines, vm)
	}
	return &Scenario{
		Seed: 1, SnapshotBytesPerSecond: 1 << 20,
		Tenants: []ScenarioTenant{{ID: tenantID, Name: "fleet", Principals: []ScenarioPrincipal{
			{Name: "responder", ClientID: "9e8d7c6b-1111-4111-8111-000000000001", ClientSecret: "fleet-responder-secret"}}}},
		Subscriptions: []ScenarioSubscription{
			{ID: workload, Name: "workload", Tenant: tenantID, RoleAssignments: []ScenarioRoleAssignment{{Principal: "responder", Role: "Contributor"}},
				ResourceGroups: []ScenarioResourceGroup{g}},
			{ID: forensic, Name: "forensics", Tenant: tenantID,
				RoleAssignments: []ScenarioRoleAssignment{{Principal: "responder", Role: "Disk Snapshot Contributor"}, {Principal: "responder", Role: "Reader"}},
				ResourceGroups:  []ScenarioResourceGroup{{Name: "rg-evidence", Location: "westeurope"}}},
		},
	}
}
