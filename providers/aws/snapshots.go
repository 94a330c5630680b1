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

	"github.com/acquire-forensics/acquire/providers/driver"
)

// tagPrefix makes the engine's neutral labels AWS tags: "acquire:case", "acquire:token".
const tagPrefix = "acquire:"

const (
	tokenTag        = tagPrefix + driver.LabelToken
	sourceVolumeTag = tagPrefix + driver.LabelSourceVolume
	roleTag         = tagPrefix + driver.LabelRole
)

// tagSpec encodes labels as the tags of a resource made by a call, in a stable order. Tag values may
// hold any Unicode text up to 256 characters
// (https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/Using_Tags.html#tag-restrictions).
func tagSpec(kind ec2types.ResourceType, labels driver.Labels) []ec2types.TagSpecification {
	spec := ec2types.TagSpecification{ResourceType: kind}
	for _, k := range slices.Sorted(func(yield func(string) bool) {
		for k := range labels {
			if !yield(k) {
				return
			}
		}
	}) {
		v := labels[k]
		if len(v) > 256 {
			v = v[:256]
		}
		spec.Tags = append(spec.Tags, ec2types.Tag{Key: aws.String(tagPrefix + k), Value: aws.String(v)})
	}
	return []ec2types.TagSpecification{spec}
}

func withRole(labels driver.Labels, role string) driver.Labels {
	out := driver.Labels{}
	for k, v := range labels {
		out[k] = v
	}
	out[driver.LabelRole] = role
	return out
}

// CreateSnapshots snapshots all volumes of an instance in one CreateSnapshots call (crash-consistent,
// boot volume included), or each volume with CreateSnapshot when per-volume snapshots are asked for.
// Neither call takes an idempotency token
// (https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_CreateSnapshots.html), so the snapshots
// carry the request's token as a tag, and the SDK does not retry them: the engine looks first.
func (d *Driver) CreateSnapshots(ctx context.Context, req driver.SnapshotRequest) (driver.SnapshotResult, error) {
	if req.Workload != nil && req.Consistency != driver.PerVolume {
		snaps, err := d.createInstanceSnapshots(ctx, req)
		return driver.SnapshotResult{Snapshots: snaps, Consistency: driver.CrashConsistent}, err
	}
	var vols []driver.Volume
	switch {
	case req.Workload != nil:
		vols = req.Workload.Volumes
	case req.Volume != nil:
		vols = []driver.Volume{*req.Volume}
	default:
		return driver.SnapshotResult{}, errors.New("a snapshot request names a workload or a volume")
	}
	res := driver.SnapshotResult{Consistency: driver.PerVolume}
	for _, v := range vols {
		if req.Retry {
			found, err := d.findSnapshots(ctx, driver.Source, v.Location, req.Token, v.ID)
			if err != nil {
				return res, err
			}
			if len(found) > 0 {
				res.Snapshots = append(res.Snapshots, found[0])
				continue
			}
		}
		labels := driver.Labels{}
		for k, val := range req.Labels {
			labels[k] = val
		}
		labels[driver.LabelSourceVolume] = v.ID
		out, err := d.side(driver.Source, v.Location).ec2.CreateSnapshot(ctx, &ec2.CreateSnapshotInput{
			VolumeId:          aws.String(v.ID),
			Description:       aws.String(req.Description),
			TagSpecifications: tagSpec(ec2types.ResourceTypeSnapshot, labels),
		}, noRetry(func(o *ec2.Options, r aws.Retryer) { o.Retryer = r }))
		if err != nil {
			return res, err
		}
		res.Snapshots = append(res.Snapshots, driver.Snapshot{
			ID: aws.ToString(out.SnapshotId), VolumeID: aws.ToString(out.VolumeId), Side: driver.Source, Account: aws.ToString(out.OwnerId), Location: v.Location,
			State: state(string(out.State)), Encrypted: aws.ToBool(out.Encrypted), KeyID: aws.ToString(out.KmsKeyId),
			StartTime: aws.ToTime(out.StartTime), SizeBytes: int64(aws.ToInt32(out.VolumeSize)) * gib,
		})
	}
	if len(vols) > 1 {
		res.Note = "each volume snapshotted on its own, as asked"
	}
	return res, nil
}

func (d *Driver) createInstanceSnapshots(ctx context.Context, req driver.SnapshotRequest) ([]driver.Snapshot, error) {
	region := req.Workload.Location
	in := &ec2.CreateSnapshotsInput{
		InstanceSpecification: &ec2types.InstanceSpecification{InstanceId: aws.String(req.Workload.ID), ExcludeBootVolume: aws.Bool(false)},
		Description:           aws.String(req.Description),
		TagSpecifications:     tagSpec(ec2types.ResourceTypeSnapshot, req.Labels),
	}
	out, err := d.side(driver.Source, region).ec2.CreateSnapshots(ctx, in, noRetry(func(o *ec2.Options, r aws.Retryer) { o.Retryer = r }))
	if err != nil {
		return nil, err
	}
	var snaps []driver.Snapshot
	for _, s := range out.Snapshots {
		snaps = append(snaps, driver.Snapshot{
			ID: aws.ToString(s.SnapshotId), VolumeID: aws.ToString(s.VolumeId), Side: driver.Source, Account: aws.ToString(s.OwnerId), Location: region,
			State: state(string(s.State)), Encrypted: aws.ToBool(s.Encrypted), StartTime: aws.ToTime(s.StartTime),
			SizeBytes: int64(aws.ToInt32(s.VolumeSize)) * gib,
		})
	}
	return snaps, nil
}

