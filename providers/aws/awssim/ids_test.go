package awssim

import (
	"slices"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	kmstypes "github.com/aws/aws-sdk-go-v2/service/kms/types"
	"github.com/aws/aws-sdk-go-v2/service/sts"
)

// createResources makes the same sequence of creating calls on any
// simulator and returns the IDs they minted. between runs before each
// creating call: the other calls a client happens to make.
func createResources(t *testing.T, ts *testServer, between func()) []string {
	t.Helper()
	client, keys := ts.ec2(t, responder, region), ts.kms(t, responder, region)
	var ids []string

	between()
	snap := snapshotOf(t, client, rootVolume)
	ids = append(ids, snap)

	between()
	multi := must[*ec2.CreateSnapshotsOutput](t)(client.CreateSnapshots(t.Context(), &ec2.CreateSnapshotsInput{
		InstanceSpecification: &types.InstanceSpecification{InstanceId: aws.String(webInstance), ExcludeBootVolume: aws.Bool(true)},
	}))
	for _, s := range multi.Snapshots {
		ids = append(ids, aws.ToString(s.SnapshotId))
	}

	between()
	copied := must[*ec2.CopySnapshotOutput](t)(client.CopySnapshot(t.Context(), &ec2.CopySnapshotInput{
		SourceSnapshotId: aws.String(snap), SourceRegion: aws.String(region),
	}))
	ids = append(ids, aws.ToString(copied.SnapshotId))

	between()
	vol := must[*ec2.CreateVolumeOutput](t)(client.CreateVolume(t.Context(), &ec2.CreateVolumeInput{
		AvailabilityZone: aws.String("us-east-1b"), SnapshotId: aws.String(snap),
	}))
	ids = append(ids, aws.ToString(vol.VolumeId))

	between()
	key := must[*kms.CreateKeyOutput](t)(keys.CreateKey(t.Context(), &kms.CreateKeyInput{}))
	ids = append(ids, aws.ToString(key.KeyMetadata.KeyId))

	between()
	grant := must[*kms.CreateGrantOutput](t)(keys.CreateGrant(t.Context(), &kms.CreateGrantInput{
		KeyId: key.KeyMetadata.KeyId, GranteePrincipal: aws.String(rootARN(forensicsAccount)),
		Operations: []kmstypes.GrantOperation{kmstypes.GrantOperationDecrypt},
	}))
	return append(ids, aws.ToString(grant.GrantId), aws.ToString(grant.GrantToken))
}

// The same sequence of creating calls yields the same IDs, whatever else was
// called in between: describes, waiter polls, throttled attempts, refused
// calls, the lazy creation of the aws/ebs key, AssumeRole sessions.
func TestSeededIDsReproduce(t *testing.T) {
	quiet := startServer(t, fixture(t), nil)
	want := createResources(t, quiet, func() {})

	busy := startServer(t, fixture(t), nil)
	client, keys := busy.ec2(t, responder, region), busy.kms(t, responder, region)
	noise := func() {
		must[*ec2.DescribeSnapshotsOutput](t)(client.DescribeSnapshots(t.Context(), &ec2.DescribeSnapshotsInput{OwnerIds: []string{"self"}}))
		must[*ec2.DescribeVolumesOutput](t)(client.DescribeVolumes(t.Context(), &ec2.DescribeVolumesInput{}))
		must[*kms.DescribeKeyOutput](t)(keys.DescribeKey(t.Context(), &kms.DescribeKeyInput{KeyId: aws.String("alias/aws/ebs")}))
		must[*kms.ListKeysOutput](t)(keys.ListKeys(t.Context(), &kms.ListKeysInput{}))
		must[*sts.AssumeRoleOutput](t)(busy.sts(t, analyst).AssumeRole(t.Context(), &sts.AssumeRoleInput{
			RoleArn: aws.String("arn:aws:iam::111111111111:role/ForensicsAccess"), RoleSessionName: aws.String("noise"),
		}))
		// Refused creating calls mint nothing.
		_, err := client.CreateSnapshot(t.Context(), &ec2.CreateSnapshotInput{VolumeId: aws.String("vol-0123456789abcdef0")})
		wantCode(t, err, "InvalidVolume.NotFound")
		_, err = client.CreateVolume(t.Context(), &ec2.CreateVolumeInput{AvailabilityZone: aws.String("us-east-1b"), SnapshotId: aws.String("snap-0123456789abcdef0")})
		wantCode(t, err, "InvalidSnapshot.NotFound")
		_, err = keys.CreateKey(t.Context(), &kms.CreateKeyInput{Policy: aws.String("{}")})
		wantCode(t, err, "MalformedPolicyDocumentException")
		// A throttled attempt, as a retrying client sees it.
		busy.SetFaults(Faults{ThrottleMutatingRate: 1, ThrottleDescribeRate: 1})
		_, err = client.CreateSnapshot(t.Context(), &ec2.CreateSnapshotInput{VolumeId: aws.String(rootVolume)})
		wantCode(t, err, "RequestLimitExceeded")
		busy.SetFaults(Faults{})
	}
	got := createResources(t, busy, noise)
	if !slices.Equal(got, want) {
		t.Errorf("IDs depend on the calls in between:\n got %v\nwant %v", got, want)
	}
	// A waiter polling a snapshot does not shift later IDs either.
	waiter := ec2.NewSnapshotCompletedWaiter(client, func(o *ec2.SnapshotCompletedWaiterOptions) {
		o.MinDelay, o.MaxDelay = time.Millisecond, 2*time.Millisecond
	})
	if err := waiter.Wait(t.Context(), &ec2.DescribeSnapshotsInput{SnapshotIds: got[:1]}, 5*time.Second); err != nil {
		t.Fatal(err)
	}
	if a, b := snapshotOf(t, quiet.ec2(t, responder, region), dataVolume), snapshotOf(t, client, dataVolume); a != b {
		t.Errorf("next snapshot: %s after a quiet run, %s after a busy one", a, b)
	}

	other := fixture(t)
	other.Seed = 2
	if snap := snapshotOf(t, startServer(t, other, nil).ec2(t, responder, region), rootVolume); snap == want[0] {
		t.Errorf("seeds 1 and 2 minted the same snapshot ID %s", snap)
	}
}
