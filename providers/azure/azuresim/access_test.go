package azuresim

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/compute/armcompute/v7"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/resources/armlocks"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/blob"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/bloberror"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/pageblob"
)

func (e *env) grant(clientID, sub, rg, name string, seconds int32) (string, error) {
	cl := e.compute(clientID, sub).NewSnapshotsClient()
	p, err := cl.BeginGrantAccess(context.Background(), rg, name, armcompute.GrantAccessData{Access: ptr(armcompute.AccessLevelRead), DurationInSeconds: ptr(seconds)}, nil)
	if err != nil {
		return "", err
	}
	res, err := p.PollUntilDone(context.Background(), fast)
	if err != nil {
		return "", err
	}
	return *res.AccessSAS, nil
}

func (e *env) revoke(clientID, sub, rg, name string) {
	e.t.Helper()
	p, err := e.compute(clientID, sub).NewSnapshotsClient().BeginRevokeAccess(context.Background(), rg, name, nil)
	if err == nil {
		_, err = p.PollUntilDone(context.Background(), fast)
	}
	if err != nil {
		e.t.Fatal(err)
	}
}

func (e *env) pageBlob(sas string, cred azcore.TokenCredential) *pageblob.Client {
	e.t.Helper()
	opts := &pageblob.ClientOptions{ClientOptions: azcore.ClientOptions{Transport: e.client, Retry: policy.RetryOptions{MaxRetries: -1}}}
	var c *pageblob.Client
	var err error
	if cred != nil {
		// The SAS and a bearer token together, for dataAccessAuthMode
		// AzureActiveDirectory.
		opts.Audience = "https://disk.azure.com/"
		c, err = pageblob.NewClient(sas, cred, opts)
	} else {
		c, err = pageblob.NewClientWithNoCredential(sas, opts)
	}
	if err != nil {
		e.t.Fatal(err)
	}
	return c
}

func readRange(t *testing.T, c *pageblob.Client, off, n int64) ([]byte, error) {
	t.Helper()
	resp, err := c.DownloadStream(context.Background(), &blob.DownloadStreamOptions{Range: blob.HTTPRange{Offset: off, Count: n}})
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	return io.ReadAll(resp.Body)
}