// FindSnapshots finds, by their token tag, the snapshots an earlier attempt made, in any state.
func (d *Driver) FindSnapshots(ctx context.Context, side driver.Side, region, token string) ([]driver.Snapshot, error) {
	return d.findSnapshots(ctx, side, region, token, "")
}

func (d *Driver) findSnapshots(ctx context.Context, side driver.Side, region, token, volume string) ([]driver.Snapshot, error) {
	filters := []ec2types.Filter{{Name: aws.String("tag:" + tokenTag), Values: []string{token}}}
	if volume != "" {
		filters = append(filters, ec2types.Filter{Name: aws.String("tag:" + sourceVolumeTag), Values: []string{volume}})
	}
	return d.describe(ctx, side, region, filters)
}

// findRole finds the snapshots with a token and a role tag.
func (d *Driver) findRole(ctx context.Context, side driver.Side, region, token, volume, role string) (*driver.Snapshot, error) {
	found, err := d.describe(ctx, side, region, []ec2types.Filter{
		{Name: aws.String("tag:" + tokenTag), Values: []string{token}},
		{Name: aws.String("tag:" + sourceVolumeTag), Values: []string{volume}},
		{Name: aws.String("tag:" + roleTag), Values: []string{role}},
	})
	if err != nil || len(found) == 0 {
		return nil, err
	}
	return &found[0], nil
}

// SnapshotStatus returns the state of snapshots by ID. It filters on the IDs rather than naming them,
// so that a snapshot not yet visible (EC2 is eventually consistent) is left out instead of failing the
// whole call.
func (d *Driver) SnapshotStatus(ctx context.Context, side driver.Side, region string, ids []string) ([]driver.Snapshot, error) {
	return d.describe(ctx, side, region, []ec2types.Filter{{Name: aws.String("snapshot-id"), Values: ids}})
}

func (d *Driver) describe(ctx context.Context, side driver.Side, region string, filters []ec2types.Filter) ([]driver.Snapshot, error) {
	c := d.side(side, region)
	p := ec2.NewDescribeSnapshotsPaginator(c.ec2, &ec2.DescribeSnapshotsInput{OwnerIds: []string{"self"}, Filters: filters})
	var snaps []driver.Snapshot
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, err
		}
		for _, s := range page.Snapshots {
			sn := driver.Snapshot{
				ID: aws.ToString(s.SnapshotId), VolumeID: aws.ToString(s.VolumeId), Side: side, Account: aws.ToString(s.OwnerId), Location: region,
				State: state(string(s.State)), Progress: progress(aws.ToString(s.Progress)), Encrypted: aws.ToBool(s.Encrypted),
				KeyID: aws.ToString(s.KmsKeyId), Message: aws.ToString(s.StateMessage), StartTime: aws.ToTime(s.StartTime),
				SizeBytes: int64(aws.ToInt32(s.VolumeSize)) * gib,
			}
			for _, t := range s.Tags {
				if aws.ToString(t.Key) == sourceVolumeTag {
					sn.VolumeID = aws.ToString(t.Value) // a copy's own VolumeId is arbitrary
				}
			}
			snaps = append(snaps, sn)
		}
	}
	return snaps, nil
}

// Resource kinds the driver makes and removes.
const (
	kindSnapshot = "snapshot"
	kindShare    = "snapshot-share" // ID: the snapshot; shared with the forensic account
	kindGrant    = "kms-grant"      // Parent: the key
	kindKey      = "kms-key"
)

// Delete removes what the driver made: a snapshot, a share (withdrawn), a key grant (revoked), a
// temporary key (scheduled for deletion). What is gone already is fine.
func (d *Driver) Delete(ctx context.Context, r driver.Resource) error {
	c := d.side(r.Side, r.Location)
	switch r.Kind {
	case kindSnapshot:
		_, err := c.ec2.DeleteSnapshot(ctx, &ec2.DeleteSnapshotInput{SnapshotId: aws.String(r.ID)})
		if isCode(err, "InvalidSnapshot.NotFound") {
			return nil
		}
		return err
	case kindShare:
		err := d.shareOp(ctx, r.Location, r.ID, ec2types.OperationTypeRemove)
		if isCode(err, "InvalidSnapshot.NotFound") {
			return nil // a deleted snapshot is shared with nobody
		}
		return err
	case kindGrant:
		return d.revokeGrant(ctx, c, r.Parent, r.ID)
	case kindKey:
		return d.retireKey(ctx, c, r.ID)
	}
	return fmt.Errorf("aws: cannot delete a %q", r.Kind)
}

func state(s string) driver.SnapshotState {
	switch s {
	case "completed":
		return driver.StateCompleted
	case "error", "recoverable", "recovering":
		return driver.StateError
	}
	return driver.StatePending
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
