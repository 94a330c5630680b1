package gcpsim

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	compute "cloud.google.com/go/compute/apiv1"
	"cloud.google.com/go/compute/apiv1/computepb"
	"google.golang.org/api/iterator"
	"google.golang.org/protobuf/proto"
)

// readySnapshot makes a READY snapshot of a workload disk in the forensic
// project.
func (e *simEnv) readySnapshot(name, disk string, labels map[string]string) {
	e.t.Helper()
	op, err := e.snapshots(responder).Insert(e.t.Context(), &computepb.InsertSnapshotRequest{Project: forensicProject,
		SnapshotResource: &computepb.Snapshot{Name: proto.String(name), SourceDisk: proto.String(diskURLOf(workloadProject, disk)), Labels: labels}})
	if err != nil {
		e.t.Fatal(err)
	}
	e.clock.Advance(2 * time.Second)
	if err := op.Wait(e.t.Context()); err != nil {
		e.t.Fatal(err)
	}
}

// Labels are checked as the API documents them, and setLabels needs the
// current fingerprint.
func TestLabelRules(t *testing.T) {
	e := startSim(t, testScenario(), nil)
	ctx := t.Context()
	snaps := e.snapshots(responder)
	long := strings.Repeat("a", 64)
	many := map[string]string{}
	for i := range 65 {
		many[fmt.Sprintf("k%d", i)] = "v"
	}
	for _, bad := range []map[string]string{
		{"Case": "ir-42"}, {"case": "IR-42"}, {"9case": "x"}, {"case.id": "x"}, {long: "x"}, {"k": long}, many, {"": "x"},
	} {
		_, err := snaps.Insert(ctx, &computepb.InsertSnapshotRequest{Project: forensicProject,
			SnapshotResource: &computepb.Snapshot{Name: proto.String("bad"), SourceDisk: proto.String(diskURLOf(workloadProject, "web-1")), Labels: bad}})
		ge := wantAPIError(t, err, http.StatusBadRequest, "invalid")
		if !strings.Contains(ge.Message, "labels") {
			t.Errorf("labels %v: message %q", bad, ge.Message)
		}
	}
	good := map[string]string{"case": "ir-42", "évidence": "disque_1", "k-2": ""}
	e.readySnapshot("good", "web-1", good)

	snap, err := snaps.Get(ctx, &computepb.GetSnapshotRequest{Project: forensicProject, Snapshot: "good"})
	if err != nil {
		t.Fatal(err)
	}
	fp := snap.GetLabelFingerprint()
	if fp == "" || fp == emptyLabelFingerprint {
		t.Fatalf("fingerprint %q", fp)
	}
	set := func(fingerprint string, labels map[string]string) error {
		op, err := snaps.SetLabels(ctx, &computepb.SetLabelsSnapshotRequest{Project: forensicProject, Resource: "good",
			GlobalSetLabelsRequestResource: &computepb.GlobalSetLabelsRequest{LabelFingerprint: proto.String(fingerprint), Labels: labels}})
		if err != nil {
			return err
		}
		return op.Wait(ctx)
	}
	wantAPIError(t, set("c3RhbGU=", map[string]string{"case": "ir-43"}), http.StatusPreconditionFailed, "conditionNotMet")
	wantAPIError(t, set(fp, map[string]string{"Bad": "x"}), http.StatusBadRequest, "invalid")
	if err := set(fp, map[string]string{"case": "ir-43"}); err != nil {
		t.Fatal(err)
	}
	snap, _ = snaps.Get(ctx, &computepb.GetSnapshotRequest{Project: forensicProject, Snapshot: "good"})
	if snap.GetLabels()["case"] != "ir-43" || snap.GetLabelFingerprint() == fp {
		t.Errorf("labels %v, fingerprint %q after setLabels", snap.GetLabels(), snap.GetLabelFingerprint())
	}
	// The old fingerprint no longer works.
	wantAPIError(t, set(fp, map[string]string{"case": "ir-44"}), http.StatusPreconditionFailed, "conditionNotMet")
}

// The same requestId returns the same operation and does the work once; a
// malformed one is refused.
func TestRequestIDIdempotency(t *testing.T) {
	e := startSim(t, testScenario(), nil)
	ctx := t.Context()
	d := e.disks(responder)
	req := func(id string) (*compute.Operation, error) {
		return d.CreateSnapshot(ctx, &computepb.CreateSnapshotDiskRequest{Project: workloadProject, Zone: testZone, Disk: "web-1",
			RequestId: proto.String(id), SnapshotResource: &computepb.Snapshot{Name: proto.String("same")}})
	}
	first, err := req("7d444840-9dc0-11d1-b245-5ffdce74fad2")
	if err != nil {
		t.Fatal(err)
	}
	again, err := req("7d444840-9dc0-11d1-b245-5ffdce74fad2")
	if err != nil {
		t.Fatalf("the retry with the same requestId failed: %v", err)
	}
	if first.Name() != again.Name() {
		t.Errorf("operations %s and %s for one requestId", first.Name(), again.Name())
	}
	if n := len(e.sim.Snapshots(workloadProject)); n != 1 {
		t.Errorf("%d snapshots", n)
	}
	// Another requestId does the work again: the name is taken.
	_, err = req("7d444840-9dc0-11d1-b245-5ffdce74fad3")
	wantAPIError(t, err, http.StatusConflict, "alreadyExists")
	_, err = req("not-a-uuid")
	wantAPIError(t, err, http.StatusBadRequest, "invalid")
	_, err = req("00000000-0000-0000-0000-000000000000")
	wantAPIError(t, err, http.StatusBadRequest, "invalid")
	// After the documented window the request ID is forgotten.
	// (A new client: the old one's token expired with the hour.)
	e.clock.Advance(61 * time.Minute)
	d = e.disks(responder)
	_, err = req("7d444840-9dc0-11d1-b245-5ffdce74fad2")
	wantAPIError(t, err, http.StatusConflict, "alreadyExists")
}

