package azuresim

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/runtime"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/compute/armcompute/v7"
)

// A full snapshot copied from a disk in another subscription of the same
// tenant lands in the forensic subscription under its encryption set.
func TestCrossSubscriptionFullCopy(t *testing.T) {
	e := newEnv(t)
	snap, err := e.copyInto(responderID, "ev-data", dataDiskID)
	if err != nil {
		t.Fatal(err)
	}
	p := snap.Properties
	if *p.ProvisioningState != "Succeeded" || *p.CreationData.SourceResourceID != dataDiskID || *p.Incremental ||
		*p.Encryption.DiskEncryptionSetID != evidenceDES || *snap.Tags["case"] != "IR-7" || *p.DiskSizeGB != 1 {
		t.Fatalf("snapshot: %+v", p)
	}
	got := e.sim.Snapshots(subForensic)
	if len(got) != 1 || got[0].Name != "ev-data" || got[0].SourceID != dataDiskID {
		t.Fatalf("forensic snapshots: %+v", got)
	}
	if len(e.sim.Snapshots(subWorkload)) != 0 {
		t.Error("a snapshot appeared in the workload subscription")
	}
	// Listed by resource group and by subscription.
	pager := e.compute(responderID, subForensic).NewSnapshotsClient().NewListPager(nil)
	page, err := pager.NextPage(context.Background())
	if err != nil || len(page.Value) != 1 || *page.Value[0].Name != "ev-data" {
		t.Fatalf("list: %v %+v", err, page.Value)
	}
}

