package aws

import (
	"context"
	"fmt"
	"slices"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"

	"github.com/acquire-forensics/acquire/providers/driver"
)

// Exposure finds the snapshots the source account owns of the target volumes, and reports each that
// is public or that accounts other than the forensic one may use: the attacker may hold a copy already.
func (d *Driver) Exposure(ctx context.Context, vols []driver.Volume) ([]driver.Finding, error) {
	if len(vols) == 0 {
		return nil, nil
	}
	byRegion := map[string][]string{}
	for _, v := range vols {
		byRegion[v.Location] = append(byRegion[v.Location], v.ID)
	}
	var findings []driver.Finding
	for region, ids := range byRegion {
		c := d.side(driver.Source, region)
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
	slices.SortFunc(findings, func(a, b driver.Finding) int {
		if a.Resource < b.Resource {
			return -1
		}
		return 1
	})
	return findings, nil
}

func (d *Driver) snapshotExposure(ctx context.Context, c *clients, s ec2types.Snapshot) ([]driver.Finding, error) {
	out, err := c.ec2.DescribeSnapshotAttribute(ctx, &ec2.DescribeSnapshotAttributeInput{
		SnapshotId: s.SnapshotId,
		Attribute:  ec2types.SnapshotAttributeNameCreateVolumePermission,
	})
	if err != nil {
		return nil, err
	}
	id, vol := aws.ToString(s.SnapshotId), aws.ToString(s.VolumeId)
	var findings []driver.Finding
	var others []string
	for _, p := range out.CreateVolumePermissions {
		switch {
		case p.Group == ec2types.PermissionGroupAll:
			findings = append(findings, driver.Finding{Kind: "public-snapshot", Resource: id, VolumeID: vol,
				Detail: fmt.Sprintf("snapshot %s of volume %s is PUBLIC: anyone can create a volume from it", id, vol)})
		case p.UserId != nil && *p.UserId != d.cfg.ForensicAccount:
			others = append(others, *p.UserId)
		}
	}
	if len(others) > 0 {
		findings = append(findings, driver.Finding{Kind: "shared-snapshot", Resource: id, VolumeID: vol, Accounts: others,
			Detail: fmt.Sprintf("snapshot %s of volume %s is shared with accounts %v", id, vol, others)})
	}
	return findings, nil
}
