package azuresim

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"math/big"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/arm"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/cloud"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/runtime"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/compute/armcompute/v7"
)

const (
	tenantA     = "11111111-1111-4111-8111-111111111111"
	tenantB     = "22222222-2222-4222-8222-222222222222"
	subWorkload = "aaaaaaaa-0000-4000-8000-000000000001"
	subForensic = "bbbbbbbb-0000-4000-8000-000000000002"
	subOther    = "cccccccc-0000-4000-8000-000000000003"
	responderID = "0a0a0a0a-0000-4000-8000-00000000000a"
	examinerID  = "0b0b0b0b-0000-4000-8000-00000000000b"
	limitedID   = "0c0c0c0c-0000-4000-8000-00000000000c"
	certAppID   = "0d0d0d0d-0000-4000-8000-00000000000d"
	ownerID     = "0e0e0e0e-0000-4000-8000-00000000000e"
	outsiderID  = "0f0f0f0f-0000-4000-8000-00000000000f"
	rgWeb       = "rg-web"
	rgEvidence  = "rg-evidence"
	region      = "westeurope"
	testSecret  = "test-secret-value"
	rootDiskID  = "/subscriptions/" + subWorkload + "/resourceGroups/rg-web/providers/Microsoft.Compute/disks/web-1-os"
	dataDiskID  = "/subscriptions/" + subWorkload + "/resourceGroups/rg-web/providers/Microsoft.Compute/disks/web-1-data"
	aadDiskID   = "/subscriptions/" + subWorkload + "/resourceGroups/rg-web/providers/Microsoft.Compute/disks/locked-down"
	denyDiskID  = "/subscriptions/" + subWorkload + "/resourceGroups/rg-web/providers/Microsoft.Compute/disks/no-export"
	evidenceDES = "/subscriptions/" + subForensic + "/resourceGroups/rg-evidence/providers/Microsoft.Compute/diskEncryptionSets/des-evidence"
	otherDiskID = "/subscriptions/" + subOther + "/resourceGroups/rg-other/providers/Microsoft.Compute/disks/other"
)

// testClock is a settable clock.
type testClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *testClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *testClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

// writeImage makes a sparse 1 GiB image with data at the given offsets.
func writeImage(t *testing.T, marks map[int64]string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "disk.img")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := f.Truncate(1 << 30); err != nil {
		t.Fatal(err)
	}
	for off, s := range marks {
		if _, err := f.WriteAt([]byte(s), off); err != nil {
			t.Fatal(err)
		}
	}
	return path
}

// testCert is a self-signed certificate and its key, for the certificate
// credential.
func testCert(t *testing.T) ([]*x509.Certificate, *rsa.PrivateKey, string) {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(7), Subject: pkix.Name{CommonName: "acquire test app"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	return []*x509.Certificate{cert}, key, string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}))
}

