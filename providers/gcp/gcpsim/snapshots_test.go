package gcpsim

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"cloud.google.com/go/compute/apiv1/computepb"
	"google.golang.org/protobuf/proto"
)

func diskURLOf(project, name string) string {
	return "projects/" + project + "/zones/" + testZone + "/disks/" + name
}

// A snapshot inserted in the forensic project from the workload's disk
// lands there, encrypted with the forensic key, and is READY after its data
// is copied at the configured rate; the client waits on a global operation.
func TestCrossProjectSnapshotThroughADC(t *testing.T) {
	e := startSim(t, testScenario(), nil)
	ctx := t.Context()
	snaps := e.snapshots(responder)
	op, err := snaps.Insert(ctx, &computepb.InsertSnapshotRequest{
		Project: forensicProject,
		SnapshotResource: &computepb.Snapshot{
			Name: proto.String("ir-42-web-1"), SourceDisk: proto.String(diskURLOf(workloadProject, "web-1")),
			Labels:                map[string]string{"case": "ir-42"},
			SnapshotEncryptionKey: &computepb.CustomerEncryptionKey{KmsKeyName: proto.String(evidenceKey)},
		},
		RequestId: proto.String("4f6c1c62-1f6a-4b6e-9a54-0c0f8c2b1a01"),
	})
	if err != nil {
		t.Fatal(err)
	}
	if op.Proto().GetStatus() != computepb.Operation_RUNNING || !strings.Contains(op.Proto().GetSelfLink(), "/projects/acme-forensics/global/operations/") {
		t.Fatalf("operation %v at %s, want RUNNING, global in the forensic project", op.Proto().GetStatus(), op.Proto().GetSelfLink())
	}
	got, err := snaps.Get(ctx, &computepb.GetSnapshotRequest{Project: forensicProject, Snapshot: "ir-42-web-1"})
	if err != nil {
		t.Fatal(err)
	}
	if got.GetStatus() == "READY" {
		t.Error("the snapshot is READY before its data was copied")
	}
	e.clock.Advance(2 * time.Second)
	if err := op.Wait(ctx); err != nil {
		t.Fatal(err)
	}
	if !op.Done() || op.Proto().GetError() != nil {
		t.Fatalf("operation %v, error %v", op.Proto().GetStatus(), op.Proto().GetError())
	}
	got, err = snaps.Get(ctx, &computepb.GetSnapshotRequest{Project: forensicProject, Snapshot: "ir-42-web-1"})
	if err != nil {
		t.Fatal(err)
	}
	if got.GetStatus() != "READY" || got.GetStorageBytes() != 2*syntheticBlock || got.GetDiskSizeGb() != 1 ||
		got.GetSnapshotEncryptionKey().GetKmsKeyName() != evidenceKey+"/cryptoKeyVersions/1" ||
		!strings.HasSuffix(got.GetSourceDisk(), "/projects/acme-web-prod/zones/us-central1-a/disks/web-1") {
		t.Errorf("snapshot %v", got)
	}
	if infos := e.sim.Snapshots(forensicProject); len(infos) != 1 || infos[0].Labels["case"] != "ir-42" {
		t.Errorf("inspection: %+v", infos)
	}
	if n := len(e.sim.Snapshots(workloadProject)); n != 0 {
		t.Errorf("%d snapshots in the workload project", n)
	}
}

// Each missing permission is refused with 403 naming it.
func TestSnapshotPermissions(t *testing.T) {
	sc := testScenario()
	// The examiner may create snapshots in the forensic project but has no
	// right on the workload's disks.
	sc.Projects[1].IAM[1].Permissions = []string{"compute.snapshots.create"}
	e := startSim(t, sc, nil)
	ctx := t.Context()
	insert := func(email, source string) error {
		_, err := e.snapshots(email).Insert(ctx, &computepb.InsertSnapshotRequest{Project: forensicProject,
			SnapshotResource: &computepb.Snapshot{Name: proto.String("s1"), SourceDisk: proto.String(source)}})
		return err
	}
	ge := wantAPIError(t, insert(examiner, diskURLOf(workloadProject, "web-1")), http.StatusForbidden, "forbidden")
	if !strings.Contains(ge.Message, "compute.disks.createSnapshot") || !strings.Contains(ge.Message, "projects/acme-web-prod/zones/us-central1-a/disks/web-1") {
		t.Errorf("message %q does not name the permission and the disk", ge.Message)
	}
	// The worker account may not create snapshots at all.
	ge = wantAPIError(t, insert(workerSA, diskURLOf(workloadProject, "web-1")), http.StatusForbidden, "forbidden")
	if !strings.Contains(ge.Message, "'compute.snapshots.create'") {
		t.Errorf("message %q", ge.Message)
	}
	// A disk that does not exist, with the right permissions: 404.
	wantAPIError(t, insert(responder, diskURLOf(workloadProject, "nope")), http.StatusNotFound, "notFound")
	if n := len(e.sim.Snapshots(forensicProject)); n != 0 {
		t.Errorf("%d snapshots after refusals", n)
	}
}

// The org policy of the forensic project refuses the workload's disks.
func TestOrgPolicyRefusesCrossProjectUse(t *testing.T) {
	sc := testScenario()
	sc.Projects[1].OrgPolicy = &ScenarioOrgPolicy{StorageResourceUseRestrictions: &AllowedProjects{AllowedProjects: []string{"some-other-project"}}}
	e := startSim(t, sc, nil)
	_, err := e.snapshots(responder).Insert(t.Context(), &computepb.InsertSnapshotRequest{Project: forensicProject,
		SnapshotResource: &computepb.Snapshot{Name: proto.String("s1"), SourceDisk: proto.String(diskURLOf(workloadProject, "web-1"))}})
	ge := wantAPIError(t, err, http.StatusPreconditionFailed, "conditionNotMet")
	if !strings.Contains(ge.Message, "constraints/compute.storageResourceUseRestrictions") {
		t.Errorf("message %q", ge.Message)
	}
}

// A CMEK the forensic project's service agent may not use is refused.
func TestCMEKNeedsServiceAgentBinding(t *testing.T) {
	sc := testScenario()
	sc.Projects[1].KMSKeys[0].EncrypterDecrypters = []string{"serviceAccount:service-111111111111@compute-system.iam.gserviceaccount.com"}
	e := startSim(t, sc, nil)
	_, err := e.snapshots(responder).Insert(t.Context(), &computepb.InsertSnapshotRequest{Project: forensicProject,
		SnapshotResource: &computepb.Snapshot{Name: proto.String("s1"), SourceDisk: proto.String(diskURLOf(workloadProject, "web-1")),
			SnapshotEncryptionKey: &computepb.CustomerEncryptionKey{KmsKeyName: proto.String(evidenceKey)}}})
	ge := wantAPIError(t, err, http.StatusBadRequest, "kmsPermissionDenied")
	if !strings.Contains(ge.Message, "cloudkms.cryptoKeyVersions.useToEncrypt") {
		t.Errorf("message %q", ge.Message)
	}
}
