package gcp

import (
	"context"
	"errors"
	"fmt"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"cloud.google.com/go/compute/apiv1/computepb"
	"google.golang.org/api/googleapi"

	"github.com/acquire-forensics/acquire/providers/acquisition"
	"github.com/acquire-forensics/acquire/providers/driver"
	"github.com/acquire-forensics/acquire/providers/gcp/gcpsim"
	"github.com/acquire-forensics/acquire/providers/providertest"
)

const (
	srcProject      = "acme-web-prod"
	forensicProject = "acme-forensics"
	zone            = "us-central1-a"
	responder       = "responder@acme-forensics.iam.gserviceaccount.com"
	examiner        = "examiner@acme-forensics.iam.gserviceaccount.com"
	sourceKey       = "projects/acme-web-prod/locations/us-central1/keyRings/workload/cryptoKeys/disks"
	evidenceKey     = "projects/acme-forensics/locations/us/keyRings/evidence/cryptoKeys/snapshots"
	evidenceKeyEU   = "projects/acme-forensics/locations/eu/keyRings/evidence/cryptoKeys/snapshots"
	suiteCaseID     = "IR-TEST" // the case ID of providertest.NewCase
	serviceAgent    = "serviceAccount:service-222222222222@compute-system.iam.gserviceaccount.com"
)

// imageFixture is a set of small sparse disk images, made once per test binary; their digests are
// computed when first asked for.
type imageFixture struct {
	once  sync.Once
	dir   string
	err   error
	mu    sync.Mutex
	sums  map[string]string // by disk name
	paths map[string]string
}

var images imageFixture

// fixtureDisks: disk name -> written 512 KiB blocks.
var fixtureDisks = map[string][]int64{
	"evidence-1": {0, 1, 7, 1000}, // alone
	"cmek-disk":  {0, 3},          // under the workload's own key
	"web-1":      {0, 5, 6},       // web-1's boot disk
	"web-1-data": {10, 11, 1500},  // web-1's data disk
	"db-1":       {0, 9},          // db-1's boot disk
}

func (f *imageFixture) make() error {
	f.once.Do(func() {
		f.dir, f.err = os.MkdirTemp("", "acquire-gcp-images-")
		if f.err != nil {
			return
		}
		f.sums, f.paths = map[string]string{}, map[string]string{}
		for name, blocks := range fixtureDisks {
			path := filepath.Join(f.dir, name+".img")
			if f.err = providertest.WriteImage(path, blocks); f.err != nil {
				return
			}
			f.paths[name] = path
		}
	})
	return f.err
}

func (f *imageFixture) sha256(name string) string {
	f.mu.Lock()
	defer f.mu.Unlock()
	if s, ok := f.sums[name]; ok {
		return s
	}
	s, err := providertest.FileSHA256(f.paths[name])
	if err != nil {
		return "error: " + err.Error()
	}
	f.sums[name] = s
	return s
}