// testScenario: tenant A holds the workload and forensic subscriptions,
// tenant B another one.
func testScenario(t *testing.T, image, certPEM string) *Scenario {
	return &Scenario{
		Seed: 42, SnapshotBytesPerSecond: -1, RetryAfterSeconds: -1, TokenLifetime: Duration(4 * time.Hour),
		Tenants: []ScenarioTenant{
			{ID: tenantA, Name: "contoso", Principals: []ScenarioPrincipal{
				{Name: "responder", ClientID: responderID, ClientSecret: testSecret},
				{Name: "examiner", ClientID: examinerID, ClientSecret: testSecret},
				{Name: "limited", ClientID: limitedID, ClientSecret: testSecret},
				{Name: "owner", ClientID: ownerID, ClientSecret: testSecret},
				{Name: "cert-app", ClientID: certAppID, CertificatePEM: certPEM},
			}},
			{ID: tenantB, Name: "fabrikam", Principals: []ScenarioPrincipal{{Name: "outsider", ClientID: outsiderID, ClientSecret: testSecret}}},
		},
		Roles: []ScenarioRole{{Name: "Snapshot reader without export", Actions: []string{"Microsoft.Compute/*/read"}}},
		Subscriptions: []ScenarioSubscription{
			{ID: subWorkload, Name: "workload", Tenant: tenantA,
				RoleAssignments: []ScenarioRoleAssignment{
					{Principal: "responder", Role: "Contributor"},
					{Principal: "limited", Role: "Snapshot reader without export"},
					{Principal: "cert-app", Role: "Reader"},
				},
				ResourceGroups: []ScenarioResourceGroup{{Name: rgWeb, Location: region, Tags: map[string]string{"env": "prod"},
					DiskEncryptionSets: []ScenarioDES{{Name: "des-workload", KeyURL: "https://kv-web.vault.azure.net/keys/disks/0123"}},
					Disks: []ScenarioDisk{
						{Name: "web-1-os", SizeGiB: 1, OSType: "Linux", Image: image, Tags: map[string]string{"role": "os"}},
						{Name: "web-1-data", SizeGiB: 1, SKU: "StandardSSD_LRS", Synthetic: &SyntheticContent{Chunks: []int64{0, 1, 9, 200}, Seed: 3}, DiskEncryptionSet: "des-workload"},
						{Name: "locked-down", SizeGiB: 1, Synthetic: &SyntheticContent{Chunks: []int64{4}, Seed: 4}, DataAccessAuthMode: "AzureActiveDirectory"},
						{Name: "no-export", SizeGiB: 1, Synthetic: &SyntheticContent{Chunks: []int64{5}, Seed: 5}, NetworkAccessPolicy: "DenyAll"},
						{Name: "ultra", SizeGiB: 1, SKU: "PremiumV2_LRS", Synthetic: &SyntheticContent{Chunks: []int64{6}, Seed: 6}},
					},
					NetworkSecurityGroups: []ScenarioNSG{{Name: "web-nsg", Rules: []ScenarioNSGRule{{Name: "ssh", Priority: 100, Direction: "Inbound", Access: "Allow", Protocol: "Tcp", DestinationPortRange: "22"}}}},
					NetworkInterfaces:     []ScenarioNIC{{Name: "web-1-nic", PrivateIPAddress: "10.0.1.4", NetworkSecurityGroup: "web-nsg", MACAddress: "00-0D-3A-00-00-01"}},
					Identities:            []ScenarioUserIdentity{{Name: "web-identity"}},
					VirtualMachines: []ScenarioVM{{Name: "web-1", VMSize: "Standard_D2s_v5", OSDisk: "web-1-os", DataDisks: []ScenarioDataDisk{{Disk: "web-1-data", LUN: 0}},
						NICs: []string{"web-1-nic"}, Identity: "SystemAssigned, UserAssigned", UserAssignedIdentities: []string{"web-identity"},
						UserData: "#!/bin/sh\necho hello\n", Tags: map[string]string{"app": "shop"}}},
				}}},
			{ID: subForensic, Name: "forensic", Tenant: tenantA,
				RoleAssignments: []ScenarioRoleAssignment{
					{Principal: "responder", Role: "Disk Snapshot Contributor"},
					{Principal: "responder", Role: "Reader"},
					{Principal: "limited", Role: "Disk Snapshot Contributor"},
					{Principal: "limited", Role: "Reader"},
					{Principal: "examiner", Role: "Reader"},
					{Principal: "examiner", Role: "Data Operator for Managed Disks"},
					{Principal: "owner", Role: "Owner"},
				},
				ResourceGroups: []ScenarioResourceGroup{{Name: rgEvidence, Location: region,
					DiskEncryptionSets: []ScenarioDES{{Name: "des-evidence", KeyURL: "https://kv-evidence.vault.azure.net/keys/evidence/4567"}}}}},
			{ID: subOther, Name: "other", Tenant: tenantB,
				RoleAssignments: []ScenarioRoleAssignment{{Principal: "outsider", Role: "Owner"}},
				ResourceGroups: []ScenarioResourceGroup{{Name: "rg-other", Location: region,
					Disks: []ScenarioDisk{{Name: "other", Synthetic: &SyntheticContent{Chunks: []int64{1}, Seed: 9}}}}}},
		},
	}
}

// env is a simulator on a TLS test server with the clients' settings.
type env struct {
	t        *testing.T
	scenario *Scenario
	sim      *Server
	srv      *httptest.Server
	clock    *testClock
	client   *http.Client
	cloud    cloud.Configuration
	keys     struct {
		certs []*x509.Certificate
		key   *rsa.PrivateKey
	}
}

