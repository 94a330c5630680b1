package azure

import (
	"crypto/tls"
	"crypto/x509"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/cloud"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"

	"github.com/acquire-forensics/acquire/providers/acquisition"
	"github.com/acquire-forensics/acquire/providers/azure/azuresim"
	"github.com/acquire-forensics/acquire/providers/driver"
	"github.com/acquire-forensics/acquire/providers/providertest"
)

const (
	tenant          = "11111111-1111-4111-8111-111111111111"
	sourceSub       = "aaaaaaaa-0000-4000-8000-000000000001"
	forensicSub     = "bbbbbbbb-0000-4000-8000-000000000002"
	otherSub        = "cccccccc-0000-4000-8000-000000000003" // neither side's
	responderClient = "0a0a0a0a-0000-4000-8000-00000000000a" // the source side
	collectorClient = "0b0b0b0b-0000-4000-8000-00000000000b" // the forensic side
	responderSecret = "responder-client-secret-value"
	collectorSecret = "collector-client-secret-value"
	region          = "westeurope"
	rgWeb           = "rg-web"
	rgEvidence      = "rg-evidence"
	sourceRole      = "acquire source reader"
	forensicRole    = "acquire forensic collector"
	linkedRole      = "acquire forensic source disks"
	crashRole       = "acquire source restore point"
)

func diskID(name string) string {
	return "/subscriptions/" + sourceSub + "/resourceGroups/" + rgWeb + "/providers/Microsoft.Compute/disks/" + name
}

func vmID(name string) string {
	return "/subscriptions/" + sourceSub + "/resourceGroups/" + rgWeb + "/providers/Microsoft.Compute/virtualMachines/" + name
}

var forensicDES = "/subscriptions/" + forensicSub + "/resourceGroups/" + rgEvidence + "/providers/Microsoft.Compute/diskEncryptionSets/des-evidence"

// imageFixture is a set of small sparse disk images, made once per test binary.
type imageFixture struct {
	once   sync.Once
	dir    string
	err    error
	sha256 map[string]string // by disk ID
	paths  map[string]string // by disk name
}

var images imageFixture

// fixtureDisks: name -> written 512 KiB blocks.
var fixtureDisks = map[string][]int64{
	"disk-1":    {0, 1, 7, 1000}, // alone
	"disk-2":    {0, 3},          // alone, under the source's disk encryption set
	"vm-1-os":   {0, 5, 6},
	"vm-1-data": {10, 11, 12, 13, 1500},
	"vm-2-os":   {0, 9},
	"aad-only":  {2, 4}, // dataAccessAuthMode AzureActiveDirectory: its SAS needs a bearer token too
}

func (f *imageFixture) make() error {
	f.once.Do(func() {
		f.dir, f.err = os.MkdirTemp("", "acquire-azure-images-")
		if f.err != nil {
			return
		}
		f.sha256, f.paths = map[string]string{}, map[string]string{}
		for name, blocks := range fixtureDisks {
			path := filepath.Join(f.dir, name+".img")
			if f.err = providertest.WriteImage(path, blocks); f.err != nil {
				return
			}
			if f.sha256[diskID(name)], f.err = providertest.FileSHA256(path); f.err != nil {
				return
			}
			f.paths[name] = path
		}
	})
	return f.err
}

