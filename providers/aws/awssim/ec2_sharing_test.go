package awssim

import (
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	kmstypes "github.com/aws/aws-sdk-go-v2/service/kms/types"
)

func snapshotOf(t *testing.T, client *ec2.Client, volumeID string) string {
	t.Helper()
	return aws.ToString(must[*ec2.CreateSnapshotOutput](t)(client.CreateSnapshot(t.Context(), &ec2.CreateSnapshotInput{VolumeId: aws.String(volumeID)})).SnapshotId)
}

func describeSnapshot(t *testing.T, client *ec2.Client, id string) types.Snapshot {
	t.Helper()
	return must[*ec2.DescribeSnapshotsOutput](t)(client.DescribeSnapshots(t.Context(), &ec2.DescribeSnapshotsInput{SnapshotIds: []string{id}})).Snapshots[0]
}

func share(t *testing.T, client *ec2.Client, id, account string) error {
	t.Helper()
	_, err := client.ModifySnapshotAttribute(t.Context(), &ec2.ModifySnapshotAttributeInput{
		SnapshotId: aws.String(id), Attribute: types.SnapshotAttributeNameCreateVolumePermission,
		OperationType: types.OperationTypeAdd, UserIds: []string{account},
	})
	return err
}

func TestShareAndCopyAcrossAccounts(t *testing.T) {
	ts := startServer(t, fixture(t), nil)
	workload, forensics := ts.ec2(t, responder, region), ts.ec2(t, analyst, region)
	id := snapshotOf(t, workload, dataVolume)

	_, err := forensics.DescribeSnapshots(t.Context(), &ec2.DescribeSnapshotsInput{SnapshotIds: []string{id}})
	wantCode(t, err, "InvalidSnapshot.NotFound")
	if err := share(t, workload, id, forensicsAccount); err != nil {
		t.Fatal(err)
	}
	attr := must[*ec2.DescribeSnapshotAttributeOutput](t)(workload.DescribeSnapshotAttribute(t.Context(), &ec2.DescribeSnapshotAttributeInput{
		SnapshotId: aws.String(id), Attribute: types.SnapshotAttributeNameCreateVolumePermission,
	}))
	if len(attr.CreateVolumePermissions) != 1 || aws.ToString(attr.CreateVolumePermissions[0].UserId) != forensicsAccount {
		t.Errorf("permissions %+v", attr.CreateVolumePermissions)
	}
	if shares := ts.Shares(); len(shares) != 1 || shares[0].AccountIDs[0] != forensicsAccount {
		t.Errorf("Shares() = %+v", shares)
	}
	shared := must[*ec2.DescribeSnapshotsOutput](t)(forensics.DescribeSnapshots(t.Context(), &ec2.DescribeSnapshotsInput{
		OwnerIds: []string{workloadAccount}, RestorableByUserIds: []string{"self"},
	}))
	if len(shared.Snapshots) != 1 {
		t.Fatalf("forensics sees %d shared snapshots", len(shared.Snapshots))
	}
	_, err = forensics.DeleteSnapshot(t.Context(), &ec2.DeleteSnapshotInput{SnapshotId: aws.String(id)})
	wantCode(t, err, "UnauthorizedOperation")

	// Copy into the forensics account and another region, re-encrypted with
	// the forensics key there; the SDK adds its presigned URL.
	copyClient := ts.ec2(t, analyst, otherRegion)
	copied := must[*ec2.CopySnapshotOutput](t)(copyClient.CopySnapshot(t.Context(), &ec2.CopySnapshotInput{
		SourceSnapshotId: aws.String(id), SourceRegion: aws.String(region),
		Encrypted: aws.Bool(true), KmsKeyId: aws.String("alias/evidence"),
		TagSpecifications: []types.TagSpecification{{ResourceType: types.ResourceTypeSnapshot,
			Tags: []types.Tag{{Key: aws.String("case"), Value: aws.String("42")}}}},
	}))
	snap := describeSnapshot(t, copyClient, aws.ToString(copied.SnapshotId))
	if snap.State != types.SnapshotStateCompleted || aws.ToString(snap.OwnerId) != forensicsAccount || !aws.ToBool(snap.Encrypted) {
		t.Fatalf("copy %+v (%s)", snap, aws.ToString(snap.StateMessage))
	}
	if !strings.HasPrefix(aws.ToString(snap.KmsKeyId), "arn:aws:kms:eu-west-1:222222222222:key/") || aws.ToString(snap.VolumeId) != "vol-ffffffff" {
		t.Errorf("copy key %s volume %s", aws.ToString(snap.KmsKeyId), aws.ToString(snap.VolumeId))
	}

	must[*ec2.ResetSnapshotAttributeOutput](t)(workload.ResetSnapshotAttribute(t.Context(), &ec2.ResetSnapshotAttributeInput{
		SnapshotId: aws.String(id), Attribute: types.SnapshotAttributeNameCreateVolumePermission,
	}))
	if shares := ts.Shares(); len(shares) != 0 {
		t.Errorf("after reset: %+v", shares)
	}
}

