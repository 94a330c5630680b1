package aws

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/smithy-go"

	"github.com/acquire-forensics/acquire/providers"
)

const tokenTag = "acquire:token"

func tagSpec(kind ec2types.ResourceType, tags providers.Tags) []ec2types.TagSpecification {
	keys := make([]string, 0, len(tags))
	for k := range tags {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	spec := ec2types.TagSpecification{ResourceType: kind}
	for _, k := range keys {
		spec.Tags = append(spec.Tags, ec2types.Tag{Key: aws.String(k), Value: aws.String(tags[k])})
	}
	return []ec2types.TagSpecification{spec}
}

// CreateSnapshots snapshots all volumes of an instance in one CreateSnapshots call (crash-consistent,
// boot volume included), or one volume with CreateSnapshot. Neither call takes an idempotency token
// (https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_CreateSnapshots.html), so the snapshots
// carry the request's token as a tag, and the SDK does not retry them: the engine looks first.
func (d *Driver) CreateSnapshots(ctx context.Context, req providers.SnapshotRequest) ([]providers.Snapshot, error) {
	c := d.side(providers.Source, req.Region)
	if req.Workload != nil {
		in := &ec2.CreateSnapshotsInput{
			InstanceSpecification: &ec2types.InstanceSpecification{InstanceId: aws.String(req.Workload.ID), ExcludeBootVolume: aws.Bool(false)},
			Description:           aws.String(req.Description),
			TagSpecifications:     tagSpec(ec2types.ResourceTypeSnapshot, req.Tags),
		}
		out, err := c.ec2.CreateSnapshots(ctx, in, noRetry(func(o *ec2.Options, r aws.Retryer) { o.Retryer = r }))
		if err != nil {
			return nil, err
		}
		var snaps []providers.Snapshot
		for _, s := range out.Snapshots {
			snaps = append(snaps, providers.Snapshot{
				ID: aws.ToString(s.SnapshotId), VolumeID: aws.ToString(s.VolumeId), Side: providers.Source, Region: req.Region,
				State: state(string(s.State)), Encrypted: aws.ToBool(s.Encrypted), StartTime: aws.ToTime(s.StartTime),
				SizeBytes: int64(aws.ToInt32(s.VolumeSize)) * gib,
			})
		}
		return snaps, nil
	}
	if req.Volume == nil {
		return nil, errors.New("a snapshot request names a workload or a volume")
	}
	out, err := c.ec2.CreateSnapshot(ctx, &ec2.CreateSnapshotInput{
		VolumeId:          aws.String(req.Volume.ID),
		Description:       aws.String(req.Description),
		TagSpecifications: tagSpec(ec2types.ResourceTypeSnapshot, req.Tags),
	}, noRetry(func(o *ec2.Options, r aws.Retryer) { o.Retryer = r }))
	if err != nil {
		return nil, err
	}
	return []providers.Snapshot{{
		ID: aws.ToString(out.SnapshotId), VolumeID: aws.ToString(out.VolumeId), Side: providers.Source, Region: req.Region,
		State: state(string(out.State)), Encrypted: aws.ToBool(out.Encrypted), KeyID: aws.ToString(out.KmsKeyId),
		StartTime: aws.ToTime(out.StartTime), SizeBytes: int64(aws.ToInt32(out.VolumeSize)) * gib,
	}}, nil
}

// FindSnapshots finds, by their token tag, the snapshots an earlier attempt created.
func (d *Driver) FindSnapshots(ctx context.Context, side providers.Side, region, token string) ([]providers.Snapshot, error) {
	return d.describe(ctx, side, region, []ec2types.Filter{{Name: aws.String("tag:" + tokenTag), Values: []string{token}}}, true)
}

// DescribeSnapshots returns the state of snapshots by ID. It filters on the IDs rather than naming
// them, so that a snapshot not yet visible (EC2 is eventually consistent) is left out instead of
// failing the whole call.
func (d *Driver) DescribeSnapshots(ctx context.Context, side providers.Side, region string, ids []string) ([]providers.Snapshot, error) {
	return d.describe(ctx, side, region, []ec2types.Filter{{Name: aws.String("snapshot-id"), Values: ids}}, false)
}

func (d *Driver) describe(ctx context.Context, side providers.Side, region string, filters []ec2types.Filter, skipErrors bool) ([]providers.Snapshot, error) {
	c := d.side(side, region)
	p := ec2.NewDescribeSnapshotsPaginator(c.ec2, &ec2.DescribeSnapshotsInput{OwnerIds: []string{"self"}, Filters: filters})
	var snaps []providers.Snapshot
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, err
		}
		for _, s := range page.Snapshots {
			sn := providers.Snapshot{
				ID: aws.ToString(s.SnapshotId), VolumeID: aws.ToString(s.VolumeId), Side: side, Region: region,
				State: state(string(s.State)), Progress: progress(aws.ToString(s.Progress)), Encrypted: aws.ToBool(s.Encrypted),
				KeyID: aws.ToString(s.KmsKeyId), Message: aws.ToString(s.StateMessage), StartTime: aws.ToTime(s.StartTime),
				SizeBytes: int64(aws.ToInt32(s.VolumeSize)) * gib,
			}
			for _, t := range s.Tags {
				if aws.ToString(t.Key) == "acquire:source-volume" {
					sn.VolumeID = aws.ToString(t.Value) // a copy's own VolumeId is arbitrary
				}
			}
			if skipErrors && sn.State == providers.StateError {
				continue
			}
			snaps = append(snaps, sn)
		}
	}
	return snaps, nil
}

// DeleteSnapshot deletes a snapshot; one already gone is fine.
func (d *Driver) DeleteSnapshot(ctx context.Context, side providers.Side, region, id string) error {
	_, err := d.side(side, region).ec2.DeleteSnapshot(ctx, &ec2.DeleteSnapshotInput{SnapshotId: aws.String(id)})
	if isCode(err, "InvalidSnapshot.NotFound") {
		return nil
	}
	return err
}

func state(s string) providers.SnapshotState {
	switch s {
	case "completed":
		return providers.StateCompleted
	case "error", "recoverable", "recovering":
		return providers.StateError
	}
	return providers.StatePending
}

func progress(p string) int {
	var n int
	_, _ = fmt.Sscanf(strings.TrimSuffix(p, "%"), "%d", &n)
	return n
}

func isCode(err error, codes ...string) bool {
	var api smithy.APIError
	return errors.As(err, &api) && slices.Contains(codes, api.ErrorCode())
}
