package main

import (
	"context"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	compute "cloud.google.com/go/compute/apiv1"
	"cloud.google.com/go/compute/apiv1/computepb"
	"google.golang.org/api/iterator"
	"google.golang.org/api/option"
	"google.golang.org/protobuf/proto"

	"github.com/acquire-forensics/acquire/internal/testenv"
)

const gcpFleetScenario = "../../testdata/scenarios/gcp-fleet.json"

// startGCPRange runs cloudsim in-process on a scenario and state directory
// and returns the env file's variables and a stop function.
func startGCPRange(t *testing.T, scenario, stateDir string) (map[string]string, func() (int, string)) {
	t.Helper()
	ctx, cancel := context.WithCancel(t.Context())
	out, outWriter := io.Pipe()
	var stderr strings.Builder
	var code int
	var wg sync.WaitGroup
	wg.Go(func() {
		code = run(ctx, []string{"--scenario", scenario, "--state-dir", stateDir}, outWriter, &stderr)
		outWriter.Close()
	})
	waitReady(t, out)
	env := readEnvFile(t, filepath.Join(stateDir, "cloudsim.env"))
	return env, func() (int, string) {
		cancel()
		wg.Wait()
		return code, stderr.String()
	}
}

// The range serves the GCP fleet: the key file of GOOGLE_APPLICATION_CREDENTIALS
// and the endpoint from the env file reach it with the real clients, and a
// snapshot made before a restart is there after it.
func TestRangeServesGCP(t *testing.T) {
	stateDir := t.TempDir()
	env, stop := startGCPRange(t, gcpFleetScenario, stateDir)
	for _, name := range []string{"CLOUDSIM_GCP_ENDPOINT", "GOOGLE_APPLICATION_CREDENTIALS", "CLOUDSDK_API_ENDPOINT_OVERRIDES_COMPUTE", "CLOUDSDK_API_ENDPOINT_OVERRIDES_STORAGE"} {
		if env[name] == "" {
			t.Fatalf("env file lacks %s", name)
		}
	}
	if _, ok := env["STORAGE_EMULATOR_HOST"]; ok {
		t.Fatal("env file sets STORAGE_EMULATOR_HOST, with which Google's storage clients send no credentials")
	}
	opts := []option.ClientOption{option.WithEndpoint(env["CLOUDSIM_GCP_ENDPOINT"]), option.WithCredentialsFile(env["GOOGLE_APPLICATION_CREDENTIALS"])}
	instances, err := compute.NewInstancesRESTClient(t.Context(), opts...)
	if err != nil {
		t.Fatal(err)
	}
	defer instances.Close()
	it := instances.AggregatedList(t.Context(), &computepb.AggregatedListInstancesRequest{Project: "acme-fleet-prod", MaxResults: proto.Uint32(20)})
	count := 0
	for {
		pair, err := it.Next()
		if errors.Is(err, iterator.Done) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		for _, in := range pair.Value.GetInstances() {
			if len(in.GetDisks()) != 2 {
				t.Errorf("%s has %d disks", in.GetName(), len(in.GetDisks()))
			}
			count++
		}
	}
	if count != 50 {
		t.Fatalf("%d instances in the fleet", count)
	}
	snaps, err := compute.NewSnapshotsRESTClient(t.Context(), opts...)
	if err != nil {
		t.Fatal(err)
	}
	defer snaps.Close()
	// The fleet throttles a fifth of snapshot inserts: retry those.
	for {
		_, err = snaps.Insert(t.Context(), &computepb.InsertSnapshotRequest{Project: "acme-forensics", RequestId: proto.String("2c1f4e8a-5b6d-4c7e-9f80-a1b2c3d4e5f6"),
			SnapshotResource: &computepb.Snapshot{Name: proto.String("fleet-01"), SourceDisk: proto.String("projects/acme-fleet-prod/zones/us-central1-a/disks/fleet-01")}})
		if err == nil || !strings.Contains(err.Error(), "429") {
			break
		}
	}
	if err != nil {
		t.Fatal(err)
	}
	if code, stderr := stop(); code != exitOK {
		t.Fatalf("exit %d: %s", code, stderr)
	}

	env, stop = startGCPRange(t, gcpFleetScenario, stateDir)
	defer stop()
	// The key file written at first start is still valid: the keys were saved.
	snaps2, err := compute.NewSnapshotsRESTClient(t.Context(), option.WithEndpoint(env["CLOUDSIM_GCP_ENDPOINT"]), option.WithCredentialsFile(env["GOOGLE_APPLICATION_CREDENTIALS"]))
	if err != nil {
		t.Fatal(err)
	}
	defer snaps2.Close()
	got, err := snaps2.Get(t.Context(), &computepb.GetSnapshotRequest{Project: "acme-forensics", Snapshot: "fleet-01"})
	if err != nil {
		t.Fatalf("the snapshot did not survive the restart: %v", err)
	}
	if !strings.HasSuffix(got.GetSourceDisk(), "/projects/acme-fleet-prod/zones/us-central1-a/disks/fleet-01") {
		t.Errorf("snapshot %v", got)
	}
}