// Lists page through the iterator and filter by labels and fields.
func TestListPagesAndFilters(t *testing.T) {
	e := startSim(t, testScenario(), &Options{})
	ctx := t.Context()
	d := e.disks(responder)
	for i := range 7 {
		labels := map[string]string{"case": "ir-42"}
		if i%2 == 1 {
			labels["case"] = "ir-43"
		}
		op, err := d.CreateSnapshot(ctx, &computepb.CreateSnapshotDiskRequest{Project: workloadProject, Zone: testZone, Disk: "web-1-data",
			SnapshotResource: &computepb.Snapshot{Name: proto.String(fmt.Sprintf("snap-%d", i)), Labels: labels}})
		if err != nil {
			t.Fatal(err)
		}
		_ = op
	}
	snaps := e.snapshots(responder)
	list := func(filter string, pageSize uint32) []string {
		t.Helper()
		it := snaps.List(ctx, &computepb.ListSnapshotsRequest{Project: workloadProject, Filter: proto.String(filter), MaxResults: proto.Uint32(pageSize)})
		var names []string
		for {
			s, err := it.Next()
			if errors.Is(err, iterator.Done) {
				return names
			}
			if err != nil {
				t.Fatalf("filter %q: %v", filter, err)
			}
			names = append(names, s.GetName())
		}
	}
	if got := list("", 2); strings.Join(got, ",") != "snap-0,snap-1,snap-2,snap-3,snap-4,snap-5,snap-6" {
		t.Errorf("all, by pages of 2: %v", got)
	}
	if got := list(`labels.case = "ir-43"`, 2); strings.Join(got, ",") != "snap-1,snap-3,snap-5" {
		t.Errorf("labels.case=ir-43: %v", got)
	}
	if got := list(`(labels.case = "ir-42") (name != snap-0)`, 500); strings.Join(got, ",") != "snap-2,snap-4,snap-6" {
		t.Errorf("and: %v", got)
	}
	if got := list(`(name = snap-1) OR (name = snap-6)`, 500); strings.Join(got, ",") != "snap-1,snap-6" {
		t.Errorf("or: %v", got)
	}
	if got := list(`name eq "snap-[12]"`, 500); strings.Join(got, ",") != "snap-1,snap-2" {
		t.Errorf("eq: %v", got)
	}
	if got := list(`labels.case:*`, 500); len(got) != 7 {
		t.Errorf("labels.case:* %v", got)
	}
	if got := list(`status = UPLOADING`, 500); len(got) != 0 {
		t.Errorf("status UPLOADING at the start: %v (a 2-block snapshot is CREATING for its first tenth)", got)
	}
	it := snaps.List(ctx, &computepb.ListSnapshotsRequest{Project: workloadProject, Filter: proto.String(`name = (`)})
	_, err := it.Next()
	wantAPIError(t, err, http.StatusBadRequest, "invalid")

	// A forged page token is refused.
	tok := e.token(responder)
	req, _ := http.NewRequest(http.MethodGet, e.srv.URL+"/compute/v1/projects/"+workloadProject+"/global/snapshots?pageToken=Zm9yZ2Vk", nil)
	req.Header.Set("Authorization", "Bearer "+tok)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadRequest {
		t.Errorf("forged page token: %d", resp.StatusCode)
	}
}

// Aggregated lists key instances by zone.
func TestAggregatedInstances(t *testing.T) {
	e := startSim(t, testScenario(), nil)
	it := e.instances(responder).AggregatedList(t.Context(), &computepb.AggregatedListInstancesRequest{Project: workloadProject})
	found := 0
	for {
		pair, err := it.Next()
		if errors.Is(err, iterator.Done) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		for _, in := range pair.Value.GetInstances() {
			found++
			if pair.Key != "zones/"+testZone || in.GetName() != "web-1" || len(in.GetDisks()) != 2 {
				t.Errorf("%s: %v", pair.Key, in)
			}
		}
	}
	if found != 1 {
		t.Errorf("%d instances", found)
	}
}

// token gets an access token for a principal through the OAuth endpoint,
// as curl users do with a token from elsewhere.
func (e *simEnv) token(email string) string {
	e.t.Helper()
	return e.sim.mintToken(email, []string{cloudPlatformScope}, e.clock.Now().Add(time.Hour))
}

// curl-style REST with a bearer token works, and a missing or bad token is
// refused with 401.
func TestPlainRESTWithBearerToken(t *testing.T) {
	e := startSim(t, testScenario(), nil)
	get := func(auth string) (int, string) {
		req, _ := http.NewRequest(http.MethodGet, e.srv.URL+"/compute/v1/projects/"+workloadProject+"/zones/"+testZone+"/instances/web-1", nil)
		if auth != "" {
			req.Header.Set("Authorization", auth)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if code, body := get("Bearer " + e.token(responder)); code != 200 || !strings.Contains(body, `"id":"`) || !strings.Contains(body, `"kind":"compute#instance"`) {
		t.Errorf("%d %s", code, body)
	}
	for _, auth := range []string{"", "Bearer ya29.forged", "Basic eDp5"} {
		if code, body := get(auth); code != http.StatusUnauthorized || !strings.Contains(body, `"code":401`) {
			t.Errorf("auth %q: %d %s", auth, code, body)
		}
	}
	// A token past its hour is refused.
	tok := e.token(responder)
	e.clock.Advance(61 * time.Minute)
	if code, _ := get("Bearer " + tok); code != http.StatusUnauthorized {
		t.Errorf("expired token: %d", code)
	}
}
