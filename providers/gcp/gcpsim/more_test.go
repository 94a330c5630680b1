package gcpsim

import (
	"bytes"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	compute "cloud.google.com/go/compute/apiv1"
	"cloud.google.com/go/compute/apiv1/computepb"
	"google.golang.org/api/iterator"
	"google.golang.org/api/option"
	"google.golang.org/protobuf/proto"
)

// Crash consistency across disks: a consistency group policy, both disks
// added, an instant snapshot group, then a snapshot per member instant
// snapshot; the members die with their disk.
func TestConsistencyGroup(t *testing.T) {
	sc := testScenario()
	sc.SnapshotBytesPerSecond = -1
	sc.Projects[0].IAM[0].Roles = append(sc.Projects[0].IAM[0].Roles, "roles/compute.instanceAdmin.v1")
	e := startSim(t, sc, nil)
	ctx := t.Context()
	policies := newClient(t, compute.NewResourcePoliciesRESTClient, e.opts(responder))
	op, err := policies.Insert(ctx, &computepb.InsertResourcePolicyRequest{Project: workloadProject, Region: "us-central1",
		ResourcePolicyResource: &computepb.ResourcePolicy{Name: proto.String("ir-42-cg"), DiskConsistencyGroupPolicy: &computepb.ResourcePolicyDiskConsistencyGroupPolicy{}}})
	if err != nil {
		t.Fatal(err)
	}
	if err := op.Wait(ctx); err != nil {
		t.Fatal(err)
	}
	policy := "projects/" + workloadProject + "/regions/us-central1/resourcePolicies/ir-42-cg"
	disks := e.disks(responder)
	for _, d := range []string{"web-1", "web-1-data"} {
		op, err := disks.AddResourcePolicies(ctx, &computepb.AddResourcePoliciesDiskRequest{Project: workloadProject, Zone: testZone, Disk: d,
			DisksAddResourcePoliciesRequestResource: &computepb.DisksAddResourcePoliciesRequest{ResourcePolicies: []string{policy}}})
		if err != nil {
			t.Fatal(err)
		}
		if err := op.Wait(ctx); err != nil {
			t.Fatal(err)
		}
	}
	// A second consistency group on the same disk is refused.
	op, _ = policies.Insert(ctx, &computepb.InsertResourcePolicyRequest{Project: workloadProject, Region: "us-central1",
		ResourcePolicyResource: &computepb.ResourcePolicy{Name: proto.String("other-cg"), DiskConsistencyGroupPolicy: &computepb.ResourcePolicyDiskConsistencyGroupPolicy{}}})
	op.Wait(ctx)
	_, err = disks.AddResourcePolicies(ctx, &computepb.AddResourcePoliciesDiskRequest{Project: workloadProject, Zone: testZone, Disk: "web-1",
		DisksAddResourcePoliciesRequestResource: &computepb.DisksAddResourcePoliciesRequest{ResourcePolicies: []string{"regions/us-central1/resourcePolicies/other-cg"}}})
	wantAPIError(t, err, http.StatusBadRequest, "invalid")

	groups := newClient(t, compute.NewInstantSnapshotGroupsRESTClient, e.opts(responder))
	gop, err := groups.Insert(ctx, &computepb.InsertInstantSnapshotGroupRequest{Project: workloadProject, Zone: testZone,
		InstantSnapshotGroupResource: &computepb.InstantSnapshotGroup{Name: proto.String("ir-42"), SourceConsistencyGroup: proto.String(policy)}})
	if err != nil {
		t.Fatal(err)
	}
	if err := gop.Wait(ctx); err != nil {
		t.Fatal(err)
	}
	iss := newClient(t, compute.NewInstantSnapshotsRESTClient, e.opts(responder))
	it := iss.List(ctx, &computepb.ListInstantSnapshotsRequest{Project: workloadProject, Zone: testZone,
		Filter: proto.String(`sourceInstantSnapshotGroup = "` + selfLinkBase + `projects/acme-web-prod/zones/us-central1-a/instantSnapshotGroups/ir-42"`)})
	var members []*computepb.InstantSnapshot
	for {
		is, err := it.Next()
		if errors.Is(err, iterator.Done) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		members = append(members, is)
	}
	if len(members) != 2 || members[0].GetCreationTimestamp() != members[1].GetCreationTimestamp() {
		t.Fatalf("members %v", members)
	}
	snaps := e.snapshots(responder)
	for _, m := range members {
		op, err := snaps.Insert(ctx, &computepb.InsertSnapshotRequest{Project: forensicProject,
			SnapshotResource: &computepb.Snapshot{Name: proto.String("cg-" + lastSegment(m.GetSourceDisk())), SourceInstantSnapshot: proto.String(m.GetSelfLink())}})
		if err != nil {
			t.Fatal(err)
		}
		if err := op.Wait(ctx); err != nil {
			t.Fatal(err)
		}
	}
	infos := e.sim.Snapshots(forensicProject)
	if len(infos) != 2 || infos[0].SourceInstantSnapshot == "" || infos[0].Status != "READY" {
		t.Fatalf("snapshots %+v", infos)
	}
	// Thirty seconds later a second group may be taken; not before.
	_, err = groups.Insert(ctx, &computepb.InsertInstantSnapshotGroupRequest{Project: workloadProject, Zone: testZone,
		InstantSnapshotGroupResource: &computepb.InstantSnapshotGroup{Name: proto.String("ir-42-b"), SourceConsistencyGroup: proto.String(policy)}})
	wantAPIError(t, err, http.StatusBadRequest, "invalid")
	// Instant snapshots die with their disk (detached first: the VM goes).
	e.sim.mu.Lock()
	for _, k := range []string{key(workloadProject, testZone, "web-1"), key(workloadProject, testZone, "web-1-data")} {
		e.sim.st.disks[k].pb.Users = nil
	}
	e.sim.mu.Unlock()
	dop, err := disks.Delete(ctx, &computepb.DeleteDiskRequest{Project: workloadProject, Zone: testZone, Disk: "web-1-data"})
	if err != nil {
		t.Fatal(err)
	}
	dop.Wait(ctx)
	_, err = iss.Get(ctx, &computepb.GetInstantSnapshotRequest{Project: workloadProject, Zone: testZone, InstantSnapshot: lastSegment(members[1].GetSelfLink())})
	_, err0 := iss.Get(ctx, &computepb.GetInstantSnapshotRequest{Project: workloadProject, Zone: testZone, InstantSnapshot: lastSegment(members[0].GetSelfLink())})
	if (err == nil) == (err0 == nil) {
		t.Errorf("after deleting one disk: %v / %v; want exactly one member gone", err, err0)
	}
}

