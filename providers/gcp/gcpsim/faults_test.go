package gcpsim

import (
	"errors"
	"net/http"
	"strings"
	"testing"

	"cloud.google.com/go/compute/apiv1/computepb"
	"github.com/googleapis/gax-go/v2"
	"google.golang.org/api/googleapi"
	"google.golang.org/protobuf/proto"
)

func insertReq(name string) *computepb.InsertSnapshotRequest {
	return &computepb.InsertSnapshotRequest{Project: forensicProject,
		SnapshotResource: &computepb.Snapshot{Name: proto.String(name), SourceDisk: proto.String(diskURLOf(workloadProject, "web-1"))}}
}

// The first reply of snapshots.insert is lost: the snapshot exists, the
// client saw a transport error; the retry with the same requestId gets the
// same operation.
func TestLostReply(t *testing.T) {
	sc := testScenario()
	sc.Faults = Faults{Rules: []FaultRule{{Kind: FaultLostReply, Methods: []string{"compute.snapshots.insert"}, Rate: 1, Max: 1}}}
	e := startSim(t, sc, nil)
	snaps := e.snapshots(responder)
	req := insertReq("lost")
	req.RequestId = proto.String("0b9c8d7e-1f2a-4b3c-8d4e-5f6a7b8c9d0e")
	_, err := snaps.Insert(t.Context(), req)
	var ge *googleapi.Error
	if err == nil || errors.As(err, &ge) {
		t.Fatalf("lost reply: %v, want a transport error", err)
	}
	if infos := e.sim.Snapshots(forensicProject); len(infos) != 1 || infos[0].Name != "lost" {
		t.Fatalf("the work was not done: %+v", infos)
	}
	op, err := snaps.Insert(t.Context(), req)
	if err != nil {
		t.Fatalf("retry: %v", err)
	}
	e.clock.Advance(2e9)
	if err := op.Wait(t.Context()); err != nil || op.Proto().GetTargetLink() == "" {
		t.Fatalf("retry's operation: %v %v", err, op.Proto())
	}
	if n := len(e.sim.Snapshots(forensicProject)); n != 1 {
		t.Errorf("%d snapshots after the retry", n)
	}
	if got := e.sim.CallCounts()["compute.snapshots.insert"]; got != 2 {
		t.Errorf("%d insert calls counted", got)
	}
}

// 429 and 5xx answer with the API's error body; reads that get 503 are
// retried by the client, mutations are not.
func TestRateLimitAndServerErrors(t *testing.T) {
	sc := testScenario()
	sc.Faults = Faults{Seed: 3, Rules: []FaultRule{
		{Kind: FaultRateLimit, Methods: []string{"compute.snapshots.insert"}, Rate: 1, Max: 1},
		{Kind: FaultServerError, Methods: []string{"compute.snapshots.insert"}, Rate: 1, Max: 1},
		{Kind: FaultServerError, Status: http.StatusServiceUnavailable, Methods: []string{"compute.snapshots.get"}, Rate: 1, Max: 2},
	}}
	e := startSim(t, sc, nil)
	snaps := e.snapshots(responder)
	_, err := snaps.Insert(t.Context(), insertReq("a"), gax.WithRetry(func() gax.Retryer { return nil }))
	wantAPIError(t, err, http.StatusTooManyRequests, "rateLimitExceeded")
	_, err = snaps.Insert(t.Context(), insertReq("a"))
	wantAPIError(t, err, http.StatusInternalServerError, "backendError")
	if n := len(e.sim.Snapshots(forensicProject)); n != 0 {
		t.Fatalf("%d snapshots made by refused calls", n)
	}
	if _, err := snaps.Insert(t.Context(), insertReq("a")); err != nil {
		t.Fatal(err)
	}
	// Get is answered 503 twice, then served: the client retries on its own.
	if _, err := snaps.Get(t.Context(), &computepb.GetSnapshotRequest{Project: forensicProject, Snapshot: "a"}); err != nil {
		t.Fatalf("get after two 503s: %v", err)
	}
	if got := e.sim.CallCounts()["compute.snapshots.get"]; got != 3 {
		t.Errorf("%d get calls, want 3 (two 503s retried)", got)
	}
}

