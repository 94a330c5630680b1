package awssim

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"
)

func TestCreateSnapshotsExclusions(t *testing.T) {
	ts := startServer(t, fixture(t), nil)
	client := ts.ec2(t, responder, region)
	_, err := client.CreateSnapshots(t.Context(), &ec2.CreateSnapshotsInput{
		InstanceSpecification: &types.InstanceSpecification{InstanceId: aws.String(webInstance), ExcludeDataVolumeIds: []string{dataVolume, rootVolume}},
	})
	wantCode(t, err, "InvalidParameterValue")
	many := make([]string, 41)
	for i := range many {
		many[i] = fmt.Sprintf("vol-%017x", i+1)
	}
	_, err = client.CreateSnapshots(t.Context(), &ec2.CreateSnapshotsInput{
		InstanceSpecification: &types.InstanceSpecification{InstanceId: aws.String(webInstance), ExcludeDataVolumeIds: many},
	})
	wantCode(t, err, "InvalidParameterValue")
	if snaps := ts.Snapshots(); len(snaps) != 0 {
		t.Errorf("refused requests created %d snapshots", len(snaps))
	}
	out := must[*ec2.CreateSnapshotsOutput](t)(client.CreateSnapshots(t.Context(), &ec2.CreateSnapshotsInput{
		InstanceSpecification: &types.InstanceSpecification{InstanceId: aws.String(webInstance), ExcludeDataVolumeIds: many[:40]},
	}))
	if len(out.Snapshots) != 3 {
		t.Errorf("%d snapshots with 40 unrelated exclusions", len(out.Snapshots))
	}
}

// Tagging on creation needs ec2:CreateTags as well as the creating action.
func TestTagOnCreateNeedsCreateTags(t *testing.T) {
	sc := fixture(t)
	notagger := creds{"AKIAWORKLOAD00000009", "notag-secret"}
	sc.Accounts[0].Users = append(sc.Accounts[0].Users, ScenarioUser{Name: "notagger", AccessKeyID: notagger.id, SecretAccessKey: notagger.secret,
		Allow: []string{"ec2:CreateSnapshot", "ec2:CreateSnapshots", "ec2:CopySnapshot", "ec2:CreateVolume", "ec2:Describe*", "kms:*"}})
	ts := startServer(t, sc, nil)
	client := ts.ec2(t, notagger, region)
	tags := []types.TagSpecification{{ResourceType: types.ResourceTypeSnapshot, Tags: []types.Tag{{Key: aws.String("case"), Value: aws.String("1")}}}}
	snap := snapshotOf(t, client, dataVolume) // without tags: allowed

	_, err := client.CreateSnapshot(t.Context(), &ec2.CreateSnapshotInput{VolumeId: aws.String(dataVolume), TagSpecifications: tags})
	wantCode(t, err, "UnauthorizedOperation")
	_, err = client.CreateSnapshots(t.Context(), &ec2.CreateSnapshotsInput{
		InstanceSpecification: &types.InstanceSpecification{InstanceId: aws.String(webInstance)}, TagSpecifications: tags,
	})
	wantCode(t, err, "UnauthorizedOperation")
	_, err = client.CopySnapshot(t.Context(), &ec2.CopySnapshotInput{SourceSnapshotId: aws.String(snap), SourceRegion: aws.String(region), TagSpecifications: tags})
	wantCode(t, err, "UnauthorizedOperation")
	_, err = client.CreateVolume(t.Context(), &ec2.CreateVolumeInput{AvailabilityZone: aws.String("us-east-1b"), Size: aws.Int32(1),
		TagSpecifications: []types.TagSpecification{{ResourceType: types.ResourceTypeVolume, Tags: []types.Tag{{Key: aws.String("case"), Value: aws.String("1")}}}}})
	wantCode(t, err, "UnauthorizedOperation")
	_, err = client.CreateSnapshot(t.Context(), &ec2.CreateSnapshotInput{VolumeId: aws.String(dataVolume), TagSpecifications: tags, DryRun: aws.Bool(true)})
	wantCode(t, err, "UnauthorizedOperation")
	if n := len(ts.Snapshots()); n != 1 {
		t.Errorf("%d snapshots, want the untagged one only", n)
	}
}

func TestCopyRules(t *testing.T) {
	ts := startServer(t, fixture(t), nil)
	client := ts.ec2(t, responder, region)

	// "You cannot set this parameter to false": an encrypted snapshot's copy
	// stays encrypted.
	encrypted := snapshotOf(t, client, cmkVolume)
	_, err := client.CopySnapshot(t.Context(), &ec2.CopySnapshotInput{SourceSnapshotId: aws.String(encrypted), SourceRegion: aws.String(region), Encrypted: aws.Bool(false)})
	wantCode(t, err, "InvalidParameterValue")

	// A bad presigned URL fails the copy, asynchronously.
	plain := snapshotOf(t, client, dataVolume)
	other := ts.ec2(t, responder, otherRegion)
	bad := must[*ec2.CopySnapshotOutput](t)(other.CopySnapshot(t.Context(), &ec2.CopySnapshotInput{
		SourceSnapshotId: aws.String(plain), SourceRegion: aws.String(region),
		PresignedUrl: aws.String("https://ec2.us-east-1.amazonaws.com/?Action=DescribeVolumes&X-Amz-Signature=00"),
	}))
	if s := describeSnapshot(t, other, aws.ToString(bad.SnapshotId)); s.State != types.SnapshotStateError || !strings.Contains(aws.ToString(s.StateMessage), "presigned") {
		t.Errorf("copy with a bad presigned URL: %s %q", s.State, aws.ToString(s.StateMessage))
	}

	// Same account, across regions, with the SDK's own presigned URL.
	copied := must[*ec2.CopySnapshotOutput](t)(other.CopySnapshot(t.Context(), &ec2.CopySnapshotInput{
		SourceSnapshotId: aws.String(plain), SourceRegion: aws.String(region), Description: aws.String("dr copy"),
	}))
	s := describeSnapshot(t, other, aws.ToString(copied.SnapshotId))
	if s.State != types.SnapshotStateCompleted || aws.ToString(s.OwnerId) != workloadAccount || aws.ToBool(s.Encrypted) {
		t.Fatalf("same-account copy: %s owner %s (%s)", s.State, aws.ToString(s.OwnerId), aws.ToString(s.StateMessage))
	}
	_, err = client.DescribeSnapshots(t.Context(), &ec2.DescribeSnapshotsInput{SnapshotIds: []string{aws.ToString(copied.SnapshotId)}})
	wantCode(t, err, "InvalidSnapshot.NotFound") // it lives in the other region
}

