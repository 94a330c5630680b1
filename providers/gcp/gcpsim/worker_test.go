package gcpsim

import (
	"bytes"
	"errors"
	"io"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"cloud.google.com/go/compute/apiv1/computepb"
	"cloud.google.com/go/storage"
	"google.golang.org/api/option"
	"google.golang.org/protobuf/proto"

	"github.com/acquire-forensics/acquire/internal/testenv"
)

// workerInstance is the digest VM as the driver will create it: in the
// forensic project, no external IP, shielded, a disk from the evidence
// snapshot attached read-only, the script in startup-script.
func workerInstance(name, script string) *computepb.Instance {
	return &computepb.Instance{
		Name:        proto.String(name),
		MachineType: proto.String("zones/" + testZone + "/machineTypes/e2-small"),
		Disks: []*computepb.AttachedDisk{
			{Boot: proto.Bool(true), AutoDelete: proto.Bool(true), InitializeParams: &computepb.AttachedDiskInitializeParams{
				SourceImage: proto.String("projects/debian-cloud/global/images/family/debian-12")}},
			{Source: proto.String("zones/" + testZone + "/disks/evidence-web-1"), Mode: proto.String("READ_ONLY"), DeviceName: proto.String("evidence")},
		},
		NetworkInterfaces:      []*computepb.NetworkInterface{{Network: proto.String("global/networks/forensics")}},
		ShieldedInstanceConfig: &computepb.ShieldedInstanceConfig{EnableSecureBoot: proto.Bool(true), EnableVtpm: proto.Bool(true)},
		ServiceAccounts:        []*computepb.ServiceAccount{{Email: proto.String(workerSA), Scopes: []string{"https://www.googleapis.com/auth/devstorage.read_write"}}},
		Metadata: &computepb.Metadata{Items: []*computepb.Items{
			{Key: proto.String("startup-script"), Value: proto.String(script)},
			{Key: proto.String("evidence-bucket"), Value: proto.String("acme-evidence-images")},
			{Key: proto.String("evidence-object"), Value: proto.String("ir-42/web-1.raw")},
		}},
	}
}