// An operation error without httpErrorStatusCode passes op.Wait (as the Go
// client does); with one, op.Wait fails. Both leave nothing behind.
func TestOperationErrorShapes(t *testing.T) {
	for _, status := range []int{0, http.StatusForbidden} {
		sc := testScenario()
		sc.Faults = Faults{Rules: []FaultRule{{Kind: FaultOperationError, Methods: []string{"compute.snapshots.insert"}, Rate: 1,
			Status: status, Code: "QUOTA_EXCEEDED", Message: "Quota 'SNAPSHOTS' exceeded."}}}
		e := startSim(t, sc, nil)
		op, err := e.snapshots(responder).Insert(t.Context(), insertReq("a"))
		if err != nil {
			t.Fatal(err)
		}
		err = op.Wait(t.Context())
		pe := op.Proto().GetError()
		if pe == nil || pe.GetErrors()[0].GetCode() != "QUOTA_EXCEEDED" || !op.Done() {
			t.Fatalf("status %d: operation %v", status, op.Proto())
		}
		if status == 0 && (err != nil || op.Proto().HttpErrorStatusCode != nil) {
			t.Errorf("no httpErrorStatusCode: Wait %v, code %v", err, op.Proto().HttpErrorStatusCode)
		}
		if status != 0 {
			var ge *googleapi.Error
			if !errors.As(err, &ge) || ge.Code != status || op.Proto().GetHttpErrorMessage() != "FORBIDDEN" {
				t.Errorf("httpErrorStatusCode %d: Wait %v", status, err)
			}
		}
		if !strings.HasSuffix(op.Proto().GetTargetLink(), "/projects/acme-forensics/global/snapshots/a") {
			t.Errorf("target %s", op.Proto().GetTargetLink())
		}
		if n := len(e.sim.Snapshots(forensicProject)); n != 0 {
			t.Errorf("%d snapshots after a failed operation", n)
		}
	}
}

// Bad fault rules are refused with a reason.
func TestFaultRulesValidated(t *testing.T) {
	for _, f := range []Faults{
		{Rules: []FaultRule{{Kind: "explode", Rate: 1}}},
		{Rules: []FaultRule{{Kind: FaultRateLimit, Rate: 0}}},
		{Rules: []FaultRule{{Kind: FaultServerError, Rate: 1, Status: 404}}},
	} {
		sc := testScenario()
		sc.Faults = f
		if _, err := New(sc, nil); err == nil || !strings.Contains(err.Error(), "faults: rule 0") {
			t.Errorf("%+v: %v", f, err)
		}
	}
}

// A rule limited to resources hits only the calls that name them: the
// snapshot of one disk fails, the other's is made.
func TestFaultRuleResources(t *testing.T) {
	sc := testScenario()
	sc.Faults = Faults{Rules: []FaultRule{{Kind: FaultOperationError, Methods: []string{"compute.snapshots.insert"},
		Resources: []string{"web-1-data"}, Rate: 1}}}
	e := startSim(t, sc, nil)
	snaps := e.snapshots(responder)
	ok, err := snaps.Insert(t.Context(), insertReq("of-boot"))
	if err != nil || ok.Proto().GetError() != nil {
		t.Fatalf("the other disk's snapshot: %v %v", err, ok.Proto().GetError())
	}
	req := insertReq("of-data")
	req.SnapshotResource.SourceDisk = proto.String(diskURLOf(workloadProject, "web-1-data"))
	bad, err := snaps.Insert(t.Context(), req)
	if err != nil {
		t.Fatal(err)
	}
	if bad.Proto().GetError() == nil {
		t.Errorf("the named disk's snapshot did not fail: %v", bad.Proto())
	}
	if infos := e.sim.Snapshots(forensicProject); len(infos) != 1 || infos[0].Name != "of-boot" {
		t.Errorf("snapshots %+v, want of-boot only", infos)
	}
}
