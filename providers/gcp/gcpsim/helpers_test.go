package gcpsim

import (
	"context"
	"errors"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	compute "cloud.google.com/go/compute/apiv1"
	"google.golang.org/api/googleapi"
	"google.golang.org/api/option"
)

const (
	workloadProject = "acme-web-prod"
	forensicProject = "acme-forensics"
	testZone        = "us-central1-a"
	responder       = "responder@acme-forensics.iam.gserviceaccount.com"
	examiner        = "examiner@acme-forensics.iam.gserviceaccount.com"
	workerSA        = "digest-worker@acme-forensics.iam.gserviceaccount.com"
	evidenceKey     = "projects/acme-forensics/locations/us-central1/keyRings/evidence/cryptoKeys/snapshots"
)

// fakeClock is a clock tests move by hand.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

// It starts at the wall clock: clients sign their JWT assertions with it.
func newClock() *fakeClock { return &fakeClock{t: time.Now().UTC().Truncate(time.Second)} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// testScenario is a workload project with one VM of two disks and a
// forensic project with a CMEK key; the responder may act in both, the
// examiner only reads in the forensic project.
func testScenario() *Scenario {
	return &Scenario{
		Seed:                   7,
		SnapshotBytesPerSecond: 1 << 20, // a 2-block disk takes 1 s
		Projects: []ScenarioProject{
			{
				ID: workloadProject, Number: 111111111111,
				IAM: []ScenarioBinding{{Member: "serviceAccount:" + responder, Roles: []string{"roles/compute.storageAdmin", "roles/compute.viewer"}}},
				Disks: []ScenarioDisk{
					{Name: "web-1", Zone: testZone, SizeGb: 1, Synthetic: &SyntheticContent{Blocks: []int64{0, 9}, Seed: 1}, Labels: map[string]string{"role": "boot"}},
					{Name: "web-1-data", Zone: testZone, SizeGb: 1, Synthetic: &SyntheticContent{Blocks: []int64{3, 4}, Seed: 2}},
				},
				Instances: []ScenarioInstance{{
					Name: "web-1", Zone: testZone, Labels: map[string]string{"env": "prod"},
					Metadata: map[string]string{"startup-script": "#!/bin/sh\nrm -rf / # never run by the simulator\n", "ssh-keys": "admin:ssh-ed25519 AAAA admin"},
					Disks:    []ScenarioAttachedDisk{{Disk: "web-1", Boot: true, DeviceName: "persistent-disk-0"}, {Disk: "web-1-data", DeviceName: "data"}},
				}},
				Images: []ScenarioImage{{Name: "web-golden", SourceDisk: "zones/" + testZone + "/disks/web-1", Public: true}},
			},
			{
				ID: forensicProject, Number: 222222222222,
				ServiceAccounts: []ScenarioServiceAccount{
					{Email: responder}, {Email: examiner, TokenCreators: []string{"serviceAccount:" + responder}}, {Email: workerSA},
				},
				IAM: []ScenarioBinding{
					{Member: "serviceAccount:" + responder, Roles: []string{"roles/compute.admin", "roles/storage.admin"}},
					{Member: "serviceAccount:" + examiner, Roles: []string{"roles/compute.viewer"}},
					{Member: "serviceAccount:" + workerSA, Roles: []string{"roles/storage.objectCreator"}},
				},
				KMSKeys:  []ScenarioKMSKey{{Name: evidenceKey, EncrypterDecrypters: []string{"serviceAccount:service-222222222222@compute-system.iam.gserviceaccount.com"}}},
				Metadata: map[string]string{"enable-guest-attributes": "TRUE"},
				Buckets:  []string{"acme-evidence-images"},
			},
		},
	}
}

// simEnv is a simulator on loopback and the key files of its accounts.
type simEnv struct {
	t     *testing.T
	sim   *Server
	srv   *httptest.Server
	clock *fakeClock
	dir   string
}

func startSim(t *testing.T, sc *Scenario, opts *Options) *simEnv {
	t.Helper()
	clock := newClock()
	if opts == nil {
		opts = &Options{}
	}
	if opts.Now == nil {
		opts.Now = clock.Now
	}
	sim, err := New(sc, opts)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(sim)
	sim.SetStorageURL(srv.URL)
	t.Cleanup(func() {
		srv.Close()
		sim.Close()
	})
	return &simEnv{t: t, sim: sim, srv: srv, clock: clock, dir: t.TempDir()}
}

// keyFile writes the key file of a service account, as cloudsim does.
func (e *simEnv) keyFile(email string) string {
	e.t.Helper()
	data, err := e.sim.KeyFile(email, e.srv.URL+"/token")
	if err != nil {
		e.t.Fatal(err)
	}
	path := filepath.Join(e.dir, email+".json")
	if err := os.WriteFile(path, data, 0o600); err != nil {
		e.t.Fatal(err)
	}
	return path
}

// opts are the client options of a principal: the real ADC flow from its
// key file, against the simulator.
func (e *simEnv) opts(email string) []option.ClientOption {
	return []option.ClientOption{option.WithEndpoint(e.srv.URL), option.WithCredentialsFile(e.keyFile(email))}
}

func newClient[C interface{ Close() error }](t *testing.T, mk func(context.Context, ...option.ClientOption) (C, error), opts []option.ClientOption) C {
	t.Helper()
	c, err := mk(t.Context(), opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func (e *simEnv) snapshots(email string) *compute.SnapshotsClient {
	return newClient(e.t, compute.NewSnapshotsRESTClient, e.opts(email))
}

func (e *simEnv) disks(email string) *compute.DisksClient {
	return newClient(e.t, compute.NewDisksRESTClient, e.opts(email))
}

func (e *simEnv) instances(email string) *compute.InstancesClient {
	return newClient(e.t, compute.NewInstancesRESTClient, e.opts(email))
}

// apiError asserts err is a *googleapi.Error of code and reason.
func wantAPIError(t *testing.T, err error, code int, reason string) *googleapi.Error {
	t.Helper()
	var ge *googleapi.Error
	if !errors.As(err, &ge) {
		t.Fatalf("error %v is not a googleapi.Error (want %d %s)", err, code, reason)
	}
	if ge.Code != code || len(ge.Errors) == 0 || ge.Errors[0].Reason != reason {
		t.Fatalf("error %d %+v, want %d %s", ge.Code, ge.Errors, code, reason)
	}
	return ge
}
