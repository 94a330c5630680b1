package gcpsim

import (
	"net/http"
	"strings"
	"testing"

	"cloud.google.com/go/compute/apiv1/computepb"
	"google.golang.org/protobuf/proto"
)

// The fleet scenario holds 50 VMs of two disks with synthetic content.
func TestFleetScenario(t *testing.T) {
	sc, err := LoadScenario("../../../testdata/scenarios/gcp-fleet.json")
	if err != nil {
		t.Fatal(err)
	}
	s, err := New(sc, &Options{DisableWorkers: true})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ins := s.Instances("acme-fleet-prod")
	disks := s.Disks("acme-fleet-prod")
	if len(ins) != 50 || len(disks) != 100 {
		t.Fatalf("%d instances, %d disks", len(ins), len(disks))
	}
	digests := map[string]bool{}
	for _, d := range disks {
		if len(d.Users) != 1 {
			t.Errorf("disk %s used by %v", d.Name, d.Users)
		}
		digests[d.ContentDigest] = true
	}
	if len(digests) != 100 {
		t.Errorf("%d distinct contents among 100 disks", len(digests))
	}
}

// Bad scenarios are refused with the reason.
func TestScenarioRefusals(t *testing.T) {
	for _, tc := range []struct {
		edit func(*Scenario)
		want string
	}{
		{func(sc *Scenario) { sc.Projects[0].ID = "Bad_Project" }, "the ID must be"},
		{func(sc *Scenario) { sc.Projects[1].Number = 111111111111 }, "also project"},
		{func(sc *Scenario) { sc.Projects[1].ServiceAccounts[0].Email = "x@elsewhere.iam.gserviceaccount.com" }, "NAME@acme-forensics"},
		{func(sc *Scenario) { sc.Projects[1].IAM[0].Roles = []string{"roles/compute.everything"} }, "is not simulated"},
		{func(sc *Scenario) { sc.Projects[0].Disks[0].Labels = map[string]string{"Bad": "x"} }, "Label key"},
		{func(sc *Scenario) { sc.Projects[0].Instances[0].Disks[0].Disk = "nope" }, "is not a disk"},
	} {
		sc := testScenario()
		tc.edit(sc)
		if _, err := New(sc, nil); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("want %q, got %v", tc.want, err)
		}
	}
	if _, err := ParseScenario([]byte(`{"projects": [], "colour": "red"}`), "."); err == nil {
		t.Error("an unknown field was accepted")
	}
}

// guestFlush runs an agent in the guest: counted on the instance, so a
// test can prove a driver never asks for it.
func TestGuestFlushIsCounted(t *testing.T) {
	e := startSim(t, testScenario(), nil)
	_, err := e.disks(responder).CreateSnapshot(t.Context(), &computepb.CreateSnapshotDiskRequest{Project: workloadProject, Zone: testZone, Disk: "web-1",
		GuestFlush: proto.Bool(true), SnapshotResource: &computepb.Snapshot{Name: proto.String("flushed")}})
	if err != nil {
		t.Fatal(err)
	}
	if in := e.sim.Instances(workloadProject); in[0].GuestFlushes != 1 {
		t.Errorf("guest flushes %d", in[0].GuestFlushes)
	}
	// A disk no instance uses cannot be flushed.
	e.sim.mu.Lock()
	e.sim.st.disks[key(workloadProject, testZone, "web-1-data")].pb.Users = nil
	e.sim.mu.Unlock()
	_, err = e.disks(responder).CreateSnapshot(t.Context(), &computepb.CreateSnapshotDiskRequest{Project: workloadProject, Zone: testZone, Disk: "web-1-data",
		GuestFlush: proto.Bool(true), SnapshotResource: &computepb.Snapshot{Name: proto.String("flushed-2")}})
	wantAPIError(t, err, http.StatusBadRequest, "invalid")
}
