package aws

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"slices"
	"sort"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	kmstypes "github.com/aws/aws-sdk-go-v2/service/kms/types"

	"github.com/acquire-forensics/acquire/providers/driver"
)

const gib = 1 << 30

// Describe resolves instances (all attached volumes, the boot volume included) and lone volumes, and
// captures each instance's configuration: its description (network interfaces, security groups,
// instance profile, block devices), its user data and its volumes' descriptions. The volumes of all
// instances are described together, a few hundred per call, so that a fleet costs few calls.
func (d *Driver) Describe(ctx context.Context, t driver.Target) ([]driver.Workload, error) {
	region := t.Location
	if region == "" {
		region = d.cfg.Region
	}
	c := d.side(driver.Source, region)
	keys := map[string]driver.KeyKind{}
	var workloads []driver.Workload
	if len(t.Workloads) > 0 {
		var instances []ec2types.Instance
		p := ec2.NewDescribeInstancesPaginator(c.ec2, &ec2.DescribeInstancesInput{InstanceIds: t.Workloads})
		for p.HasMorePages() {
			out, err := p.NextPage(ctx)
			if err != nil {
				return nil, err
			}
			for _, res := range out.Reservations {
				instances = append(instances, res.Instances...)
			}
		}
		if len(instances) != len(t.Workloads) {
			return nil, fmt.Errorf("%d instances asked for, %d found in %s", len(t.Workloads), len(instances), region)
		}
		var ids []string
		devices := map[string]string{}
		for _, inst := range instances {
			for _, m := range inst.BlockDeviceMappings {
				if m.Ebs != nil && m.Ebs.VolumeId != nil {
					ids = append(ids, *m.Ebs.VolumeId)
					devices[*m.Ebs.VolumeId] = aws.ToString(m.DeviceName)
				}
			}
		}
		vols, err := d.describeVolumes(ctx, c, region, ids, devices, keys)
		if err != nil {
			return nil, err
		}
		for _, inst := range instances {
			w, err := d.describeInstance(ctx, c, region, inst, vols)
			if err != nil {
				return nil, err
			}
			workloads = append(workloads, w)
		}
	}
	if len(t.Volumes) > 0 {
		vols, err := d.describeVolumes(ctx, c, region, t.Volumes, nil, keys)
		if err != nil {
			return nil, err
		}
		for i, v := range vols.volumes {
			w := driver.Workload{Location: region, Volumes: []driver.Volume{v}}
			w.Artifacts = append(w.Artifacts, jsonArtifact(fmt.Sprintf("aws/%s/volume.json", v.ID), vols.raw[i]))
			workloads = append(workloads, w)
		}
	}
	return workloads, nil
}

func (d *Driver) describeInstance(ctx context.Context, c *clients, region string, inst ec2types.Instance, all describedVolumes) (driver.Workload, error) {
	id := aws.ToString(inst.InstanceId)
	w := driver.Workload{ID: id, Location: region}
	w.Artifacts = append(w.Artifacts, jsonArtifact(fmt.Sprintf("aws/%s/instance.json", id), inst))

	ud, err := c.ec2.DescribeInstanceAttribute(ctx, &ec2.DescribeInstanceAttributeInput{InstanceId: inst.InstanceId, Attribute: ec2types.InstanceAttributeNameUserData})
	if err != nil {
		return w, err
	}
	if ud.UserData != nil && ud.UserData.Value != nil {
		data, err := base64.StdEncoding.DecodeString(aws.ToString(ud.UserData.Value))
		if err != nil {
			data = []byte(aws.ToString(ud.UserData.Value)) // kept as AWS returned it
		}
		w.Artifacts = append(w.Artifacts, driver.Artifact{Name: fmt.Sprintf("aws/%s/user-data", id), Data: data, MediaType: "application/octet-stream"})
	}
	attached := map[string]bool{}
	for _, m := range inst.BlockDeviceMappings {
		if m.Ebs != nil && m.Ebs.VolumeId != nil {
			attached[*m.Ebs.VolumeId] = true
		}
	}
	if len(attached) == 0 {
		return w, fmt.Errorf("instance %s has no EBS volume attached", id)
	}
	var raw []ec2types.Volume
	root := aws.ToString(inst.RootDeviceName)
	for i, v := range all.volumes {
		if attached[v.ID] {
			v.Workload, v.Boot = id, v.Device == root
			w.Volumes = append(w.Volumes, v)
			raw = append(raw, all.raw[i])
		}
	}
	if len(w.Volumes) != len(attached) {
		return w, fmt.Errorf("instance %s has %d volumes attached, and %d of them were described", id, len(attached), len(w.Volumes))
	}
	w.Artifacts = append(w.Artifacts, jsonArtifact(fmt.Sprintf("aws/%s/volumes.json", id), raw))
	return w, nil
}

type describedVolumes struct {
	volumes []driver.Volume
	raw     []ec2types.Volume
}

// volumesPerCall is how many volume IDs one DescribeVolumes names.
const volumesPerCall = 200

func (d *Driver) describeVolumes(ctx context.Context, c *clients, region string, ids []string, devices map[string]string, keys map[string]driver.KeyKind) (describedVolumes, error) {
	var out describedVolumes
	for chunk := range slices.Chunk(ids, volumesPerCall) {
		p := ec2.NewDescribeVolumesPaginator(c.ec2, &ec2.DescribeVolumesInput{VolumeIds: chunk})
		for p.HasMorePages() {
			page, err := p.NextPage(ctx)
			if err != nil {
				return out, err
			}
			out.raw = append(out.raw, page.Volumes...)
		}
	}
	sort.Slice(out.raw, func(i, j int) bool { return aws.ToString(out.raw[i].VolumeId) < aws.ToString(out.raw[j].VolumeId) })
	for _, v := range out.raw {
		vol := driver.Volume{
			ID:        aws.ToString(v.VolumeId),
			Device:    devices[aws.ToString(v.VolumeId)],
			Location:  region,
			Zone:      aws.ToString(v.AvailabilityZone),
			SizeBytes: int64(aws.ToInt32(v.Size)) * gib,
			KeyKind:   driver.KeyNone,
			Type:      string(v.VolumeType),
		}
		if aws.ToBool(v.Encrypted) {
			vol.KeyID = aws.ToString(v.KmsKeyId)
			kind, ok := keys[vol.KeyID]
			if !ok {
				var err error
				if kind, err = d.keyKind(ctx, c, vol.KeyID); err != nil {
					return out, fmt.Errorf("volume %s: %w", vol.ID, err)
				}
				keys[vol.KeyID] = kind
			}
			vol.KeyKind = kind
		}
		out.volumes = append(out.volumes, vol)
	}
	return out, nil
}

// keyKind tells an AWS managed key (aws/ebs, which cannot be shared) from a customer managed one.
func (d *Driver) keyKind(ctx context.Context, c *clients, keyID string) (driver.KeyKind, error) {
	out, err := c.kms.DescribeKey(ctx, &kms.DescribeKeyInput{KeyId: aws.String(keyID)})
	if err != nil {
		return "", err
	}
	if out.KeyMetadata.KeyManager == kmstypes.KeyManagerTypeAws {
		return driver.KeyProviderDefault, nil
	}
	return driver.KeyCustomer, nil
}

func jsonArtifact(name string, v any) driver.Artifact {
	data, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		data = []byte(fmt.Sprintf("%q", fmt.Sprint(v)))
	}
	return driver.Artifact{Name: name, Data: append(data, '\n'), MediaType: "application/json"}
}