func scenario(t testing.TB) *gcpsim.Scenario {
	if err := images.make(); err != nil {
		t.Fatal(err)
	}
	disk := func(name, key string) gcpsim.ScenarioDisk {
		return gcpsim.ScenarioDisk{Name: name, Zone: zone, SizeGb: 1, Image: images.paths[name], KMSKeyName: key}
	}
	return &gcpsim.Scenario{
		Seed:                   1,
		SnapshotBytesPerSecond: 2 << 30,
		Projects: []gcpsim.ScenarioProject{
			{
				ID: srcProject, Number: 111111111111,
				IAM:     []gcpsim.ScenarioBinding{{Member: "serviceAccount:" + responder, Roles: []string{"roles/compute.viewer", "roles/compute.storageAdmin"}}},
				KMSKeys: []gcpsim.ScenarioKMSKey{{Name: sourceKey}},
				Disks: []gcpsim.ScenarioDisk{disk("evidence-1", ""), disk("cmek-disk", sourceKey), disk("web-1", ""),
					disk("web-1-data", ""), disk("db-1", "")},
				Instances: []gcpsim.ScenarioInstance{
					{Name: "web-1", Zone: zone, Labels: map[string]string{"app": "web"}, Tags: []string{"http-server"},
						Metadata:          map[string]string{"startup-script": "#!/bin/sh\necho token=hunter2-metadata-secret\n", "ssh-keys": "deploy:ssh-ed25519 AAAA deploy"},
						ServiceAccount:    &gcpsim.ScenarioInstanceAccount{Email: "web@acme-web-prod.iam.gserviceaccount.com", Scopes: []string{"https://www.googleapis.com/auth/cloud-platform"}},
						NetworkInterfaces: []gcpsim.ScenarioNetworkInterface{{Network: "default", NetworkIP: "10.128.0.2", ExternalIP: "203.0.113.2"}},
						Disks: []gcpsim.ScenarioAttachedDisk{{Disk: "web-1", Boot: true, DeviceName: "persistent-disk-0"},
							{Disk: "web-1-data", DeviceName: "data"}}},
					{Name: "db-1", Zone: zone, Disks: []gcpsim.ScenarioAttachedDisk{{Disk: "db-1", Boot: true}}},
				},
				Images: []gcpsim.ScenarioImage{{Name: "web-golden", SourceDisk: "zones/" + zone + "/disks/web-1", Public: true}},
			},
			{
				ID: forensicProject, Number: 222222222222,
				ServiceAccounts: []gcpsim.ScenarioServiceAccount{{Email: responder}, {Email: examiner}},
				IAM: []gcpsim.ScenarioBinding{
					{Member: "serviceAccount:" + responder, Roles: []string{"roles/compute.admin", "roles/storage.admin"},
						Permissions: []string{"cloudkms.cryptoKeys.getIamPolicy"}}, // the preflight reads the key's policy
					{Member: "serviceAccount:" + examiner, Roles: []string{"roles/compute.viewer"}},
				},
				KMSKeys:  []gcpsim.ScenarioKMSKey{{Name: evidenceKey, EncrypterDecrypters: []string{serviceAgent}}, {Name: evidenceKeyEU, EncrypterDecrypters: []string{serviceAgent}}},
				Metadata: map[string]string{"enable-guest-attributes": "TRUE"},
			},
		},
	}
}

// simEnv is a simulator on loopback with the key file of its responder.
type simEnv struct {
	sim     *gcpsim.Server
	url     string
	keyFile string
}

func startSim(t testing.TB, sc *gcpsim.Scenario) simEnv {
	t.Helper()
	sim, err := gcpsim.New(sc, nil)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(sim)
	sim.SetStorageURL(srv.URL)
	t.Cleanup(func() { srv.Close(); sim.Close() })
	key, err := sim.KeyFile(responder, srv.URL+"/token")
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "responder.json")
	if err := os.WriteFile(path, key, 0o600); err != nil {
		t.Fatal(err)
	}
	return simEnv{sim: sim, url: srv.URL, keyFile: path}
}

func testConfig(url, keyFile string) Config {
	return Config{Project: srcProject, Zone: zone, ForensicProject: forensicProject, CredentialsFile: keyFile, Endpoint: url,
		PollInterval: 5 * time.Millisecond, RetryMaxBackoff: 50 * time.Millisecond}
}

