package azuresim

import "testing"

// A failOperation rule limited to a source fails the copies of that source only, whatever their order.
func TestFailOperationBySource(t *testing.T) {
	e := newEnv(t, func(sc *Scenario) {
		sc.Faults = Faults{Rules: []FaultRule{{Kind: FaultFailOperation, Operations: []string{"Snapshots_CreateOrUpdate"}, Sources: []string{dataDiskID}}}}
	})
	if _, err := e.copyInto(responderID, "root", rootDiskID); err != nil {
		t.Fatalf("a copy of another disk: %v", err)
	}
	if _, err := e.copyInto(responderID, "data", dataDiskID); err == nil {
		t.Fatal("the copy of the faulted disk succeeded")
	}
	states := map[string]string{}
	for _, s := range e.sim.Snapshots(subForensic) {
		states[s.Name] = s.ProvisioningState
	}
	if states["root"] != "Succeeded" || states["data"] != "Failed" {
		t.Errorf("states %v, want root Succeeded and data Failed", states)
	}
}
