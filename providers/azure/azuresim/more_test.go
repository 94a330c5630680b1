package azuresim

import (
	"bytes"
	"context"
	"crypto/sha1"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/cloud"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/compute/armcompute/v7"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/network/armnetwork/v7"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/resources/armresources"
	"github.com/golang-jwt/jwt/v5"
)

// What the driver captures: the VM (with user data and instance view), its
// NIC and NSG, disks with encryption settings, the disk encryption set,
// resource groups.
func TestDescribeWorkload(t *testing.T) {
	e := newEnv(t)
	f := e.compute(responderID, subWorkload)
	vm, err := f.NewVirtualMachinesClient().Get(context.Background(), rgWeb, "web-1", &armcompute.VirtualMachinesClientGetOptions{Expand: ptr(armcompute.InstanceViewTypesUserData)})
	if err != nil {
		t.Fatal(err)
	}
	p := vm.Properties
	ud, _ := base64.StdEncoding.DecodeString(*p.UserData)
	if *p.StorageProfile.OSDisk.ManagedDisk.ID != rootDiskID || *p.StorageProfile.DataDisks[0].ManagedDisk.ID != dataDiskID ||
		*p.StorageProfile.DataDisks[0].ManagedDisk.DiskEncryptionSet.ID == "" || string(ud) != "#!/bin/sh\necho hello\n" ||
		*vm.Identity.Type != armcompute.ResourceIdentityTypeSystemAssignedUserAssigned || len(vm.Identity.UserAssignedIdentities) != 1 || *vm.Tags["app"] != "shop" {
		t.Fatalf("vm: %+v", p)
	}
	plain, _ := f.NewVirtualMachinesClient().Get(context.Background(), rgWeb, "web-1", nil)
	if plain.Properties.UserData != nil {
		t.Error("userData served without $expand=userData")
	}
	iv, err := f.NewVirtualMachinesClient().InstanceView(context.Background(), rgWeb, "web-1", nil)
	if err != nil || *iv.Statuses[1].Code != "PowerState/running" || len(iv.Disks) != 2 {
		t.Fatalf("instance view: %v %+v", err, iv)
	}
	pager := f.NewVirtualMachinesClient().NewListAllPager(nil)
	page, err := pager.NextPage(context.Background())
	if err != nil || len(page.Value) != 1 {
		t.Fatalf("list all: %v", err)
	}
	d, err := f.NewDisksClient().Get(context.Background(), rgWeb, "web-1-data", nil)
	if err != nil || *d.Properties.Encryption.Type != armcompute.EncryptionTypeEncryptionAtRestWithCustomerKey || *d.ManagedBy != *vm.ID ||
		*d.Properties.DiskState != armcompute.DiskStateAttached {
		t.Fatalf("disk: %v %+v", err, d.Properties)
	}
	des, err := f.NewDiskEncryptionSetsClient().Get(context.Background(), rgWeb, "des-workload", nil)
	if err != nil || !strings.Contains(*des.Properties.ActiveKey.KeyURL, "kv-web") {
		t.Fatalf("des: %v", err)
	}
	net, err := armnetwork.NewClientFactory(subWorkload, e.cred(responderID), e.armOptions())
	if err != nil {
		t.Fatal(err)
	}
	nicID := *p.NetworkProfile.NetworkInterfaces[0].ID
	nic, err := net.NewInterfacesClient().Get(context.Background(), rgWeb, nicID[strings.LastIndex(nicID, "/")+1:], nil)
	if err != nil || *nic.Properties.IPConfigurations[0].Properties.PrivateIPAddress != "10.0.1.4" {
		t.Fatalf("nic: %v", err)
	}
	nsgID := *nic.Properties.NetworkSecurityGroup.ID
	nsg, err := net.NewSecurityGroupsClient().Get(context.Background(), rgWeb, nsgID[strings.LastIndex(nsgID, "/")+1:], nil)
	if err != nil || *nsg.Properties.SecurityRules[0].Properties.DestinationPortRange != "22" {
		t.Fatalf("nsg: %v", err)
	}
	rg, err := armresources.NewResourceGroupsClient(subWorkload, e.cred(responderID), e.armOptions())
	if err != nil {
		t.Fatal(err)
	}
	g, err := rg.Get(context.Background(), rgWeb, nil)
	if err != nil || *g.Tags["env"] != "prod" {
		t.Fatalf("resource group: %v", err)
	}
	if _, err := rg.Get(context.Background(), "nope", nil); err == nil {
		t.Error("a missing resource group was found")
	} else {
		respErr(t, err, http.StatusNotFound, "ResourceGroupNotFound")
	}
	_, err = f.NewDisksClient().Get(context.Background(), rgWeb, "missing", nil)
	respErr(t, err, http.StatusNotFound, "ResourceNotFound")
}