func TestEncryptedSharingRules(t *testing.T) {
	ts := startServer(t, fixture(t), nil)
	workload := ts.ec2(t, responder, region)

	defaultKey := snapshotOf(t, workload, encryptedVolume)
	wantCode(t, share(t, workload, defaultKey, forensicsAccount), "OperationNotPermitted")

	cmk := snapshotOf(t, workload, cmkVolume)
	if err := share(t, workload, cmk, forensicsAccount); err != nil {
		t.Fatalf("sharing a CMK snapshot: %v", err)
	}
	_, err := workload.ModifySnapshotAttribute(t.Context(), &ec2.ModifySnapshotAttributeInput{
		SnapshotId: aws.String(cmk), Attribute: types.SnapshotAttributeNameCreateVolumePermission,
		OperationType: types.OperationTypeAdd, GroupNames: []string{"all"},
	})
	wantCode(t, err, "OperationNotPermitted")

	plain := snapshotOf(t, workload, dataVolume)
	must[*ec2.ModifySnapshotAttributeOutput](t)(workload.ModifySnapshotAttribute(t.Context(), &ec2.ModifySnapshotAttributeInput{
		SnapshotId: aws.String(plain), Attribute: types.SnapshotAttributeNameCreateVolumePermission,
		CreateVolumePermission: &types.CreateVolumePermissionModifications{Add: []types.CreateVolumePermission{{Group: types.PermissionGroupAll}}},
	}))
	public := must[*ec2.DescribeSnapshotsOutput](t)(ts.ec2(t, analyst, region).DescribeSnapshots(t.Context(), &ec2.DescribeSnapshotsInput{RestorableByUserIds: []string{"all"}}))
	if len(public.Snapshots) != 1 || aws.ToString(public.Snapshots[0].SnapshotId) != plain {
		t.Errorf("public snapshots %+v", public.Snapshots)
	}
	wantCode(t, share(t, workload, plain, "12345"), "InvalidUserID.Malformed")
}

// A shared encrypted snapshot can be copied only by an account allowed to
// use its key for EBS encryption: the whole documented set of KMS
// permissions; without it the copy ends in state error naming the first
// permission missing.
func TestCopyNeedsSourceKey(t *testing.T) {
	ts := startServer(t, fixture(t), nil)
	workload, forensics := ts.ec2(t, responder, region), ts.ec2(t, analyst, region)
	id := snapshotOf(t, workload, cmkVolume)
	if err := share(t, workload, id, forensicsAccount); err != nil {
		t.Fatal(err)
	}
	copyInput := &ec2.CopySnapshotInput{SourceSnapshotId: aws.String(id), SourceRegion: aws.String(region), Encrypted: aws.Bool(true), KmsKeyId: aws.String("alias/evidence")}
	copyFails := func(missing string) {
		t.Helper()
		failed := must[*ec2.CopySnapshotOutput](t)(forensics.CopySnapshot(t.Context(), copyInput))
		snap := describeSnapshot(t, forensics, aws.ToString(failed.SnapshotId))
		if snap.State != types.SnapshotStateError || !strings.Contains(aws.ToString(snap.StateMessage), missing) {
			t.Fatalf("copy without %s: %s %q", missing, snap.State, aws.ToString(snap.StateMessage))
		}
		if aws.ToString(snap.Progress) == "100%" {
			t.Errorf("a failed copy reports progress %s", aws.ToString(snap.Progress))
		}
	}
	copyFails("kms:CreateGrant")

	grant := func(ops ...kmstypes.GrantOperation) {
		t.Helper()
		must[*kms.CreateGrantOutput](t)(ts.kms(t, responder, region).CreateGrant(t.Context(), &kms.CreateGrantInput{
			KeyId: aws.String(keyARN(region, workloadAccount, cmkID)), GranteePrincipal: aws.String(rootARN(forensicsAccount)),
			Operations: ops,
		}))
	}
	// Decrypt alone is not enough to use the key for EBS.
	grant(kmstypes.GrantOperationDecrypt, kmstypes.GrantOperationDescribeKey, kmstypes.GrantOperationCreateGrant)
	copyFails("kms:GenerateDataKeyWithoutPlaintext")
	grant(kmstypes.GrantOperationGenerateDataKeyWithoutPlaintext, kmstypes.GrantOperationReEncryptFrom)
	copyFails("kms:ReEncryptTo")

	failed := must[*ec2.CopySnapshotOutput](t)(forensics.CopySnapshot(t.Context(), copyInput))
	waiter := ec2.NewSnapshotCompletedWaiter(forensics, func(o *ec2.SnapshotCompletedWaiterOptions) {
		o.MinDelay, o.MaxDelay = 10*time.Millisecond, 20*time.Millisecond
	})
	if err := waiter.Wait(t.Context(), &ec2.DescribeSnapshotsInput{SnapshotIds: []string{aws.ToString(failed.SnapshotId)}}, 5*time.Second); err == nil {
		t.Error("waiter succeeded on a failed copy")
	}

	grant(kmstypes.GrantOperationReEncryptTo)
	copied := must[*ec2.CopySnapshotOutput](t)(forensics.CopySnapshot(t.Context(), copyInput))
	if snap := describeSnapshot(t, forensics, aws.ToString(copied.SnapshotId)); snap.State != types.SnapshotStateCompleted {
		t.Fatalf("copy with the grants: %s %q", snap.State, aws.ToString(snap.StateMessage))
	}
}