func newEnv(t *testing.T, mutate ...func(*Scenario)) *env {
	t.Helper()
	image := writeImage(t, map[int64]string{0: "MBR!", 5 << 20: "evidence at 5 MiB", 700 << 20: "deleted.php"})
	certs, key, certPEM := testCert(t)
	sc := testScenario(t, image, certPEM)
	for _, m := range mutate {
		m(sc)
	}
	e := &env{t: t, scenario: sc, clock: &testClock{now: time.Now().UTC().Truncate(time.Second)}}
	e.keys.certs, e.keys.key = certs, key
	sim, err := New(sc, &Options{Now: e.clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	e.start(sim)
	return e
}

func (e *env) start(sim *Server) {
	e.sim = sim
	e.srv = httptest.NewUnstartedServer(sim)
	e.srv.TLS = sim.TLSConfig()
	e.srv.StartTLS()
	e.t.Cleanup(func() { e.srv.Close(); sim.Close() })
	e.client = &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: sim.CA().CertPool()}}}
	e.cloud = cloud.Configuration{ActiveDirectoryAuthorityHost: e.srv.URL + "/",
		Services: map[cloud.ServiceName]cloud.ServiceConfiguration{cloud.ResourceManager: {Endpoint: e.srv.URL, Audience: "https://management.core.windows.net/"}}}
}

func (e *env) clientOptions() azcore.ClientOptions {
	return azcore.ClientOptions{Cloud: e.cloud, Transport: e.client, Retry: policy.RetryOptions{MaxRetries: -1}}
}

func (e *env) cred(clientID string) azcore.TokenCredential {
	e.t.Helper()
	c, err := azidentity.NewClientSecretCredential(tenantOf(clientID), clientID, testSecret,
		&azidentity.ClientSecretCredentialOptions{ClientOptions: e.clientOptions(), DisableInstanceDiscovery: true})
	if err != nil {
		e.t.Fatal(err)
	}
	return c
}

func tenantOf(clientID string) string {
	if clientID == outsiderID {
		return tenantB
	}
	return tenantA
}

func (e *env) armOptions() *arm.ClientOptions {
	return &arm.ClientOptions{ClientOptions: e.clientOptions()}
}

func (e *env) compute(clientID, sub string) *armcompute.ClientFactory {
	e.t.Helper()
	f, err := armcompute.NewClientFactory(sub, e.cred(clientID), e.armOptions())
	if err != nil {
		e.t.Fatal(err)
	}
	return f
}

var fast = &runtime.PollUntilDoneOptions{Frequency: 10 * time.Millisecond}

// respErr asserts an *azcore.ResponseError with the code and returns it.
func respErr(t *testing.T, err error, status int, code string) *azcore.ResponseError {
	t.Helper()
	var re *azcore.ResponseError
	if !errors.As(err, &re) {
		t.Fatalf("want %d %s, got %v", status, code, err)
	}
	if re.StatusCode != status || re.ErrorCode != code {
		t.Fatalf("want %d %s, got %d %s: %v", status, code, re.StatusCode, re.ErrorCode, err)
	}
	return re
}

func snapshotID(sub, rg, name string) string {
	return "/subscriptions/" + sub + "/resourceGroups/" + rg + "/providers/Microsoft.Compute/snapshots/" + name
}

// copyInto makes a full snapshot of source in the forensic subscription.
func (e *env) copyInto(clientID, name, source string) (armcompute.Snapshot, error) {
	cl := e.compute(clientID, subForensic).NewSnapshotsClient()
	poller, err := cl.BeginCreateOrUpdate(context.Background(), rgEvidence, name, armcompute.Snapshot{
		Location: ptr(region), Tags: map[string]*string{"case": ptr("IR-7")},
		Properties: &armcompute.SnapshotProperties{Incremental: ptr(false),
			CreationData: &armcompute.CreationData{CreateOption: ptr(armcompute.DiskCreateOptionCopy), SourceResourceID: ptr(source)},
			Encryption:   &armcompute.Encryption{DiskEncryptionSetID: ptr(evidenceDES), Type: ptr(armcompute.EncryptionTypeEncryptionAtRestWithCustomerKey)}},
	}, nil)
	if err != nil {
		return armcompute.Snapshot{}, err
	}
	res, err := poller.PollUntilDone(context.Background(), fast)
	return res.Snapshot, err
}

func ptr[T any](v T) *T { return &v }