// The web-server scenario's gcp member: the same disk images, the workload
// VM as a responder finds it, and a CMEK snapshot of its data disk straight
// into the forensic project.
func TestRangeServesWebServerOnGCP(t *testing.T) {
	testenv.RequireTool(t, "mkfs.ext4")
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	work := t.TempDir()
	scenarioDir := filepath.Join(work, "scenarios")
	images := filepath.Join(scenarioDir, "images")
	if out, err := exec.Command("bash", filepath.Join(root, "scripts/make-images.sh"), images).CombinedOutput(); err != nil {
		t.Fatalf("make-images: %v\n%s", err, out)
	}
	sc, err := os.ReadFile(filepath.Join(root, "testdata/scenarios/compromised-web-server.json"))
	if err != nil {
		t.Fatal(err)
	}
	scenario := filepath.Join(scenarioDir, "compromised-web-server.json")
	if err := os.WriteFile(scenario, sc, 0o644); err != nil {
		t.Fatal(err)
	}
	env, stop := startGCPRange(t, scenario, filepath.Join(work, "state"))
	defer stop()
	opts := []option.ClientOption{option.WithEndpoint(env["CLOUDSIM_GCP_ENDPOINT"]), option.WithCredentialsFile(env["GOOGLE_APPLICATION_CREDENTIALS"])}
	instances, err := compute.NewInstancesRESTClient(t.Context(), opts...)
	if err != nil {
		t.Fatal(err)
	}
	defer instances.Close()
	in, err := instances.Get(t.Context(), &computepb.GetInstanceRequest{Project: "acme-web-prod", Zone: "us-central1-a", Instance: "web-1"})
	if err != nil {
		t.Fatal(err)
	}
	meta := map[string]string{}
	for _, it := range in.GetMetadata().GetItems() {
		meta[it.GetKey()] = it.GetValue()
	}
	if len(in.GetDisks()) != 2 || in.GetLabels()["env"] != "prod" || meta["ssh-keys"] == "" || meta["startup-script"] == "" ||
		len(in.GetServiceAccounts()) != 1 || len(in.GetNetworkInterfaces()) != 1 || len(in.GetTags().GetItems()) != 2 {
		t.Errorf("web-1 is not the scenario's: %v", in)
	}
	snaps, err := compute.NewSnapshotsRESTClient(t.Context(), opts...)
	if err != nil {
		t.Fatal(err)
	}
	defer snaps.Close()
	op, err := snaps.Insert(t.Context(), &computepb.InsertSnapshotRequest{Project: "acme-forensics",
		SnapshotResource: &computepb.Snapshot{Name: proto.String("ir-1-web-1-data"), SourceDisk: proto.String(in.GetDisks()[1].GetSource()),
			SnapshotEncryptionKey: &computepb.CustomerEncryptionKey{KmsKeyName: proto.String("projects/acme-forensics/locations/us-central1/keyRings/evidence/cryptoKeys/snapshots")}}})
	if err != nil {
		t.Fatal(err)
	}
	if err := op.Wait(t.Context()); err != nil || op.Proto().GetError() != nil {
		t.Fatalf("%v %v", err, op.Proto().GetError())
	}
	got, err := snaps.Get(t.Context(), &computepb.GetSnapshotRequest{Project: "acme-forensics", Snapshot: "ir-1-web-1-data"})
	if err != nil || got.GetStatus() != "READY" || got.GetStorageBytes() == 0 {
		t.Fatalf("%v %v", got, err)
	}
}