// VM restore points: crash-consistent across the VM's disks, at most one
// per hour, each disk restore point readable through beginGetAccess.
func TestRestorePoints(t *testing.T) {
	e := newEnv(t)
	f := e.compute(responderID, subWorkload)
	vmID := "/subscriptions/" + subWorkload + "/resourceGroups/rg-web/providers/Microsoft.Compute/virtualMachines/web-1"
	if _, err := f.NewRestorePointCollectionsClient().CreateOrUpdate(context.Background(), rgWeb, "rpc-ir7", armcompute.RestorePointCollection{
		Location: ptr(region), Properties: &armcompute.RestorePointCollectionProperties{Source: &armcompute.RestorePointCollectionSourceProperties{ID: ptr(vmID)}}}, nil); err != nil {
		t.Fatal(err)
	}
	create := func(name string) error {
		p, err := f.NewRestorePointsClient().BeginCreate(context.Background(), rgWeb, "rpc-ir7", name, armcompute.RestorePoint{
			Properties: &armcompute.RestorePointProperties{ConsistencyMode: ptr(armcompute.ConsistencyModeTypesCrashConsistent)}}, nil)
		if err != nil {
			return err
		}
		_, err = p.PollUntilDone(context.Background(), fast)
		return err
	}
	if err := create("rp1"); err != nil {
		t.Fatal(err)
	}
	respErr(t, create("rp2"), http.StatusConflict, "OperationNotAllowed")
	e.clock.Advance(61 * time.Minute)
	if err := create("rp2"); err != nil {
		t.Fatalf("an hour later: %v", err)
	}
	rps := e.sim.RestorePoints()
	if len(rps) != 2 || len(rps[0].DiskRestorePoints) != 2 || rps[0].ConsistencyMode != "CrashConsistent" {
		t.Fatalf("restore points %+v", rps)
	}
	pager := f.NewDiskRestorePointClient().NewListByRestorePointPager(rgWeb, "rpc-ir7", "rp1", nil)
	page, err := pager.NextPage(context.Background())
	if err != nil || len(page.Value) != 2 {
		t.Fatalf("disk restore points: %v", err)
	}
	var osPoint string
	for _, d := range page.Value {
		if *d.Properties.SourceResourceID == rootDiskID {
			osPoint = *d.Name
		}
	}
	p, err := f.NewDiskRestorePointClient().BeginGrantAccess(context.Background(), rgWeb, "rpc-ir7", "rp1", osPoint,
		armcompute.GrantAccessData{Access: ptr(armcompute.AccessLevelRead), DurationInSeconds: ptr[int32](600)}, nil)
	if err != nil {
		t.Fatal(err)
	}
	res, err := p.PollUntilDone(context.Background(), fast)
	if err != nil {
		t.Fatal(err)
	}
	data, err := readRange(t, e.pageBlob(*res.AccessSAS, nil), 5<<20, 17)
	if err != nil || string(data) != "evidence at 5 MiB" {
		t.Fatalf("disk restore point data: %v %q", err, data)
	}
}

// Tokens: certificate assertions, environment variables, wrong secrets,
// expiry.
func TestEntraIDFlows(t *testing.T) {
	e := newEnv(t)
	cc, err := azidentity.NewClientCertificateCredential(tenantA, certAppID, e.keys.certs, e.keys.key,
		&azidentity.ClientCertificateCredentialOptions{ClientOptions: e.clientOptions(), DisableInstanceDiscovery: true})
	if err != nil {
		t.Fatal(err)
	}
	f, _ := armcompute.NewClientFactory(subWorkload, cc, e.armOptions())
	if _, err := f.NewDisksClient().Get(context.Background(), rgWeb, "web-1-os", nil); err != nil {
		t.Fatalf("certificate credential: %v", err)
	}
	// An assertion signed by another key, naming the certificate, is refused.
	_, otherKey, _ := testCert(t)
	sum := sha1.Sum(e.keys.certs[0].Raw)
	assertion := jwt.NewWithClaims(jwt.SigningMethodRS256, jwt.MapClaims{"aud": e.srv.URL + "/" + tenantA + "/oauth2/v2.0/token",
		"iss": certAppID, "sub": certAppID, "exp": time.Now().Add(5 * time.Minute).Unix(), "nbf": time.Now().Unix(), "jti": "1"})
	assertion.Header["x5t"] = base64.RawURLEncoding.EncodeToString(sum[:])
	signed, _ := assertion.SignedString(otherKey)
	resp, err := e.client.PostForm(e.srv.URL+"/"+tenantA+"/oauth2/v2.0/token", url.Values{"grant_type": {"client_credentials"}, "client_id": {certAppID},
		"scope": {"https://management.azure.com/.default"}, "client_assertion_type": {"urn:ietf:params:oauth:client-assertion-type:jwt-bearer"},
		"client_assertion": {signed}})
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized || !strings.Contains(string(body), "AADSTS700027") {
		t.Fatalf("assertion signed by another key: %d %s", resp.StatusCode, body)
	}
	wrong, _ := azidentity.NewClientSecretCredential(tenantA, responderID, "not-the-secret",
		&azidentity.ClientSecretCredentialOptions{ClientOptions: e.clientOptions(), DisableInstanceDiscovery: true})
	_, err = wrong.GetToken(context.Background(), policy.TokenRequestOptions{Scopes: []string{"https://management.azure.com/.default"}})
	if err == nil || !strings.Contains(err.Error(), "AADSTS7000215") || strings.Contains(err.Error(), testSecret) {
		t.Fatalf("wrong secret: %v", err)
	}
	var authErr *azidentity.AuthenticationFailedError
	if !errors.As(err, &authErr) {
		t.Errorf("not an AuthenticationFailedError: %T", err)
	}

	t.Setenv("AZURE_TENANT_ID", tenantA)
	t.Setenv("AZURE_CLIENT_ID", responderID)
	t.Setenv("AZURE_CLIENT_SECRET", testSecret)
	t.Setenv("AZURE_AUTHORITY_HOST", e.srv.URL)
	envCred, err := azidentity.NewEnvironmentCredential(&azidentity.EnvironmentCredentialOptions{ClientOptions: azcoreOptionsNoCloud(e), DisableInstanceDiscovery: true})
	if err != nil {
		t.Fatal(err)
	}
	ef, _ := armcompute.NewClientFactory(subWorkload, envCred, e.armOptions())
	if _, err := ef.NewDisksClient().Get(context.Background(), rgWeb, "web-1-os", nil); err != nil {
		t.Fatalf("environment credential: %v", err)
	}
	// Tokens expire: past their lifetime ARM refuses the cached one.
	dc := e.compute(responderID, subWorkload).NewDisksClient()
	if _, err := dc.Get(context.Background(), rgWeb, "web-1-os", nil); err != nil {
		t.Fatal(err)
	}
	e.clock.Advance(5 * time.Hour)
	_, err = dc.Get(context.Background(), rgWeb, "web-1-os", nil)
	respErr(t, err, http.StatusUnauthorized, "ExpiredAuthenticationToken")
}

