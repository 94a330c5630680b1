package aws

import (
	"context"
	"fmt"
	"slices"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"

	"github.com/acquire-forensics/acquire/providers"
)

// Exposure finds the snapshots the source account owns of the target volumes, and reports each that
// is public or that accounts other than the forensic one may use: the attacker may hold a copy already.
func (d *Driver) Exposure(ctx context.Context, vols []providers.Volume) ([]providers.Finding, error) {
	if len(vols) == 0 {
		return nil, nil
	}
	byRegion := map[string][]string{}
	for _, v := range vols {
		byRegion[v.Region] = append(byRegion[v.Region], v.ID)
	}
	var findings []providers.Finding
	for region, ids := range byRegion {
		c := d.side(providers.Source, region)
		p := ec2.NewDescribeSnapshotsPaginator(c.ec2, &ec2.DescribeSnapshotsInput{
			OwnerIds: []string{"self"},
			Filters:  []ec2types.Filter{{Name: aws.String("volume-id"), Values: ids}},
		})
		for p.HasMorePages() {
			page, err := p.NextPage(ctx)
			if err != nil {
				return nil, err
			}
			for _, s := range page.Snapshots {
				f, err := d.snapshotExposure(ctx, c, s)
				if err != nil {
					return nil, err
				}
				findings = append(findings, f...)
			}
		}
	}
	slices.SortFunc(findings, func(a, b providers.Finding) int {
		if a.Snapshot < b.Snapshot {
			return -1
		}
		return 1
	})
	return findings, nil
}

func (d *Driver) snapshotExposure(ctx context.Context, c *clients, s ec2types.Snapshot) ([]providers.Finding, error) {
	out, err := c.ec2.DescribeSnapshotAttribute(ctx, &ec2.DescribeSnapshotAttributeInput{
		SnapshotId: s.SnapshotId,
		Attribute:  ec2types.SnapshotAttributeNameCreateVolumePermission,
	})
	if err != nil {
		return nil, err
	}
	id, vol := aws.ToString(s.SnapshotId), aws.ToString(s.VolumeId)
	var findings []providers.Finding
	var others []string
	for _, p := range out.CreateVolumePermissions {
		switch {
		case p.Group == ec2types.PermissionGroupAll:
			findings = append(findings, providers.Finding{Kind: "public-snapshot", Snapshot: id, VolumeID: vol,
				Detail: fmt.Sprintf("snapshot %s of volume %s is PUBLIC: anyone can create a volume from it", id, vol)})
		case p.UserId != nil && *p.UserId != d.cfg.ForensicAccount:
			others = append(others, *p.UserId)
		}
	}
	if len(others) > 0 {
		findings = append(findings, providers.Finding{Kind: "shared-snapshot", Snapshot: id, VolumeID: vol, Accounts: others,
			Detail: fmt.Sprintf("snapshot %s of volume %s is shared with accounts %v", id, vol, others)})
	}
	return findings, nil
}