// The SAS serves the snapshot as a page blob: ranged reads equal to the
// disk image, page ranges listing only the written chunks.
func TestSASReadsPageBlob(t *testing.T) {
	e := newEnv(t)
	if _, err := e.copyInto(responderID, "ev-os", rootDiskID); err != nil {
		t.Fatal(err)
	}
	sas, err := e.grant(responderID, subForensic, rgEvidence, "ev-os", 3600)
	if err != nil {
		t.Fatal(err)
	}
	c := e.pageBlob(sas, nil)
	props, err := c.GetProperties(context.Background(), nil)
	if err != nil || *props.ContentLength != 1<<30 || *props.BlobType != blob.BlobTypePageBlob {
		t.Fatalf("properties: %v %+v", err, props)
	}
	var ranges [][2]int64
	pager := c.NewGetPageRangesPager(&pageblob.GetPageRangesOptions{})
	for pager.More() {
		page, err := pager.NextPage(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range page.PageRange {
			ranges = append(ranges, [2]int64{*r.Start, *r.End})
		}
	}
	want := [][2]int64{{0, ChunkSize - 1}, {5 << 20, 5<<20 + ChunkSize - 1}, {700 << 20, 700<<20 + ChunkSize - 1}}
	if len(ranges) != len(want) || ranges[0] != want[0] || ranges[1] != want[1] || ranges[2] != want[2] {
		t.Fatalf("page ranges %v, want %v", ranges, want)
	}
	got, err := readRange(t, c, 5<<20, 17)
	if err != nil || string(got) != "evidence at 5 MiB" {
		t.Fatalf("ranged read: %v %q", err, got)
	}
	zeros, err := readRange(t, c, 100<<20, 4096)
	if err != nil || !bytes.Equal(zeros, make([]byte, 4096)) {
		t.Fatalf("unwritten range: %v", err)
	}
	// Paged page ranges.
	pager = c.NewGetPageRangesPager(&pageblob.GetPageRangesOptions{MaxResults: ptr[int32](1)})
	pages := 0
	for pager.More() {
		if _, err := pager.NextPage(context.Background()); err != nil {
			t.Fatal(err)
		}
		pages++
	}
	if pages != 3 {
		t.Errorf("%d pages of one range each", pages)
	}
}

// A SAS works for its duration only, stops at endGetAccess, and a tampered
// one is refused as Storage refuses it.
func TestSASLifetimeRevocationTampering(t *testing.T) {
	e := newEnv(t)
	if _, err := e.copyInto(responderID, "ev", dataDiskID); err != nil {
		t.Fatal(err)
	}
	sas, err := e.grant(responderID, subForensic, rgEvidence, "ev", 60)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := readRange(t, e.pageBlob(sas, nil), 0, 512); err != nil {
		t.Fatalf("fresh SAS: %v", err)
	}
	u, _ := url.Parse(sas)
	q := u.Query()
	q.Set("sig", strings.Repeat("A", len(q.Get("sig"))))
	u.RawQuery = q.Encode()
	_, err = readRange(t, e.pageBlob(u.String(), nil), 0, 512)
	if !bloberror.HasCode(err, bloberror.AuthenticationFailed) {
		t.Fatalf("tampered signature: %v", err)
	}
	other, _ := url.Parse(sas)
	other.Path = strings.Replace(other.Path, "/abcd", "/other", 1)
	if _, err := readRange(t, e.pageBlob(other.String(), nil), 0, 512); !bloberror.HasCode(err, bloberror.AuthenticationFailed) {
		t.Fatalf("SAS used on another path: %v", err)
	}
	e.clock.Advance(61 * time.Second)
	_, err = readRange(t, e.pageBlob(sas, nil), 0, 512)
	if !bloberror.HasCode(err, bloberror.AuthenticationFailed) || !strings.Contains(err.Error(), "time frame") {
		t.Fatalf("expired SAS: %v", err)
	}
	sas, err = e.grant(responderID, subForensic, rgEvidence, "ev", 3600)
	if err != nil {
		t.Fatal(err)
	}
	e.revoke(responderID, subForensic, rgEvidence, "ev")
	_, err = readRange(t, e.pageBlob(sas, nil), 0, 512)
	if !bloberror.HasCode(err, bloberror.AuthenticationFailed) || !strings.Contains(err.Error(), "endGetAccess") {
		t.Fatalf("revoked SAS: %v", err)
	}
	if n := len(e.sim.OpenGrants()); n != 0 {
		t.Errorf("%d grants still open", n)
	}
}

// At most five SAS at a time per snapshot family.
func TestFiveSASLimit(t *testing.T) {
	e := newEnv(t)
	for _, n := range []string{"a", "b"} {
		if _, err := e.copyInto(responderID, n, dataDiskID); err != nil {
			t.Fatal(err)
		}
	}
	for i := range 5 {
		if _, err := e.grant(responderID, subForensic, rgEvidence, []string{"a", "b"}[i%2], 600); err != nil {
			t.Fatalf("SAS %d: %v", i+1, err)
		}
	}
	_, err := e.grant(responderID, subForensic, rgEvidence, "a", 600)
	respErr(t, err, http.StatusConflict, "OperationNotAllowed")
	e.revoke(responderID, subForensic, rgEvidence, "b")
	if _, err := e.grant(responderID, subForensic, rgEvidence, "a", 600); err != nil {
		t.Fatalf("after endGetAccess: %v", err)
	}
	// A snapshot with an active SAS cannot be deleted.
	_, err = e.compute(responderID, subForensic).NewSnapshotsClient().BeginDelete(context.Background(), rgEvidence, "a", nil)
	respErr(t, err, http.StatusConflict, "OperationNotAllowed")
}

// dataAccessAuthMode AzureActiveDirectory: the SAS needs a bearer token
// with the download data action; networkAccessPolicy DenyAll cannot be
// exported.
func TestDataAccessAndNetworkRules(t *testing.T) {
	e := newEnv(t)
	if _, err := e.copyInto(responderID, "aad", aadDiskID); err != nil {
		t.Fatal(err)
	}
	sas, err := e.grant(responderID, subForensic, rgEvidence, "aad", 600)
	if err != nil {
		t.Fatal(err)
	}
	_, err = readRange(t, e.pageBlob(sas, nil), 0, 512)
	if !bloberror.HasCode(err, bloberror.NoAuthenticationInformation) {
		t.Fatalf("SAS alone: %v", err)
	}
	_, err = readRange(t, e.pageBlob(sas, e.cred(responderID)), 0, 512)
	if !bloberror.HasCode(err, bloberror.AuthorizationPermissionMismatch) || !strings.Contains(err.Error(), "snapshots/download/action") {
		t.Fatalf("without the data action: %v", err)
	}
	data, err := readRange(t, e.pageBlob(sas, e.cred(examinerID)), 4*ChunkSize, 512)
	if err != nil || bytes.Equal(data, make([]byte, 512)) {
		t.Fatalf("with the data action: %v", err)
	}

	if _, err := e.copyInto(responderID, "deny", denyDiskID); err != nil {
		t.Fatal(err)
	}
	_, err = e.grant(responderID, subForensic, rgEvidence, "deny", 600)
	re := respErr(t, err, http.StatusConflict, "OperationNotAllowed")
	if !strings.Contains(re.Error(), "DenyAll") {
		t.Errorf("%v", re)
	}
	// A disk attached to a running VM cannot be exported.
	p, err := e.compute(responderID, subWorkload).NewDisksClient().BeginGrantAccess(context.Background(), rgWeb, "web-1-os",
		armcompute.GrantAccessData{Access: ptr(armcompute.AccessLevelRead), DurationInSeconds: ptr[int32](60)}, nil)
	_ = p
	respErr(t, err, http.StatusConflict, "OperationNotAllowed")
}

// Wrong bytes on a range read: one byte differs, the length is intact.
func TestWrongBytes(t *testing.T) {
	e := newEnv(t, func(sc *Scenario) {
		sc.Faults = Faults{Rules: []FaultRule{{Kind: FaultWrongBytes, Operations: []string{"Blob_Download"}, Max: 1}}}
	})
	if _, err := e.copyInto(responderID, "ev", rootDiskID); err != nil {
		t.Fatal(err)
	}
	sas, err := e.grant(responderID, subForensic, rgEvidence, "ev", 600)
	if err != nil {
		t.Fatal(err)
	}
	bad, err := readRange(t, e.pageBlob(sas, nil), 0, 4)
	if err != nil {
		t.Fatal(err)
	}
	good, err := readRange(t, e.pageBlob(sas, nil), 0, 4)
	if err != nil || string(good) != "MBR!" || string(bad) == "MBR!" || len(bad) != 4 {
		t.Fatalf("bad %q, good %q, %v", bad, good, err)
	}
}

// Management locks: CanNotDelete blocks delete, ReadOnly blocks
// beginGetAccess; Contributor cannot remove a lock, Owner can.
func TestLocks(t *testing.T) {
	e := newEnv(t)
	if _, err := e.copyInto(responderID, "ev", dataDiskID); err != nil {
		t.Fatal(err)
	}
	scope := snapshotID(subForensic, rgEvidence, "ev")
	locks := func(clientID string) *armlocks.ManagementLocksClient {
		c, err := armlocks.NewManagementLocksClient(subForensic, e.cred(clientID), e.armOptions())
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	_, err := locks(responderID).CreateOrUpdateByScope(context.Background(), scope, "evidence", armlocks.ManagementLockObject{
		Properties: &armlocks.ManagementLockProperties{Level: ptr(armlocks.LockLevelCanNotDelete)}}, nil)
	respErr(t, err, http.StatusForbidden, "AuthorizationFailed")
	if _, err := locks(ownerID).CreateOrUpdateByScope(context.Background(), scope, "evidence", armlocks.ManagementLockObject{
		Properties: &armlocks.ManagementLockProperties{Level: ptr(armlocks.LockLevelCanNotDelete), Notes: ptr("case IR-7")}}, nil); err != nil {
		t.Fatal(err)
	}
	_, err = e.compute(responderID, subForensic).NewSnapshotsClient().BeginDelete(context.Background(), rgEvidence, "ev", nil)
	respErr(t, err, http.StatusConflict, "ScopeLocked")
	if _, err := e.grant(responderID, subForensic, rgEvidence, "ev", 60); err != nil {
		t.Fatalf("CanNotDelete blocked beginGetAccess: %v", err)
	}
	e.revoke(responderID, subForensic, rgEvidence, "ev")
	if _, err := locks(ownerID).CreateOrUpdateAtResourceGroupLevel(context.Background(), rgEvidence, "freeze", armlocks.ManagementLockObject{
		Properties: &armlocks.ManagementLockProperties{Level: ptr(armlocks.LockLevelReadOnly)}}, nil); err != nil {
		t.Fatal(err)
	}
	_, err = e.grant(responderID, subForensic, rgEvidence, "ev", 60)
	respErr(t, err, http.StatusConflict, "ScopeLocked")
	if got := e.sim.Locks(); len(got) != 2 {
		t.Fatalf("locks %+v", got)
	}
	got, err := locks(examinerID).GetByScope(context.Background(), scope, "evidence", nil)
	if err != nil || *got.Properties.Level != armlocks.LockLevelCanNotDelete || *got.Properties.Notes != "case IR-7" {
		t.Fatalf("get: %v", err)
	}
	for _, name := range []string{"evidence"} {
		if _, err := locks(ownerID).DeleteByScope(context.Background(), scope, name, nil); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := locks(ownerID).DeleteAtResourceGroupLevel(context.Background(), rgEvidence, "freeze", nil); err != nil {
		t.Fatal(err)
	}
	p, err := e.compute(responderID, subForensic).NewSnapshotsClient().BeginDelete(context.Background(), rgEvidence, "ev", nil)
	if err == nil {
		_, err = p.PollUntilDone(context.Background(), fast)
	}
	if err != nil {
		t.Fatalf("delete after the locks went: %v", err)
	}
}