// scenario: the source principal holds the source role `acquire iam azure` prints; the forensic
// principal the forensic role in the evidence resource group, and beginGetAccess on the source disks.
func scenario(t testing.TB) *azuresim.Scenario {
	if err := images.make(); err != nil {
		t.Fatal(err)
	}
	disk := func(name string, des string) azuresim.ScenarioDisk {
		return azuresim.ScenarioDisk{Name: name, SizeGiB: 1, SKU: "Premium_LRS", Image: images.paths[name], DiskEncryptionSet: des}
	}
	aadDisk := disk("aad-only", "")
	aadDisk.DataAccessAuthMode = "AzureActiveDirectory"
	return &azuresim.Scenario{
		Seed: 1, SnapshotBytesPerSecond: 2 << 30, RetryAfterSeconds: -1, TokenLifetime: azuresim.Duration(4 * time.Hour),
		Tenants: []azuresim.ScenarioTenant{{ID: tenant, Name: "contoso", Principals: []azuresim.ScenarioPrincipal{
			{Name: "responder", ClientID: responderClient, ClientSecret: responderSecret},
			{Name: "collector", ClientID: collectorClient, ClientSecret: collectorSecret},
		}}},
		Roles: scenarioRoles(),
		Subscriptions: []azuresim.ScenarioSubscription{
			{ID: sourceSub, Name: "workload", Tenant: tenant,
				RoleAssignments: []azuresim.ScenarioRoleAssignment{{Principal: "responder", Role: sourceRole}, {Principal: "responder", Role: crashRole},
					{Principal: "collector", Role: linkedRole}},
				ResourceGroups: []azuresim.ScenarioResourceGroup{{Name: rgWeb, Location: region,
					DiskEncryptionSets: []azuresim.ScenarioDES{{Name: "des-web", KeyURL: "https://kv-web.vault.azure.net/keys/disks/0123"}},
					Disks:              []azuresim.ScenarioDisk{disk("disk-1", ""), disk("disk-2", "des-web"), disk("vm-1-os", ""), disk("vm-1-data", "des-web"), disk("vm-2-os", ""), aadDisk},
					NetworkSecurityGroups: []azuresim.ScenarioNSG{{Name: "web-nsg", Rules: []azuresim.ScenarioNSGRule{
						{Name: "ssh", Priority: 100, Direction: "Inbound", Access: "Allow", Protocol: "Tcp", DestinationPortRange: "22"}}}},
					NetworkInterfaces: []azuresim.ScenarioNIC{{Name: "vm-1-nic", PrivateIPAddress: "10.0.1.4", NetworkSecurityGroup: "web-nsg"}, {Name: "vm-2-nic", PrivateIPAddress: "10.0.1.5"}},
					Identities:        []azuresim.ScenarioUserIdentity{{Name: "web-identity"}},
					VirtualMachines: []azuresim.ScenarioVM{
						{Name: "vm-1", VMSize: "Standard_D2s_v5", OSDisk: "vm-1-os", DataDisks: []azuresim.ScenarioDataDisk{{Disk: "vm-1-data", LUN: 0}},
							NICs: []string{"vm-1-nic"}, Identity: "SystemAssigned, UserAssigned", UserAssignedIdentities: []string{"web-identity"}, UserData: "#!/bin/sh\necho hi\n"},
						{Name: "vm-2", VMSize: "Standard_B2s", OSDisk: "vm-2-os", NICs: []string{"vm-2-nic"}},
					},
				}}},
			{ID: forensicSub, Name: "forensics", Tenant: tenant,
				RoleAssignments: []azuresim.ScenarioRoleAssignment{{Principal: "collector", Role: forensicRole, Scope: "resourceGroups/" + rgEvidence}},
				ResourceGroups: []azuresim.ScenarioResourceGroup{{Name: rgEvidence, Location: region,
					DiskEncryptionSets: []azuresim.ScenarioDES{{Name: "des-evidence", KeyURL: "https://kv-evidence.vault.azure.net/keys/evidence/4567"}}}}},
		},
	}
}

// scenarioRoles are the custom roles `acquire iam azure --consistency crash-consistent` prints, as the
// simulator takes them.
func scenarioRoles() []azuresim.ScenarioRole {
	var out []azuresim.ScenarioRole
	for _, r := range Roles(sourceSub, forensicSub, rgEvidence, true) {
		out = append(out, azuresim.ScenarioRole{Name: r.Definition.Name, Actions: r.Definition.Actions, DataActions: r.Definition.DataActions})
	}
	return out
}

// rangeClient reaches a simulator: its CA, its cloud configuration.
type rangeClient struct {
	url    string
	http   *http.Client
	cloud  cloud.Configuration
	caFile string
}

func clientFor(url string, sim *azuresim.Server) rangeClient {
	return clientWithCA(url, sim.CA().CertPool())
}