// "You can't create an incremental snapshot outside of that disk's
// subscription."
func TestIncrementalCrossSubscriptionRefused(t *testing.T) {
	e := newEnv(t)
	cl := e.compute(responderID, subForensic).NewSnapshotsClient()
	_, err := cl.BeginCreateOrUpdate(context.Background(), rgEvidence, "inc", armcompute.Snapshot{Location: ptr(region),
		Properties: &armcompute.SnapshotProperties{Incremental: ptr(true),
			CreationData: &armcompute.CreationData{CreateOption: ptr(armcompute.DiskCreateOptionCopy), SourceResourceID: ptr(dataDiskID)}}}, nil)
	re := respErr(t, err, http.StatusBadRequest, "BadRequest")
	if !strings.Contains(re.Error(), "full snapshot") {
		t.Errorf("the error does not say what to do: %v", re)
	}
	if len(e.sim.Snapshots("")) != 0 {
		t.Error("a refused snapshot was created")
	}
	// Within the disk's own subscription an incremental snapshot is fine.
	wl := e.compute(responderID, subWorkload).NewSnapshotsClient()
	poller, err := wl.BeginCreateOrUpdate(context.Background(), rgWeb, "inc", armcompute.Snapshot{Location: ptr(region),
		Properties: &armcompute.SnapshotProperties{Incremental: ptr(true),
			CreationData: &armcompute.CreationData{CreateOption: ptr(armcompute.DiskCreateOptionCopy), SourceResourceID: ptr(dataDiskID)}}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	res, err := poller.PollUntilDone(context.Background(), fast)
	if err != nil || !*res.Properties.Incremental || res.Properties.IncrementalSnapshotFamilyID == nil {
		t.Fatalf("incremental in the workload subscription: %v %+v", err, res.Properties)
	}
}

// The copy needs beginGetAccess on the source disk: LinkedAuthorizationFailed.
func TestLinkedAuthorizationFailed(t *testing.T) {
	e := newEnv(t)
	_, err := e.copyInto(limitedID, "ev", dataDiskID)
	re := respErr(t, err, http.StatusForbidden, "LinkedAuthorizationFailed")
	if !strings.Contains(re.Error(), "Microsoft.Compute/disks/beginGetAccess/action") || !strings.Contains(re.Error(), dataDiskID) {
		t.Errorf("the error does not name the linked action and scope: %v", re)
	}
}

// A principal without the write action gets 403 naming it.
func TestAuthorizationFailedNamesAction(t *testing.T) {
	e := newEnv(t)
	_, err := e.copyInto(examinerID, "ev", dataDiskID)
	re := respErr(t, err, http.StatusForbidden, "AuthorizationFailed")
	if !strings.Contains(re.Error(), "'Microsoft.Compute/snapshots/write'") || !strings.Contains(re.Error(), snapshotID(subForensic, rgEvidence, "ev")) {
		t.Errorf("the error does not name the action and scope: %v", re)
	}
}

// A copy from a subscription of another tenant fails.
func TestCrossTenantCopyFails(t *testing.T) {
	e := newEnv(t)
	_, err := e.copyInto(responderID, "ev", otherDiskID)
	re := respErr(t, err, http.StatusForbidden, "LinkedAuthorizationFailed")
	if !strings.Contains(re.Error(), "not authorized to access linked subscription") {
		t.Errorf("%v", re)
	}
	// And a token of the other tenant is refused by the forensic subscription.
	_, err = e.compute(outsiderID, subForensic).NewSnapshotsClient().Get(context.Background(), rgEvidence, "x", nil)
	respErr(t, err, http.StatusUnauthorized, "InvalidAuthenticationTokenTenant")
}

// The long-running operation as ARM speaks it: 202 with
// Azure-AsyncOperation, Location and Retry-After; a status document that
// says InProgress until the copy is done; the monitor answering 202, then
// the snapshot.
func TestLROShapes(t *testing.T) {
	e := newEnv(t, func(sc *Scenario) { sc.SnapshotBytesPerSecond = 64 << 10; sc.RetryAfterSeconds = 2 })
	tok, err := e.cred(responderID).GetToken(context.Background(), policy.TokenRequestOptions{Scopes: []string{"https://management.core.windows.net//.default"}})
	if err != nil {
		t.Fatal(err)
	}
	do := func(method, url, body string) *http.Response {
		t.Helper()
		req, _ := http.NewRequest(method, url, strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+tok.Token)
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("x-ms-correlation-request-id", "corr-1")
		resp, err := e.client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		return resp
	}
	url := e.srv.URL + snapshotID(subForensic, rgEvidence, "ev") + "?api-version=2025-01-02"
	resp := do("PUT", url, `{"location":"westeurope","properties":{"creationData":{"createOption":"Copy","sourceResourceId":"`+dataDiskID+`"}}}`)
	resp.Body.Close()
	async, loc := resp.Header.Get("Azure-AsyncOperation"), resp.Header.Get("Location")
	if resp.StatusCode != http.StatusAccepted || async == "" || loc == "" || resp.Header.Get("Retry-After") != "2" ||
		resp.Header.Get("x-ms-request-id") == "" || resp.Header.Get("x-ms-correlation-request-id") != "corr-1" {
		t.Fatalf("create: %d %v", resp.StatusCode, resp.Header)
	}
	read := func(r *http.Response) string { b, _ := io.ReadAll(r.Body); r.Body.Close(); return string(b) }
	if r := do("GET", async, ""); r.StatusCode != 200 || !strings.Contains(read(r), `"status":"InProgress"`) {
		t.Fatalf("status document while copying")
	}
	if r := do("GET", loc, ""); r.StatusCode != http.StatusAccepted || r.Header.Get("Location") == "" {
		t.Fatalf("monitor while copying: %d", r.StatusCode)
	}
	if r := do("GET", url, ""); !strings.Contains(read(r), `"provisioningState":"Creating"`) {
		t.Fatal("the snapshot is not Creating while copied")
	}
	e.clock.Advance(10 * time.Second) // 4 chunks of 64 KiB at 64 KiB/s
	if r := do("GET", async, ""); !strings.Contains(read(r), `"status":"Succeeded"`) {
		t.Fatal("status document after the copy")
	}
	if r := do("GET", loc, ""); r.StatusCode != 200 || !strings.Contains(read(r), `"provisioningState":"Succeeded"`) {
		t.Fatal("monitor after the copy")
	}
	// An operation URL with another p is not the operation's.
	if r := do("GET", strings.Replace(async, "p=", "p=x", 1), ""); r.StatusCode != http.StatusNotFound {
		t.Errorf("a forged operation URL answered %d", r.StatusCode)
	}
	// Missing api-version, and one the provider does not serve.
	if r := do("GET", strings.TrimSuffix(url, "?api-version=2025-01-02"), ""); r.StatusCode != 400 || !strings.Contains(read(r), "MissingApiVersionParameter") {
		t.Error("missing api-version accepted")
	}
	if r := do("GET", strings.Replace(url, "2025-01-02", "2031-01-01", 1), ""); r.StatusCode != 400 || !strings.Contains(read(r), "NoRegisteredProviderFound") {
		t.Error("unknown api-version accepted")
	}
	// No token.
	req, _ := http.NewRequest("GET", url, nil)
	r, _ := e.client.Do(req)
	if r.StatusCode != 401 || !strings.Contains(r.Header.Get("WWW-Authenticate"), "authorization_uri") {
		t.Errorf("no token: %d %v", r.StatusCode, r.Header)
	}
	r.Body.Close()
}

// A failed operation: the poller reports the operation's error and the
// snapshot ends Failed.
func TestFailedOperation(t *testing.T) {
	e := newEnv(t, func(sc *Scenario) {
		sc.Faults = Faults{Rules: []FaultRule{{Kind: FaultFailOperation, Operations: []string{"Snapshots_CreateOrUpdate"}, Max: 1}}}
	})
	_, err := e.copyInto(responderID, "ev", dataDiskID)
	respErr(t, err, http.StatusOK, "InternalOperationError")
	got := e.sim.Snapshots(subForensic)
	if len(got) != 1 || got[0].ProvisioningState != "Failed" {
		t.Fatalf("%+v", got)
	}
	// The next one succeeds (max 1).
	if _, err := e.copyInto(responderID, "ev2", dataDiskID); err != nil {
		t.Fatal(err)
	}
}

// A lost reply: the snapshot is created but the client hears nothing; the
// retried PUT finds it.
func TestLostReply(t *testing.T) {
	e := newEnv(t, func(sc *Scenario) {
		sc.Faults = Faults{Rules: []FaultRule{{Kind: FaultLostReply, Operations: []string{"Snapshots_CreateOrUpdate"}, Max: 1}}}
	})
	_, err := e.copyInto(responderID, "ev", dataDiskID)
	if err == nil || !strings.Contains(err.Error(), "EOF") {
		t.Fatalf("want a transport error, got %v", err)
	}
	if got := e.sim.Snapshots(subForensic); len(got) != 1 {
		t.Fatalf("the request was not carried out: %+v", got)
	}
	snap, err := e.copyInto(responderID, "ev", dataDiskID)
	if err != nil || *snap.Properties.ProvisioningState != "Succeeded" {
		t.Fatalf("retry: %v", err)
	}
	if len(e.sim.Snapshots(subForensic)) != 1 {
		t.Error("the retry made a second snapshot")
	}
	// Another source under the same name is a conflict.
	_, err = e.copyInto(responderID, "ev", rootDiskID)
	respErr(t, err, http.StatusConflict, "PropertyChangeNotAllowed")
}

// 429 with Retry-After, then the retry policy succeeds; 5xx.
func TestThrottleAndServerErrors(t *testing.T) {
	e := newEnv(t, func(sc *Scenario) {
		sc.Faults = Faults{Rules: []FaultRule{
			{Kind: FaultThrottle, Operations: []string{"Disks_Get"}, Max: 1, RetryAfterSeconds: 1},
			{Kind: FaultServerError, Operations: []string{"VirtualMachines_Get"}, Status: 503, Max: 1},
		}}
	})
	disks := e.compute(responderID, subWorkload).NewDisksClient()
	_, err := disks.Get(context.Background(), rgWeb, "web-1-data", nil)
	re := respErr(t, err, http.StatusTooManyRequests, "TooManyRequests")
	if re.RawResponse.Header.Get("Retry-After") != "1" {
		t.Errorf("Retry-After %q", re.RawResponse.Header.Get("Retry-After"))
	}
	if _, err := disks.Get(context.Background(), rgWeb, "web-1-data", nil); err != nil {
		t.Fatalf("after the throttle: %v", err)
	}
	_, err = e.compute(responderID, subWorkload).NewVirtualMachinesClient().Get(context.Background(), rgWeb, "web-1", nil)
	respErr(t, err, http.StatusServiceUnavailable, "InternalServerError")
	if n := e.sim.CallCounts()["Disks_Get"]; n != 2 {
		t.Errorf("Disks_Get counted %d times", n)
	}
}

// Premium SSD v2 snapshots are incremental only and fill in the
// background; CopyStart copies incremental snapshots across regions.
func TestBackgroundCopies(t *testing.T) {
	e := newEnv(t, func(sc *Scenario) { sc.SnapshotBytesPerSecond = 16 << 10 })
	wl := e.compute(responderID, subWorkload).NewSnapshotsClient()
	ultra := "/subscriptions/" + subWorkload + "/resourceGroups/rg-web/providers/Microsoft.Compute/disks/ultra"
	mk := func(name, source, loc string, opt armcompute.DiskCreateOption, inc bool) (armcompute.Snapshot, error) {
		p, err := wl.BeginCreateOrUpdate(context.Background(), rgWeb, name, armcompute.Snapshot{Location: ptr(loc),
			Properties: &armcompute.SnapshotProperties{Incremental: ptr(inc),
				CreationData: &armcompute.CreationData{CreateOption: ptr(opt), SourceResourceID: ptr(source)}}}, nil)
		if err != nil {
			return armcompute.Snapshot{}, err
		}
		r, err := p.PollUntilDone(context.Background(), fast)
		return r.Snapshot, err
	}
	_, err := mk("full", ultra, region, armcompute.DiskCreateOptionCopy, false)
	respErr(t, err, http.StatusBadRequest, "BadRequest")
	inc, err := mk("inc", ultra, region, armcompute.DiskCreateOptionCopy, true)
	if err != nil || *inc.Properties.CompletionPercent >= 100 {
		t.Fatalf("%v %+v", err, inc.Properties)
	}
	g, err := e.compute(responderID, subWorkload).NewSnapshotsClient().BeginGrantAccess(context.Background(), rgWeb, "inc",
		armcompute.GrantAccessData{Access: ptr(armcompute.AccessLevelRead), DurationInSeconds: ptr[int32](60)}, nil)
	respErr(t, err, http.StatusConflict, "OperationNotAllowed")
	_ = g
	e.clock.Advance(time.Minute)
	_, err = mk("cross", snapshotID(subWorkload, rgWeb, "inc"), "northeurope", armcompute.DiskCreateOptionCopyStart, false)
	respErr(t, err, http.StatusBadRequest, "BadRequest")
	_, err = mk("same-region", snapshotID(subWorkload, rgWeb, "inc"), region, armcompute.DiskCreateOptionCopyStart, true)
	respErr(t, err, http.StatusBadRequest, "BadRequest")
	cross, err := mk("cross", snapshotID(subWorkload, rgWeb, "inc"), "northeurope", armcompute.DiskCreateOptionCopyStart, true)
	if err != nil || *cross.Properties.CreationData.CreateOption != armcompute.DiskCreateOptionCopyStart || *cross.Properties.CompletionPercent >= 100 {
		t.Fatalf("CopyStart: %v %+v", err, cross.Properties)
	}
	e.clock.Advance(time.Minute)
	got, err := wl.Get(context.Background(), rgWeb, "cross", nil)
	if err != nil || *got.Properties.CompletionPercent != 100 {
		t.Fatalf("after the background copy: %v", err)
	}
	// A Copy across regions is refused.
	_, err = mk("wrong", dataDiskID, "northeurope", armcompute.DiskCreateOptionCopy, true)
	respErr(t, err, http.StatusBadRequest, "BadRequest")
}

// Deleting a snapshot: LRO, then 404; a missing one answers 204.
func TestDeleteSnapshot(t *testing.T) {
	e := newEnv(t)
	if _, err := e.copyInto(responderID, "ev", dataDiskID); err != nil {
		t.Fatal(err)
	}
	cl := e.compute(responderID, subForensic).NewSnapshotsClient()
	p, err := cl.BeginDelete(context.Background(), rgEvidence, "ev", nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.PollUntilDone(context.Background(), fast); err != nil {
		t.Fatal(err)
	}
	_, err = cl.Get(context.Background(), rgEvidence, "ev", nil)
	respErr(t, err, http.StatusNotFound, "ResourceNotFound")
	p, err = cl.BeginDelete(context.Background(), rgEvidence, "ev", nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.PollUntilDone(context.Background(), &runtime.PollUntilDoneOptions{Frequency: time.Millisecond}); err != nil {
		t.Fatal(err)
	}
}