// A request missing several parameters always names the same one.
func TestAttachVolumeMissingParameter(t *testing.T) {
	ts := startServer(t, fixture(t), nil)
	for range 5 {
		resp := ts.signedRequest(t, responder, "ec2", http.MethodPost, "/", url.Values{"Action": {"AttachVolume"}, "Version": {"2016-11-15"}})
		if code, msg := ec2ErrorOf(t, resp); code != "MissingParameter" || !strings.HasSuffix(msg, " Device") {
			t.Fatalf("%s: %s", code, msg)
		}
	}
}

func TestDescribeInstancesAndVolumesPaginate(t *testing.T) {
	sc := fixture(t)
	for i := range 6 {
		vol := fmt.Sprintf("vol-%017x", 0xb00+i)
		sc.Accounts[0].Volumes = append(sc.Accounts[0].Volumes, ScenarioVolume{ID: vol, Region: region, SizeGiB: 1})
		sc.Accounts[0].Instances = append(sc.Accounts[0].Instances, ScenarioInstance{
			ID: fmt.Sprintf("i-%017x", 0xb00+i), Region: region,
			Volumes: []ScenarioAttachment{{VolumeID: vol, Device: "/dev/xvda"}},
		})
	}
	ts := startServer(t, sc, nil)
	client := ts.ec2(t, responder, region)

	var instances, pages int
	for p := ec2.NewDescribeInstancesPaginator(client, &ec2.DescribeInstancesInput{MaxResults: aws.Int32(5)}); p.HasMorePages(); pages++ {
		for _, r := range must[*ec2.DescribeInstancesOutput](t)(p.NextPage(t.Context())).Reservations {
			instances += len(r.Instances)
		}
	}
	if instances != 7 || pages != 2 {
		t.Errorf("%d instances in %d pages", instances, pages)
	}
	var volumes int
	pages = 0
	for p := ec2.NewDescribeVolumesPaginator(client, &ec2.DescribeVolumesInput{MaxResults: aws.Int32(5)}); p.HasMorePages(); pages++ {
		volumes += len(must[*ec2.DescribeVolumesOutput](t)(p.NextPage(t.Context())).Volumes)
	}
	if volumes != 10 || pages != 2 {
		t.Errorf("%d volumes in %d pages", volumes, pages)
	}
	_, err := client.DescribeVolumes(t.Context(), &ec2.DescribeVolumesInput{MaxResults: aws.Int32(4)})
	wantCode(t, err, "InvalidParameterValue")
	_, err = client.DescribeInstances(t.Context(), &ec2.DescribeInstancesInput{MaxResults: aws.Int32(5), NextToken: aws.String("5.0-forged")})
	wantCode(t, err, "InvalidPaginationToken")
	// A token is bound to its listing.
	first := must[*ec2.DescribeVolumesOutput](t)(client.DescribeVolumes(t.Context(), &ec2.DescribeVolumesInput{MaxResults: aws.Int32(5)}))
	_, err = client.DescribeInstances(t.Context(), &ec2.DescribeInstancesInput{MaxResults: aws.Int32(5), NextToken: first.NextToken})
	wantCode(t, err, "InvalidPaginationToken")
}

// At most 20 copies may be in progress to one region in an account; the 21st is refused with
// ResourceLimitExceeded, and accepted again once the others complete.
func TestConcurrentCopyLimit(t *testing.T) {
	sc := fixture(t)
	sc.SnapshotBytesPerSecond = 1 << 20
	clock := newFakeClock()
	ts := startServer(t, sc, clock)
	client := ts.ec2(t, responder, region)
	src := snapshotOf(t, client, dataVolume)
	clock.Advance(time.Hour)
	copyOnce := func() error {
		_, err := client.CopySnapshot(t.Context(), &ec2.CopySnapshotInput{SourceSnapshotId: aws.String(src), SourceRegion: aws.String(region)},
			func(o *ec2.Options) { o.Retryer = aws.NopRetryer{} })
		return err
	}
	for i := range concurrentCopiesPerRegion {
		if err := copyOnce(); err != nil {
			t.Fatalf("copy %d: %v", i+1, err)
		}
	}
	wantCode(t, copyOnce(), "ResourceLimitExceeded")
	clock.Advance(time.Hour)
	if err := copyOnce(); err != nil {
		t.Fatalf("a copy once the others completed: %v", err)
	}
}