// generateAccessToken through an impersonated_service_account ADC file:
// the responder may impersonate the examiner; the worker may not.
func TestImpersonation(t *testing.T) {
	e := startSim(t, testScenario(), nil)
	file := func(source, target string) string {
		data, err := e.sim.ImpersonationFile(source, target, e.srv.URL)
		if err != nil {
			t.Fatal(err)
		}
		p := filepath.Join(e.dir, source+"-as-"+target+".json")
		os.WriteFile(p, data, 0o600)
		return p
	}
	c, err := compute.NewSnapshotsRESTClient(t.Context(), option.WithEndpoint(e.srv.URL), option.WithCredentialsFile(file(responder, examiner)))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	// The examiner may list but not create: the call runs as the examiner.
	if _, err := c.List(t.Context(), &computepb.ListSnapshotsRequest{Project: forensicProject}).Next(); !errors.Is(err, iterator.Done) {
		t.Fatalf("list as the examiner: %v", err)
	}
	_, err = c.Insert(t.Context(), insertReq("x"))
	wantAPIError(t, err, http.StatusForbidden, "forbidden")
	if n := e.sim.CallCounts()["iamcredentials.generateAccessToken"]; n != 1 {
		t.Errorf("%d generateAccessToken calls", n)
	}
	bad, err := compute.NewSnapshotsRESTClient(t.Context(), option.WithEndpoint(e.srv.URL), option.WithCredentialsFile(file(workerSA, examiner)))
	if err != nil {
		t.Fatal(err)
	}
	defer bad.Close()
	_, err = bad.List(t.Context(), &computepb.ListSnapshotsRequest{Project: forensicProject}).Next()
	if err == nil || !strings.Contains(err.Error(), "iam.serviceAccounts.getAccessToken") {
		t.Errorf("impersonation without the right: %v", err)
	}
}