// The worker VM runs the client's startup script against the evidence
// disk's content; the script publishes guest attributes and uploads the
// image with the instance's token; the API shows both; the VM powers off.
func TestWorkerRunsStartupScript(t *testing.T) {
	testenv.RequireTool(t, "curl")
	testenv.RequireTool(t, "sha256sum")
	sc := testScenario()
	sc.SnapshotBytesPerSecond = -1
	e := startSim(t, sc, nil)
	ctx := t.Context()
	e.readySnapshot("ir-42-web-1", "web-1", nil)
	dop, err := e.disks(responder).Insert(ctx, &computepb.InsertDiskRequest{Project: forensicProject, Zone: testZone,
		DiskResource: &computepb.Disk{Name: proto.String("evidence-web-1"), SourceSnapshot: proto.String("global/snapshots/ir-42-web-1")}})
	if err != nil {
		t.Fatal(err)
	}
	if err := dop.Wait(ctx); err != nil {
		t.Fatal(err)
	}
	script, err := os.ReadFile("testdata/digest-worker.sh")
	if err != nil {
		t.Fatal(err)
	}
	instances := e.instances(responder)
	op, err := instances.Insert(ctx, &computepb.InsertInstanceRequest{Project: forensicProject, Zone: testZone, InstanceResource: workerInstance("digest-1", string(script))})
	if err != nil {
		t.Fatal(err)
	}
	if err := op.Wait(ctx); err != nil {
		t.Fatal(err)
	}
	// Wait for the VM to power off: its script's end.
	deadline := time.Now().Add(30 * time.Second)
	var in *computepb.Instance
	for {
		in, err = instances.Get(ctx, &computepb.GetInstanceRequest{Project: forensicProject, Zone: testZone, Instance: "digest-1"})
		if err != nil {
			t.Fatal(err)
		}
		if in.GetStatus() == "TERMINATED" || time.Now().After(deadline) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	info := e.sim.Instances(forensicProject)
	if in.GetStatus() != "TERMINATED" || len(info) != 1 || info[0].WorkerExit == nil || *info[0].WorkerExit != 0 {
		out, _ := instances.GetSerialPortOutput(ctx, &computepb.GetSerialPortOutputInstanceRequest{Project: forensicProject, Zone: testZone, Instance: "digest-1"})
		t.Fatalf("instance %s, %+v; console:\n%s", in.GetStatus(), info, out.GetContents())
	}
	// The digest the script computed is the one of the disk's content.
	diskFile := materialized(t, e.sim, forensicProject, "evidence-web-1")
	want := testenv.FileSHA256(t, diskFile)
	attrs, err := instances.GetGuestAttributes(ctx, &computepb.GetGuestAttributesInstanceRequest{Project: forensicProject, Zone: testZone,
		Instance: "digest-1", QueryPath: proto.String("acquire/")})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, it := range attrs.GetQueryValue().GetItems() {
		got[it.GetKey()] = it.GetValue()
	}
	if got["sha256"] != want || got["status"] != "done" || got["size"] != "1073741824" {
		t.Errorf("guest attributes %v, want sha256 %s", got, want)
	}
	one, err := instances.GetGuestAttributes(ctx, &computepb.GetGuestAttributesInstanceRequest{Project: forensicProject, Zone: testZone,
		Instance: "digest-1", VariableKey: proto.String("acquire/sha256")})
	if err != nil || one.GetVariableValue() != want {
		t.Errorf("variableKey: %v %v", one, err)
	}
	// The image the script uploaded, read back with the Go storage client.
	gcs, err := storage.NewClient(ctx, option.WithEndpoint(e.srv.URL+"/storage/v1/"), option.WithCredentialsFile(e.keyFile(responder)))
	if err != nil {
		t.Fatal(err)
	}
	defer gcs.Close()
	r, err := gcs.Bucket("acme-evidence-images").Object("ir-42/web-1.raw").NewReader(ctx)
	if err != nil {
		t.Fatal(err)
	}
	uploaded, err := io.ReadAll(r)
	r.Close()
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(diskFile)
	if err != nil {
		t.Fatal(err)
	}
	head := make([]byte, 8<<20)
	_, err = f.ReadAt(head, 0)
	f.Close()
	if err != nil {
		t.Fatal(err)
	}
	if len(uploaded) != 8<<20 || !bytes.Equal(uploaded, head) {
		t.Errorf("the uploaded image (%d bytes) is not the disk's first 8 MiB", len(uploaded))
	}
	// Deleting the VM deletes its boot disk, not the evidence disk.
	dl, err := instances.Delete(ctx, &computepb.DeleteInstanceRequest{Project: forensicProject, Zone: testZone, Instance: "digest-1"})
	if err != nil {
		t.Fatal(err)
	}
	if err := dl.Wait(ctx); err != nil {
		t.Fatal(err)
	}
	disks := e.sim.Disks(forensicProject)
	if len(disks) != 1 || disks[0].Name != "evidence-web-1" || len(disks[0].Users) != 0 {
		t.Errorf("disks after delete: %+v", disks)
	}
}

// materialized writes a disk's content to a file.
func materialized(t *testing.T, s *Server, project, disk string) string {
	t.Helper()
	s.mu.Lock()
	d := s.st.disks[key(project, testZone, disk)]
	s.mu.Unlock()
	path := t.TempDir() + "/disk.raw"
	if err := d.content.materialize(path); err != nil {
		t.Fatal(err)
	}
	return path
}

// The metadata server refuses requests without Metadata-Flavor, guest
// attributes need enable-guest-attributes, a script that runs too long is
// killed, and deleting the VM stops its script.
func TestWorkerBoundaries(t *testing.T) {
	sc := testScenario()
	sc.SnapshotBytesPerSecond = -1
	sc.Projects[1].Metadata = nil // guest attributes off
	e := startSim(t, sc, nil)
	ctx := t.Context()
	e.readySnapshot("s", "web-1", nil)
	dop, err := e.disks(responder).Insert(ctx, &computepb.InsertDiskRequest{Project: forensicProject, Zone: testZone,
		DiskResource: &computepb.Disk{Name: proto.String("evidence-web-1"), SourceSnapshot: proto.String("global/snapshots/s")}})
	if err != nil {
		t.Fatal(err)
	}
	dop.Wait(ctx)
	instances := e.instances(responder)
	if _, err := instances.Insert(ctx, &computepb.InsertInstanceRequest{Project: forensicProject, Zone: testZone,
		InstanceResource: workerInstance("sleeper", "#!/bin/sh\nexec sleep 600\n")}); err != nil {
		t.Fatal(err)
	}
	workers := e.sim.Workers()
	if len(workers) != 1 {
		t.Fatalf("workers %+v", workers)
	}
	md := "http://" + workers[0].MetadataHost + "/computeMetadata/v1/"
	do := func(method, path string, flavor bool) int {
		req, _ := http.NewRequest(method, md+path, strings.NewReader("v"))
		if flavor {
			req.Header.Set("Metadata-Flavor", "Google")
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if c := do("GET", "instance/name", false); c != http.StatusForbidden {
		t.Errorf("no Metadata-Flavor: %d", c)
	}
	if c := do("GET", "instance/name", true); c != http.StatusOK {
		t.Errorf("instance/name: %d", c)
	}
	if c := do("PUT", "instance/guest-attributes/acquire/x", true); c != http.StatusForbidden {
		t.Errorf("guest attributes while disabled: %d", c)
	}
	if _, err := os.Stat(workers[0].DeviceDir + "/google-evidence"); err != nil {
		t.Errorf("device: %v", err)
	}
	op, err := instances.Delete(ctx, &computepb.DeleteInstanceRequest{Project: forensicProject, Zone: testZone, Instance: "sleeper"})
	if err != nil {
		t.Fatal(err)
	}
	op.Wait(ctx)
	deadline := time.Now().Add(10 * time.Second)
	for len(e.sim.Workers()) > 0 || dirExists(workers[0].DeviceDir) {
		if time.Now().After(deadline) {
			t.Fatal("the script of a deleted VM still runs, or its devices remain")
		}
		time.Sleep(20 * time.Millisecond)
	}
	// A device name that is no file name is refused.
	bad := workerInstance("bad", "#!/bin/sh\n")
	bad.Disks[1].DeviceName = proto.String("../../etc")
	_, err = instances.Insert(ctx, &computepb.InsertInstanceRequest{Project: forensicProject, Zone: testZone, InstanceResource: bad})
	wantAPIError(t, err, http.StatusBadRequest, "invalid")
}

func dirExists(p string) bool {
	_, err := os.Stat(p)
	return !errors.Is(err, os.ErrNotExist)
}

// A VM whose script the simulator cannot start fails its insert and leaves nothing: no instance, no
// boot disk, the evidence disk attached to nobody.
func TestWorkerStartFailureLeavesNothing(t *testing.T) {
	sc := testScenario()
	sc.SnapshotBytesPerSecond = -1
	e := startSim(t, sc, nil)
	ctx := t.Context()
	e.readySnapshot("ir-42-web-1", "web-1", nil)
	dop, err := e.disks(responder).Insert(ctx, &computepb.InsertDiskRequest{Project: forensicProject, Zone: testZone,
		DiskResource: &computepb.Disk{Name: proto.String("evidence-web-1"), SourceSnapshot: proto.String("global/snapshots/ir-42-web-1")}})
	if err != nil {
		t.Fatal(err)
	}
	if err := dop.Wait(ctx); err != nil {
		t.Fatal(err)
	}
	e.sim.mu.Lock()
	e.sim.closed = true // what a closing simulator refuses: starting a script
	e.sim.mu.Unlock()
	_, err = e.instances(responder).Insert(ctx, &computepb.InsertInstanceRequest{Project: forensicProject, Zone: testZone,
		InstanceResource: workerInstance("digest-1", "#!/bin/sh\nexit 0\n")})
	if err == nil {
		t.Fatal("the insert succeeded")
	}
	if in := e.sim.Instances(forensicProject); len(in) != 0 {
		t.Errorf("instances %+v", in)
	}
	for _, d := range e.sim.Disks(forensicProject) {
		if d.Name != "evidence-web-1" || len(d.Users) != 0 {
			t.Errorf("disk %+v", d)
		}
	}
}
