package awssim

import (
	"encoding/base64"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"
)

func TestDescribeInstances(t *testing.T) {
	ts := startServer(t, fixture(t), nil)
	client := ts.ec2(t, responder, region)

	out := must[*ec2.DescribeInstancesOutput](t)(client.DescribeInstances(t.Context(), &ec2.DescribeInstancesInput{
		Filters: []types.Filter{{Name: aws.String("tag:env"), Values: []string{"pr*"}}},
	}))
	if len(out.Reservations) != 1 || len(out.Reservations[0].Instances) != 1 {
		t.Fatalf("reservations: %+v", out.Reservations)
	}
	in := out.Reservations[0].Instances[0]
	if aws.ToString(in.InstanceId) != webInstance || in.State.Name != types.InstanceStateNameRunning {
		t.Errorf("instance %s state %s", aws.ToString(in.InstanceId), in.State.Name)
	}
	if got := aws.ToString(in.IamInstanceProfile.Arn); got != "arn:aws:iam::111111111111:instance-profile/web-server" {
		t.Errorf("instance profile %s", got)
	}
	if len(in.SecurityGroups) != 1 || aws.ToString(in.SecurityGroups[0].GroupName) != "web" {
		t.Errorf("security groups %+v", in.SecurityGroups)
	}
	if aws.ToString(in.RootDeviceName) != "/dev/xvda" || len(in.BlockDeviceMappings) != 3 {
		t.Fatalf("root %s, %d block devices", aws.ToString(in.RootDeviceName), len(in.BlockDeviceMappings))
	}
	root := in.BlockDeviceMappings[0]
	if aws.ToString(root.Ebs.VolumeId) != rootVolume || !aws.ToBool(root.Ebs.DeleteOnTermination) {
		t.Errorf("root mapping %+v", root.Ebs)
	}

	none := must[*ec2.DescribeInstancesOutput](t)(client.DescribeInstances(t.Context(), &ec2.DescribeInstancesInput{
		Filters: []types.Filter{{Name: aws.String("instance-state-name"), Values: []string{"stopped"}}},
	}))
	if len(none.Reservations) != 0 {
		t.Errorf("stopped filter matched %d", len(none.Reservations))
	}

	attr := must[*ec2.DescribeInstanceAttributeOutput](t)(client.DescribeInstanceAttribute(t.Context(), &ec2.DescribeInstanceAttributeInput{
		InstanceId: aws.String(webInstance), Attribute: types.InstanceAttributeNameUserData,
	}))
	userData, _ := base64.StdEncoding.DecodeString(aws.ToString(attr.UserData.Value))
	if string(userData) != "#!/bin/sh\necho compromised\n" {
		t.Errorf("user data %q", userData)
	}
}

func TestDescribeVolumes(t *testing.T) {
	ts := startServer(t, fixture(t), nil)
	client := ts.ec2(t, responder, region)
	out := must[*ec2.DescribeVolumesOutput](t)(client.DescribeVolumes(t.Context(), &ec2.DescribeVolumesInput{
		Filters: []types.Filter{{Name: aws.String("attachment.instance-id"), Values: []string{webInstance}}},
	}))
	if len(out.Volumes) != 3 {
		t.Fatalf("%d volumes attached", len(out.Volumes))
	}
	enc := must[*ec2.DescribeVolumesOutput](t)(client.DescribeVolumes(t.Context(), &ec2.DescribeVolumesInput{VolumeIds: []string{encryptedVolume}}))
	v := enc.Volumes[0]
	if !aws.ToBool(v.Encrypted) || v.State != types.VolumeStateInUse || aws.ToInt32(v.Size) != 1 {
		t.Errorf("encrypted volume %+v", v)
	}
	if v.Attachments[0].State != types.VolumeAttachmentStateAttached || aws.ToString(v.Attachments[0].Device) != "/dev/sdg" {
		t.Errorf("attachment %+v", v.Attachments[0])
	}
}