func TestSnapshotLock(t *testing.T) {
	clock := newFakeClock()
	ts := startServer(t, fixture(t), clock)
	client := ts.ec2(t, responder, region)

	governed := snapshotOf(t, client, dataVolume)
	lock := must[*ec2.LockSnapshotOutput](t)(client.LockSnapshot(t.Context(), &ec2.LockSnapshotInput{
		SnapshotId: aws.String(governed), LockMode: types.LockModeGovernance, LockDuration: aws.Int32(1),
	}))
	if lock.LockState != types.LockStateGovernance || aws.ToInt32(lock.LockDuration) != 1 {
		t.Errorf("lock %+v", lock)
	}
	_, err := client.DeleteSnapshot(t.Context(), &ec2.DeleteSnapshotInput{SnapshotId: aws.String(governed)})
	wantCode(t, err, "OperationNotPermitted")
	must[*ec2.UnlockSnapshotOutput](t)(client.UnlockSnapshot(t.Context(), &ec2.UnlockSnapshotInput{SnapshotId: aws.String(governed)}))
	must[*ec2.DeleteSnapshotOutput](t)(client.DeleteSnapshot(t.Context(), &ec2.DeleteSnapshotInput{SnapshotId: aws.String(governed)}))

	complied := snapshotOf(t, client, dataVolume)
	lock = must[*ec2.LockSnapshotOutput](t)(client.LockSnapshot(t.Context(), &ec2.LockSnapshotInput{
		SnapshotId: aws.String(complied), LockMode: types.LockModeCompliance, LockDuration: aws.Int32(2), CoolOffPeriod: aws.Int32(1),
	}))
	if lock.LockState != types.LockStateComplianceCooloff {
		t.Errorf("lock state %s", lock.LockState)
	}
	clock.Advance(time.Hour)
	_, err = client.UnlockSnapshot(t.Context(), &ec2.UnlockSnapshotInput{SnapshotId: aws.String(complied)})
	wantCode(t, err, "OperationNotPermitted")
	_, err = client.LockSnapshot(t.Context(), &ec2.LockSnapshotInput{SnapshotId: aws.String(complied), LockMode: types.LockModeCompliance, LockDuration: aws.Int32(1)})
	wantCode(t, err, "OperationNotPermitted")
	_, err = client.LockSnapshot(t.Context(), &ec2.LockSnapshotInput{SnapshotId: aws.String(complied), LockMode: types.LockModeGovernance, LockDuration: aws.Int32(5)})
	wantCode(t, err, "OperationNotPermitted")
	must[*ec2.LockSnapshotOutput](t)(client.LockSnapshot(t.Context(), &ec2.LockSnapshotInput{SnapshotId: aws.String(complied), LockMode: types.LockModeCompliance, LockDuration: aws.Int32(3)}))

	locked := must[*ec2.DescribeLockedSnapshotsOutput](t)(client.DescribeLockedSnapshots(t.Context(), &ec2.DescribeLockedSnapshotsInput{
		Filters: []types.Filter{{Name: aws.String("lock-state"), Values: []string{"compliance"}}},
	}))
	if len(locked.Snapshots) != 1 || aws.ToString(locked.Snapshots[0].SnapshotId) != complied {
		t.Errorf("locked snapshots %+v", locked.Snapshots)
	}
	_, err = client.DeleteSnapshot(t.Context(), &ec2.DeleteSnapshotInput{SnapshotId: aws.String(complied)})
	wantCode(t, err, "OperationNotPermitted")
	clock.Advance(3 * 24 * time.Hour)
	must[*ec2.DeleteSnapshotOutput](t)(client.DeleteSnapshot(t.Context(), &ec2.DeleteSnapshotInput{SnapshotId: aws.String(complied)}))
}