func clientWithCA(url string, pool *x509.CertPool) rangeClient {
	return rangeClient{url: url,
		http: &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}, MaxIdleConnsPerHost: 64}},
		cloud: cloud.Configuration{ActiveDirectoryAuthorityHost: url + "/",
			Services: map[cloud.ServiceName]cloud.ServiceConfiguration{cloud.ResourceManager: {Endpoint: url, Audience: "https://management.core.windows.net/"}}}}
}

func (rc rangeClient) credential(t testing.TB, clientID, secret string) azcore.TokenCredential {
	return rc.credentialIn(t, tenant, clientID, secret)
}

func (rc rangeClient) credentialIn(t testing.TB, tenant, clientID, secret string) azcore.TokenCredential {
	c, err := azidentity.NewClientSecretCredential(tenant, clientID, secret, &azidentity.ClientSecretCredentialOptions{
		ClientOptions: azcore.ClientOptions{Cloud: rc.cloud, Transport: rc.http, Retry: policy.RetryOptions{MaxRetries: 3, RetryDelay: 5 * time.Millisecond}}, DisableInstanceDiscovery: true})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func (rc rangeClient) config(t testing.TB) Config {
	return Config{
		SourceSubscription: sourceSub, ForensicSubscription: forensicSub, ForensicResourceGroup: rgEvidence, ForensicDiskEncryptionSet: forensicDES,
		SourceCredential:   rc.credential(t, responderClient, responderSecret),
		ForensicCredential: rc.credential(t, collectorClient, collectorSecret),
		Cloud:              rc.cloud, HTTPClient: rc.http,
		PollFrequency: 5 * time.Millisecond, MaxRetries: 8, RetryDelay: 5 * time.Millisecond, SASDuration: 10 * time.Minute,
	}
}

// startSim serves a fresh simulator over TLS and returns it with a driver for it.
func startSim(t testing.TB, sc *azuresim.Scenario, tune func(*Config)) (*azuresim.Server, *Driver, rangeClient) {
	t.Helper()
	return startSimWith(t, sc, nil, tune)
}

// startSimWith is startSim with the simulator's options (its logger).
func startSimWith(t testing.TB, sc *azuresim.Scenario, opts *azuresim.Options, tune func(*Config)) (*azuresim.Server, *Driver, rangeClient) {
	t.Helper()
	sim, err := azuresim.New(sc, opts)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(sim)
	srv.TLS = sim.TLSConfig()
	srv.StartTLS()
	t.Cleanup(func() { srv.Close(); sim.Close() })
	rc := clientFor(srv.URL, sim)
	cfg := rc.config(t)
	if tune != nil {
		tune(&cfg)
	}
	d, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return sim, d, rc
}

// harness runs the conformance suite against the Azure simulator.
type harness struct {
	faults azuresim.Faults
}

func (h harness) New(t *testing.T) *providertest.Env {
	sc := scenario(t)
	sc.Faults = h.faults
	sim, d, _ := startSim(t, sc, nil)
	return h.envFor(d, sim)
}

func (h harness) envFor(d *Driver, sim *azuresim.Server) *providertest.Env {
	one := func(v string) providertest.Scenario {
		return providertest.Scenario{Target: driver.Target{Location: region, Volumes: []string{diskID(v)}}, Volumes: []string{diskID(v)}}
	}
	return &providertest.Env{
		Driver:      d,
		Destination: driver.Destination{Account: forensicSub, Location: region, Key: forensicDES},
		Scenarios: map[string]providertest.Scenario{
			"single-volume":   one("disk-1"),
			"customer-key":    one("disk-2"),
			"aad-data-access": one("aad-only"),
			"two-volume-instance": {Target: driver.Target{Location: region, Workloads: []string{vmID("vm-1")}},
				Volumes: []string{diskID("vm-1-os"), diskID("vm-1-data")}},
			"two-instances": {Target: driver.Target{Location: region, Workloads: []string{vmID("vm-1"), vmID("vm-2")}},
				Volumes: []string{diskID("vm-1-os"), diskID("vm-1-data"), diskID("vm-2-os")}},
		},
		Inspect:       inspector{sim},
		Faults:        &simFaults{sim: sim, base: h.faults},
		CreatingCalls: []string{"Snapshots_CreateOrUpdate", "Snapshots_GrantAccess", "Snapshots_RevokeAccess"},
		LockMode:      &driver.LockRequest{Mode: "CanNotDelete"},
		Cannot: map[providertest.Ability]string{
			providertest.CanCrossLocation: "ARM copies a disk into another subscription within its region only; the cross-region path (an incremental snapshot copied with CopyStart) first leaves the evidence in the compromised subscription",
		},
		ErrorCodes: errorCases(),
		Tune: func(o *acquisition.Options) {
			o.PollInterval, o.MaxPollInterval, o.RetryBackoff, o.MissingTimeout, o.RetryDeadline = 5*time.Millisecond, 50*time.Millisecond, 5*time.Millisecond, 2*time.Second, 10*time.Second
		},
	}
}

type inspector struct{ sim *azuresim.Server }

func (i inspector) Snapshots(side driver.Side) []providertest.SnapshotInfo {
	sub := sourceSub
	if side == driver.Forensic {
		sub = forensicSub
	}
	locked := map[string]bool{}
	for _, l := range i.sim.Locks() {
		locked[strings.ToLower(l.Scope)] = l.Level == "CanNotDelete"
	}
	var out []providertest.SnapshotInfo
	for _, s := range i.sim.Snapshots(sub) {
		vol := s.Tags[sourceVolumeTag]
		if vol == "" {
			vol = s.SourceID
		}
		state := string(driver.StatePending)
		switch s.ProvisioningState {
		case "Succeeded":
			state = string(driver.StateCompleted)
		case "Failed":
			state = string(driver.StateError)
		}
		out = append(out, providertest.SnapshotInfo{ID: s.ID, Location: s.Location, SourceVolume: vol, KeyID: s.DiskEncryptionSetID,
			State: state, Encrypted: true, Locked: locked[strings.ToLower(s.ID)], Case: s.Tags[caseTag]})
	}
	return out
}

// Temporaries: open SAS grants, restore points and their collections, disks restored in the forensic
// subscription.
func (i inspector) Temporaries() []string {
	var out []string
	for _, g := range i.sim.OpenGrants() {
		out = append(out, "open SAS on "+g.ResourceID)
	}
	for _, rp := range i.sim.RestorePoints() {
		out = append(out, "restore point "+rp.ID)
	}
	for _, rpc := range i.sim.RestorePointCollections() {
		out = append(out, "restore point collection "+rpc.ID)
	}
	for _, d := range i.sim.Disks(forensicSub) {
		out = append(out, "disk "+d.ID)
	}
	return out
}

func (i inspector) ImageSHA256(volumeID string) string { return images.sha256[volumeID] }

// simFaults adds the suite's faults to the harness's own.
type simFaults struct {
	sim   *azuresim.Server
	base  azuresim.Faults
	extra []azuresim.FaultRule
}

func (f *simFaults) apply() {
	all := f.base
	all.Rules = append(append([]azuresim.FaultRule(nil), f.base.Rules...), f.extra...)
	f.sim.SetFaults(all)
}

func (f *simFaults) LoseReplies(call string, n int) {
	f.extra = append(f.extra, azuresim.FaultRule{Kind: azuresim.FaultLostReply, Operations: []string{call}, Max: n})
	f.apply()
}

func (f *simFaults) FailSnapshots(vols ...string) {
	f.extra = append(f.extra, azuresim.FaultRule{Kind: azuresim.FaultFailOperation, Operations: []string{"Snapshots_CreateOrUpdate"}, Sources: vols})
	f.apply()
}

func (f *simFaults) Clear() {
	f.extra = nil
	f.apply()
}

func (f *simFaults) Calls() map[string]int { return f.sim.CallCounts() }

func TestConformance(t *testing.T) {
	providertest.RunConformanceTests(t, harness{})
}

func TestMain(m *testing.M) {
	code := m.Run()
	if images.dir != "" {
		os.RemoveAll(images.dir)
	}
	os.Exit(code)
}