func TestCreateSnapshotAndWait(t *testing.T) {
	sc := fixture(t)
	sc.SnapshotBytesPerSecond = 64 << 20 // a few milliseconds for three blocks
	ts := startServer(t, sc, nil)
	client := ts.ec2(t, responder, region)

	created := must[*ec2.CreateSnapshotOutput](t)(client.CreateSnapshot(t.Context(), &ec2.CreateSnapshotInput{
		VolumeId:    aws.String(rootVolume),
		Description: aws.String("case 42"),
		TagSpecifications: []types.TagSpecification{{
			ResourceType: types.ResourceTypeSnapshot,
			Tags:         []types.Tag{{Key: aws.String("case"), Value: aws.String("42")}},
		}},
	}))
	if created.State != types.SnapshotStatePending || aws.ToString(created.OwnerId) != workloadAccount || aws.ToInt32(created.VolumeSize) != 8 {
		t.Fatalf("created %+v", created)
	}
	id := aws.ToString(created.SnapshotId)
	waiter := ec2.NewSnapshotCompletedWaiter(client, func(o *ec2.SnapshotCompletedWaiterOptions) {
		o.MinDelay, o.MaxDelay = 10*time.Millisecond, 20*time.Millisecond
	})
	done, err := waiter.WaitForOutput(t.Context(), &ec2.DescribeSnapshotsInput{SnapshotIds: []string{id}}, 30*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	snap := done.Snapshots[0]
	if snap.State != types.SnapshotStateCompleted || aws.ToString(snap.Progress) != "100%" || aws.ToString(snap.Description) != "case 42" {
		t.Errorf("snapshot %+v", snap)
	}
	if len(snap.Tags) != 1 || aws.ToString(snap.Tags[0].Value) != "42" {
		t.Errorf("tags %+v", snap.Tags)
	}
	byTag := must[*ec2.DescribeSnapshotsOutput](t)(client.DescribeSnapshots(t.Context(), &ec2.DescribeSnapshotsInput{
		OwnerIds: []string{"self"}, Filters: []types.Filter{{Name: aws.String("tag:case"), Values: []string{"42"}}},
	}))
	if len(byTag.Snapshots) != 1 {
		t.Errorf("tag filter found %d", len(byTag.Snapshots))
	}
}

func TestSnapshotProgressFollowsRate(t *testing.T) {
	sc := fixture(t)
	sc.SnapshotBytesPerSecond = BlockSize // three blocks: three seconds
	clock := newFakeClock()
	ts := startServer(t, sc, clock)
	client := ts.ec2(t, responder, region)
	id := aws.ToString(must[*ec2.CreateSnapshotOutput](t)(client.CreateSnapshot(t.Context(), &ec2.CreateSnapshotInput{VolumeId: aws.String(rootVolume)})).SnapshotId)

	clock.Advance(1500 * time.Millisecond)
	snap := must[*ec2.DescribeSnapshotsOutput](t)(client.DescribeSnapshots(t.Context(), &ec2.DescribeSnapshotsInput{SnapshotIds: []string{id}})).Snapshots[0]
	if snap.State != types.SnapshotStatePending || aws.ToString(snap.Progress) != "50%" {
		t.Errorf("halfway: %s %s", snap.State, aws.ToString(snap.Progress))
	}
	clock.Advance(1500 * time.Millisecond)
	snap = must[*ec2.DescribeSnapshotsOutput](t)(client.DescribeSnapshots(t.Context(), &ec2.DescribeSnapshotsInput{SnapshotIds: []string{id}})).Snapshots[0]
	if snap.State != types.SnapshotStateCompleted {
		t.Errorf("at the end: %s", snap.State)
	}
}

func TestCreateSnapshotsIsCrashConsistent(t *testing.T) {
	ts := startServer(t, fixture(t), nil)
	client := ts.ec2(t, responder, region)
	out := must[*ec2.CreateSnapshotsOutput](t)(client.CreateSnapshots(t.Context(), &ec2.CreateSnapshotsInput{
		InstanceSpecification: &types.InstanceSpecification{InstanceId: aws.String(webInstance), ExcludeDataVolumeIds: []string{encryptedVolume}},
		CopyTagsFromSource:    types.CopyTagsFromSourceVolume,
		TagSpecifications: []types.TagSpecification{{ResourceType: types.ResourceTypeSnapshot,
			Tags: []types.Tag{{Key: aws.String("case"), Value: aws.String("7")}}}},
	}))
	if len(out.Snapshots) != 2 {
		t.Fatalf("%d snapshots", len(out.Snapshots))
	}
	if !out.Snapshots[0].StartTime.Equal(*out.Snapshots[1].StartTime) {
		t.Errorf("start times differ: %v %v", out.Snapshots[0].StartTime, out.Snapshots[1].StartTime)
	}
	if aws.ToString(out.Snapshots[0].VolumeId) != rootVolume || len(out.Snapshots[0].Tags) != 2 {
		t.Errorf("first snapshot %+v", out.Snapshots[0])
	}

	noBoot := must[*ec2.CreateSnapshotsOutput](t)(client.CreateSnapshots(t.Context(), &ec2.CreateSnapshotsInput{
		InstanceSpecification: &types.InstanceSpecification{InstanceId: aws.String(webInstance), ExcludeBootVolume: aws.Bool(true)},
	}))
	for _, s := range noBoot.Snapshots {
		if aws.ToString(s.VolumeId) == rootVolume {
			t.Error("boot volume not excluded")
		}
	}
}

func TestDescribeSnapshotsPagination(t *testing.T) {
	ts := startServer(t, fixture(t), nil)
	client := ts.ec2(t, responder, region)
	for range 7 {
		must[*ec2.CreateSnapshotOutput](t)(client.CreateSnapshot(t.Context(), &ec2.CreateSnapshotInput{VolumeId: aws.String(dataVolume)}))
	}
	pages := ec2.NewDescribeSnapshotsPaginator(client, &ec2.DescribeSnapshotsInput{OwnerIds: []string{"self"}, MaxResults: aws.Int32(5)})
	var seen, pageCount int
	for pages.HasMorePages() {
		page := must[*ec2.DescribeSnapshotsOutput](t)(pages.NextPage(t.Context()))
		seen += len(page.Snapshots)
		pageCount++
	}
	if seen != 7 || pageCount != 2 {
		t.Errorf("%d snapshots in %d pages", seen, pageCount)
	}
	_, err := client.DescribeSnapshots(t.Context(), &ec2.DescribeSnapshotsInput{NextToken: aws.String("3-forged"), MaxResults: aws.Int32(5)})
	wantCode(t, err, "InvalidPaginationToken")
	_, err = client.DescribeSnapshots(t.Context(), &ec2.DescribeSnapshotsInput{MaxResults: aws.Int32(2)})
	wantCode(t, err, "InvalidParameterValue")
}

func TestTags(t *testing.T) {
	ts := startServer(t, fixture(t), nil)
	client := ts.ec2(t, responder, region)
	must[*ec2.CreateTagsOutput](t)(client.CreateTags(t.Context(), &ec2.CreateTagsInput{
		Resources: []string{rootVolume, webInstance},
		Tags:      []types.Tag{{Key: aws.String("quarantine"), Value: aws.String("yes")}, {Key: aws.String("owner"), Value: aws.String("ir")}},
	}))
	must[*ec2.DeleteTagsOutput](t)(client.DeleteTags(t.Context(), &ec2.DeleteTagsInput{
		Resources: []string{rootVolume}, Tags: []types.Tag{{Key: aws.String("owner"), Value: aws.String("someone-else")}, {Key: aws.String("Name")}},
	}))
	v := must[*ec2.DescribeVolumesOutput](t)(client.DescribeVolumes(t.Context(), &ec2.DescribeVolumesInput{VolumeIds: []string{rootVolume}})).Volumes[0]
	got := map[string]string{}
	for _, tag := range v.Tags {
		got[aws.ToString(tag.Key)] = aws.ToString(tag.Value)
	}
	if len(got) != 2 || got["quarantine"] != "yes" || got["owner"] != "ir" {
		t.Errorf("tags %v", got)
	}
	_, err := client.CreateTags(t.Context(), &ec2.CreateTagsInput{Resources: []string{rootVolume}, Tags: []types.Tag{{Key: aws.String("aws:x"), Value: aws.String("1")}}})
	wantCode(t, err, "InvalidParameterValue")
}

func TestCreateVolumeAndAttach(t *testing.T) {
	ts := startServer(t, fixture(t), nil)
	client := ts.ec2(t, responder, region)
	snapID := aws.ToString(must[*ec2.CreateSnapshotOutput](t)(client.CreateSnapshot(t.Context(), &ec2.CreateSnapshotInput{VolumeId: aws.String(dataVolume)})).SnapshotId)
	in := &ec2.CreateVolumeInput{AvailabilityZone: aws.String("us-east-1b"), SnapshotId: aws.String(snapID), ClientToken: aws.String("analysis-1")}
	first := must[*ec2.CreateVolumeOutput](t)(client.CreateVolume(t.Context(), in))
	again := must[*ec2.CreateVolumeOutput](t)(client.CreateVolume(t.Context(), in))
	if aws.ToString(first.VolumeId) != aws.ToString(again.VolumeId) {
		t.Errorf("same ClientToken made two volumes: %s %s", aws.ToString(first.VolumeId), aws.ToString(again.VolumeId))
	}
	_, err := client.CreateVolume(t.Context(), &ec2.CreateVolumeInput{AvailabilityZone: aws.String("us-east-1b"), Size: aws.Int32(2), ClientToken: aws.String("analysis-1")})
	wantCode(t, err, "IdempotentParameterMismatch")

	att := must[*ec2.AttachVolumeOutput](t)(client.AttachVolume(t.Context(), &ec2.AttachVolumeInput{
		Device: aws.String("/dev/sdh"), InstanceId: aws.String(webInstance), VolumeId: first.VolumeId,
	}))
	if att.State != types.VolumeAttachmentStateAttaching {
		t.Errorf("attach state %s", att.State)
	}
	_, err = client.AttachVolume(t.Context(), &ec2.AttachVolumeInput{Device: aws.String("/dev/sdi"), InstanceId: aws.String(webInstance), VolumeId: first.VolumeId})
	wantCode(t, err, "VolumeInUse")
	other := must[*ec2.CreateVolumeOutput](t)(client.CreateVolume(t.Context(), &ec2.CreateVolumeInput{AvailabilityZone: aws.String("us-east-1c"), Size: aws.Int32(1)}))
	_, err = client.AttachVolume(t.Context(), &ec2.AttachVolumeInput{Device: aws.String("/dev/sdj"), InstanceId: aws.String(webInstance), VolumeId: other.VolumeId})
	wantCode(t, err, "InvalidVolume.ZoneMismatch")
}

func TestEC2ErrorCodes(t *testing.T) {
	ts := startServer(t, fixture(t), nil)
	client := ts.ec2(t, responder, region)
	cases := []struct {
		name string
		call func() error
		code string
	}{
		{"unknown snapshot", func() error {
			_, err := client.DescribeSnapshots(t.Context(), &ec2.DescribeSnapshotsInput{SnapshotIds: []string{"snap-0123456789abcdef0"}})
			return err
		}, "InvalidSnapshot.NotFound"},
		{"malformed snapshot", func() error {
			_, err := client.DeleteSnapshot(t.Context(), &ec2.DeleteSnapshotInput{SnapshotId: aws.String("snapshot-1")})
			return err
		}, "InvalidSnapshotID.Malformed"},
		{"unknown volume", func() error {
			_, err := client.CreateSnapshot(t.Context(), &ec2.CreateSnapshotInput{VolumeId: aws.String("vol-0123456789abcdef0")})
			return err
		}, "InvalidVolume.NotFound"},
		{"malformed volume", func() error {
			_, err := client.CreateSnapshot(t.Context(), &ec2.CreateSnapshotInput{VolumeId: aws.String("volume")})
			return err
		}, "InvalidVolumeID.Malformed"},
		{"unknown instance", func() error {
			_, err := client.DescribeInstances(t.Context(), &ec2.DescribeInstancesInput{InstanceIds: []string{"i-0123456789abcdef0"}})
			return err
		}, "InvalidInstanceID.NotFound"},
		{"malformed instance", func() error {
			_, err := client.DescribeInstances(t.Context(), &ec2.DescribeInstancesInput{InstanceIds: []string{"web"}})
			return err
		}, "InvalidInstanceID.Malformed"},
		{"volume in another region", func() error {
			_, err := ts.ec2(t, responder, otherRegion).CreateSnapshot(t.Context(), &ec2.CreateSnapshotInput{VolumeId: aws.String(rootVolume)})
			return err
		}, "InvalidVolume.NotFound"},
		{"not allowed", func() error {
			_, err := ts.ec2(t, readonly, region).CreateSnapshot(t.Context(), &ec2.CreateSnapshotInput{VolumeId: aws.String(rootVolume)})
			return err
		}, "UnauthorizedOperation"},
		{"dry run", func() error {
			_, err := client.CreateSnapshot(t.Context(), &ec2.CreateSnapshotInput{VolumeId: aws.String(rootVolume), DryRun: aws.Bool(true)})
			return err
		}, "DryRunOperation"},
		{"wrong secret", func() error {
			_, err := ts.ec2(t, creds{responder.id, "wrong"}, region).DescribeVolumes(t.Context(), &ec2.DescribeVolumesInput{})
			return err
		}, "AuthFailure"},
		{"unknown access key", func() error {
			_, err := ts.ec2(t, creds{"AKIAUNKNOWN000000000", "x"}, region).DescribeVolumes(t.Context(), &ec2.DescribeVolumesInput{})
			return err
		}, "AuthFailure"},
		{"missing parameter", func() error {
			_, err := client.LockSnapshot(t.Context(), &ec2.LockSnapshotInput{SnapshotId: aws.String("snap-0123456789abcdef0"), LockMode: types.LockModeGovernance})
			return err
		}, "MissingParameter"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) { wantCode(t, c.call(), c.code) })
	}
	if n := ts.CallCounts()["ec2:CreateSnapshot"]; n != 5 {
		t.Errorf("CreateSnapshot counted %d times, want 5", n)
	}
}

func TestEventualConsistency(t *testing.T) {
	sc := fixture(t)
	sc.Faults.ConsistencyDelay = Duration(2 * time.Second)
	clock := newFakeClock()
	ts := startServer(t, sc, clock)
	client := ts.ec2(t, responder, region)
	id := aws.ToString(must[*ec2.CreateSnapshotOutput](t)(client.CreateSnapshot(t.Context(), &ec2.CreateSnapshotInput{VolumeId: aws.String(rootVolume)})).SnapshotId)
	_, err := client.DescribeSnapshots(t.Context(), &ec2.DescribeSnapshotsInput{SnapshotIds: []string{id}})
	wantCode(t, err, "InvalidSnapshot.NotFound")
	clock.Advance(2 * time.Second)
	must[*ec2.DescribeSnapshotsOutput](t)(client.DescribeSnapshots(t.Context(), &ec2.DescribeSnapshotsInput{SnapshotIds: []string{id}}))
}