func newDriver(t testing.TB, cfg Config) *Driver {
	t.Helper()
	d, err := New(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	return d
}

// harness runs the conformance suite against the Compute Engine simulator.
type harness struct {
	faults gcpsim.Faults
}

func (h harness) New(t *testing.T) *providertest.Env {
	sc := scenario(t)
	sc.Faults = h.faults
	e := startSim(t, sc)
	return h.envFor(newDriver(t, testConfig(e.url, e.keyFile)), e.sim)
}

func vol(name string) string { return diskID(srcProject, zone, name) }

// envFor is the suite's view of a driver and its simulator (nil in a helper process, which only acts).
func (h harness) envFor(d *Driver, sim *gcpsim.Server) *providertest.Env {
	one := func(name string) providertest.Scenario {
		return providertest.Scenario{Target: driver.Target{Location: zone, Volumes: []string{name}}, Volumes: []string{vol(name)}}
	}
	return &providertest.Env{
		Driver:      d,
		Destination: driver.Destination{Account: forensicProject, Key: evidenceKey},
		Scenarios: map[string]providertest.Scenario{
			"single-volume": one("evidence-1"),
			"customer-key":  one("cmek-disk"),
			"two-volume-instance": {Target: driver.Target{Location: zone, Workloads: []string{"web-1"}},
				Volumes: []string{vol("web-1"), vol("web-1-data")}},
			"cross-location": {Target: driver.Target{Location: zone, Volumes: []string{"cmek-disk"}}, Volumes: []string{vol("cmek-disk")},
				Destination: &driver.Destination{Account: forensicProject, Location: "eu", Key: evidenceKeyEU}},
			"two-instances": {Target: driver.Target{Location: zone, Workloads: []string{"web-1", "db-1"}},
				Volumes: []string{vol("web-1"), vol("web-1-data"), vol("db-1")}},
		},
		Inspect:       inspector{sim},
		Faults:        &simFaults{sim: sim, base: h.faults},
		CreatingCalls: []string{"compute.snapshots.insert"},
		Cannot: map[providertest.Ability]string{
			providertest.CanLock: "Compute Engine v1 has no snapshot lock or deletion protection for snapshots",
		},
		ErrorCodes: errorCases(),
		Tune: func(o *acquisition.Options) {
			o.PollInterval, o.MaxPollInterval, o.RetryBackoff, o.MissingTimeout, o.RetryDeadline = 5*time.Millisecond, 50*time.Millisecond, 5*time.Millisecond, 2*time.Second, 5*time.Second
		},
	}
}

type inspector struct{ sim *gcpsim.Server }

func (i inspector) Snapshots(side driver.Side) []providertest.SnapshotInfo {
	project := srcProject
	if side == driver.Forensic {
		project = forensicProject
	}
	var out []providertest.SnapshotInfo
	for _, s := range i.sim.Snapshots(project) {
		// The key without its version, as the destination names it; the case as the suite names it,
		// which the label holds in the lowercase GCE labels allow.
		key, _, _ := strings.Cut(s.KMSKeyName, "/cryptoKeyVersions/")
		info := providertest.SnapshotInfo{ID: s.Name, SourceVolume: sourceOf(s.SourceDisk), KeyID: key, Encrypted: true,
			State: string(snapshotState(s.Status)), Case: s.Labels[caseLabel]}
		if info.Case == labelValue(suiteCaseID) {
			info.Case = suiteCaseID
		}
		if len(s.StorageLocations) > 0 {
			info.Location = s.StorageLocations[0]
		}
		out = append(out, info)
	}
	return out
}

// Temporaries: disks and instances in the forensic project (an acquisition makes them only to digest),
// and resource policies attached to the source disks.
func (i inspector) Temporaries() []string {
	var out []string
	for _, d := range i.sim.Disks(forensicProject) {
		out = append(out, "forensic disk "+d.Name)
	}
	for _, in := range i.sim.Instances(forensicProject) {
		out = append(out, "forensic instance "+in.Name)
	}
	for _, d := range i.sim.Disks(srcProject) {
		for _, p := range d.ResourcePolicies {
			out = append(out, "resource policy "+p+" on "+d.Name)
		}
	}
	return out
}

func (i inspector) ImageSHA256(volumeID string) string {
	return images.sha256(lastSegment(volumeID))
}

// simFaults adds the suite's faults to the harness's own.
type simFaults struct {
	sim   *gcpsim.Server
	base  gcpsim.Faults
	added []gcpsim.FaultRule
}

func (f *simFaults) apply() {
	cur := f.base
	cur.Rules = append(append([]gcpsim.FaultRule(nil), f.added...), f.base.Rules...)
	if err := f.sim.SetFaults(cur); err != nil {
		panic(err)
	}
}

func (f *simFaults) LoseReplies(call string, n int) {
	f.added = append(f.added, gcpsim.FaultRule{Kind: gcpsim.FaultLostReply, Methods: []string{call}, Rate: 1, Max: n})
	f.apply()
}

func (f *simFaults) FailSnapshots(vols ...string) {
	var names []string
	for _, v := range vols {
		names = append(names, lastSegment(v))
	}
	f.added = append(f.added, gcpsim.FaultRule{Kind: gcpsim.FaultOperationError, Methods: []string{"compute.snapshots.insert"},
		Resources: names, Rate: 1, Code: "INTERNAL_ERROR", Message: "Snapshot creation failed."})
	f.apply()
}

func (f *simFaults) Clear() {
	f.added = nil
	f.apply()
}

func (f *simFaults) Calls() map[string]int { return f.sim.CallCounts() }

func apiErr(code int, reason, msg string) error {
	return &googleapi.Error{Code: code, Message: msg, Errors: []googleapi.ErrorItem{{Reason: reason, Message: msg}}}
}

func errorCases() []providertest.ErrorCase {
	return []providertest.ErrorCase{
		{Name: "rate limit", Err: apiErr(429, "rateLimitExceeded", "Quota exceeded for quota metric 'Queries'"), Want: driver.CodeThrottled},
		{Name: "rate limit as 403", Err: apiErr(403, "rateLimitExceeded", "Rate Limit Exceeded"), Want: driver.CodeThrottled},
		{Name: "429 without a reason", Err: &googleapi.Error{Code: 429}, Want: driver.CodeThrottled},
		{Name: "backend error", Err: apiErr(500, "backendError", "Internal error."), Want: driver.CodeUnavailable},
		{Name: "503", Err: &googleapi.Error{Code: 503}, Want: driver.CodeUnavailable},
		{Name: "missing permission", Err: apiErr(403, "forbidden", "Required 'compute.snapshots.create' permission for 'projects/p/global/snapshots/s'"), Want: driver.CodePermissionDenied},
		{Name: "scopes", Err: apiErr(403, "insufficientPermissions", "Request had insufficient authentication scopes."), Want: driver.CodePermissionDenied},
		{Name: "unauthenticated", Err: &googleapi.Error{Code: 401}, Want: driver.CodePermissionDenied},
		{Name: "kms", Err: apiErr(400, "kmsPermissionDenied", "Cloud KMS error"), Want: driver.CodePermissionDenied},
		{Name: "org policy", Err: explainPolicy(apiErr(412, "conditionNotMet", "Constraint constraints/compute.storageResourceUseRestrictions violated for project f."), "f", "s"), Want: driver.CodePermissionDenied},
		{Name: "not found", Err: apiErr(404, "notFound", "The resource 'projects/p/zones/z/disks/d' was not found"), Want: driver.CodeNotFound},
		{Name: "already exists", Err: apiErr(409, "alreadyExists", "already exists"), Want: driver.CodeConflict},
		{Name: "invalid", Err: apiErr(400, "invalid", "Invalid value for field 'resource.labels'"), Want: driver.CodeInvalid},
		{Name: "bad target", Err: invalidf("not a disk name"), Want: driver.CodeInvalid},
		{Name: "operation error", Err: operationError(&computepb.Operation{Name: ptr("operation-1"), Error: &computepb.Error{Errors: []*computepb.Errors{{Code: ptr("INTERNAL_ERROR"), Message: ptr("failed")}}}}), Want: driver.CodeFailed},
		{Name: "wrapped", Err: fmt.Errorf("snapshot: %w", apiErr(429, "rateLimitExceeded", "slow down")), Want: driver.CodeThrottled},
		{Name: "plain", Err: errors.New("something else"), Want: driver.CodeUnknown},
	}
}

func ptr[T any](v T) *T { return &v }

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