// Cloud Storage needs a token with a storage scope and the permission in
// the bucket's project; fakestorage's internal endpoints are not reachable.
func TestStorageChecksAccess(t *testing.T) {
	e := startSim(t, testScenario(), nil)
	do := func(method, path, token string) int {
		req, _ := http.NewRequest(method, e.srv.URL+path, bytes.NewReader([]byte("data")))
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	upload := "/upload/storage/v1/b/acme-evidence-images/o?uploadType=media&name=a.raw"
	if c := do("POST", upload, ""); c != http.StatusUnauthorized {
		t.Errorf("no token: %d", c)
	}
	if c := do("POST", upload, e.token(examiner)); c != http.StatusForbidden {
		t.Errorf("examiner upload: %d", c)
	}
	if c := do("POST", upload, e.token(workerSA)); c != http.StatusOK {
		t.Errorf("worker upload: %d", c)
	}
	if c := do("GET", "/acme-evidence-images/a.raw", e.token(responder)); c != http.StatusOK {
		t.Errorf("XML read by the responder: %d", c)
	}
	if c := do("POST", "/_internal/delete_all", e.token(responder)); c != http.StatusNotFound {
		t.Errorf("internal endpoint: %d", c)
	}
	if c := do("GET", "/acme-evidence-images/a.raw", e.token(responder)); c != http.StatusOK {
		t.Errorf("the object is gone: %d", c)
	}
}

// A saved state comes back in a new simulator: snapshots (still pacing by
// the clock), keys, tokens; a state of another scenario is refused.
func TestStateSaveRestore(t *testing.T) {
	e := startSim(t, testScenario(), nil)
	e.readySnapshot("kept", "web-1", map[string]string{"case": "ir-42"})
	op, err := e.snapshots(responder).Insert(t.Context(), insertReq("pending"))
	if err != nil {
		t.Fatal(err)
	}
	_ = op
	tok := e.token(responder)
	var buf bytes.Buffer
	if err := e.sim.SaveState(&buf); err != nil {
		t.Fatal(err)
	}
	saved := buf.Bytes()

	clock := e.clock
	again, err := New(testScenario(), &Options{Now: clock.Now, State: bytes.NewReader(saved)})
	if err != nil {
		t.Fatal(err)
	}
	defer again.Close()
	if sum, ok := again.RestoredState(); !ok || sum.Snapshots != 2 {
		t.Errorf("restored %+v %v", sum, ok)
	}
	infos := again.Snapshots(forensicProject)
	if len(infos) != 2 || infos[0].Name != "kept" || infos[0].Status != "READY" || infos[0].Labels["case"] != "ir-42" || infos[1].Status == "READY" {
		t.Fatalf("restored snapshots %+v", infos)
	}
	clock.Advance(2 * time.Second)
	if s := again.Snapshots(forensicProject)[1].Status; s != "READY" {
		t.Errorf("the pending snapshot did not carry on: %s", s)
	}
	if _, ok := again.openToken(tok); !ok {
		t.Error("a token of the saved simulator is not valid in the restored one")
	}
	a, _ := e.sim.KeyFile(responder, "x")
	b, _ := again.KeyFile(responder, "x")
	if !bytes.Equal(a, b) {
		t.Error("the service account's key changed across the restore")
	}
	other := testScenario()
	other.Seed = 8
	if _, err := New(other, &Options{State: bytes.NewReader(saved)}); !errors.Is(err, ErrStateRefused) || !strings.Contains(err.Error(), "another scenario") {
		t.Errorf("another scenario: %v", err)
	}
	if _, err := New(testScenario(), &Options{State: strings.NewReader(`{"format":"gcpsim-state","version":2}`)}); !errors.Is(err, ErrStateRefused) {
		t.Errorf("another version: %v", err)
	}
	faults := testScenario()
	faults.Faults = Faults{Latency: Duration(time.Millisecond)}
	if s, err := New(faults, &Options{State: bytes.NewReader(saved)}); err != nil {
		t.Errorf("faults changed between restarts: %v", err)
	} else {
		s.Close()
	}
}