func azcoreOptionsNoCloud(e *env) (o azcore.ClientOptions) {
	o = e.clientOptions()
	o.Cloud = cloud.Configuration{} // the authority comes from AZURE_AUTHORITY_HOST
	return o
}

// State saved and restored: snapshots, locks, SAS grants and operations
// survive; a state for another scenario is refused.
func TestSaveAndRestoreState(t *testing.T) {
	e := newEnv(t)
	if _, err := e.copyInto(responderID, "ev", rootDiskID); err != nil {
		t.Fatal(err)
	}
	sas, err := e.grant(responderID, subForensic, rgEvidence, "ev", 3600)
	if err != nil {
		t.Fatal(err)
	}
	var saved bytes.Buffer
	if err := e.sim.SaveState(&saved); err != nil {
		t.Fatal(err)
	}
	sc2 := testScenarioFrom(t, e)
	sim2, err := New(sc2, &Options{Now: e.clock.Now, CA: e.sim.CA(), State: bytes.NewReader(saved.Bytes())})
	if err != nil {
		t.Fatal(err)
	}
	sum, ok := sim2.RestoredState()
	if !ok || sum.Snapshots != 1 || sum.Grants != 1 {
		t.Fatalf("restored %+v", sum)
	}
	e2 := &env{t: t, clock: e.clock, keys: e.keys}
	e2.start(sim2)
	sas2 := strings.Replace(sas, strings.TrimPrefix(e.srv.URL, "https://"), strings.TrimPrefix(e2.srv.URL, "https://"), 1)
	if data, err := readRange(t, e2.pageBlob(sas2, nil), 0, 4); err != nil || string(data) != "MBR!" {
		t.Fatalf("the SAS after the restart: %v %q", err, data)
	}
	got, err := e2.compute(responderID, subForensic).NewSnapshotsClient().Get(context.Background(), rgEvidence, "ev", nil)
	if err != nil || *got.Properties.CreationData.SourceResourceID != rootDiskID {
		t.Fatalf("the snapshot after the restart: %v", err)
	}
	// Another scenario refuses it.
	sc3 := testScenarioFrom(t, e)
	sc3.Seed = 43
	if _, err := New(sc3, &Options{State: bytes.NewReader(saved.Bytes())}); !errors.Is(err, ErrStateRefused) {
		t.Fatalf("another scenario: %v", err)
	}
	if _, err := New(testScenarioFrom(t, e), &Options{State: strings.NewReader(`{"format":"azuresim-state","version":2}`)}); !errors.Is(err, ErrStateRefused) {
		t.Fatalf("another version: %v", err)
	}
}

// testScenarioFrom is a copy of the environment's scenario.
func testScenarioFrom(t *testing.T, e *env) *Scenario {
	t.Helper()
	data, err := json.Marshal(e.scenario)
	if err != nil {
		t.Fatal(err)
	}
	sc, err := ParseScenario(data, "")
	if err != nil {
		t.Fatal(err)
	}
	return sc
}
