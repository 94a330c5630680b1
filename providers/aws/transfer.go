package aws

import (
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	kmstypes "github.com/aws/aws-sdk-go-v2/service/kms/types"

	"github.com/acquire-forensics/acquire/providers"
)

// grantOps are what the forensic account needs on a customer managed key to copy a snapshot encrypted
// under it (https://docs.aws.amazon.com/ebs/latest/userguide/ebs-encryption-requirements.html).
var grantOps = []kmstypes.GrantOperation{
	kmstypes.GrantOperationDecrypt, kmstypes.GrantOperationDescribeKey, kmstypes.GrantOperationCreateGrant,
	kmstypes.GrantOperationGenerateDataKeyWithoutPlaintext, kmstypes.GrantOperationReEncryptFrom, kmstypes.GrantOperationReEncryptTo,
}

// Stage readies a source snapshot for the forensic account according to its encryption.
func (d *Driver) Stage(ctx context.Context, req providers.StageRequest) (providers.Staged, error) {
	src := req.Snapshot
	switch req.Volume.KeyKind {
	case providers.KeyNone:
		return providers.Staged{Snapshot: src}, nil
	case providers.KeyCustomer:
		c := d.side(providers.Source, src.Region)
		out, err := c.kms.CreateGrant(ctx, &kms.CreateGrantInput{
			KeyId:            aws.String(req.Volume.KeyID),
			GranteePrincipal: aws.String("arn:aws:iam::" + d.cfg.ForensicAccount + ":root"),
			Operations:       grantOps,
			Name:             aws.String(req.Token), // the same name makes the same grant: safe to repeat
		})
		if err != nil {
			return providers.Staged{}, err
		}
		return providers.Staged{Snapshot: src, Grants: []providers.Grant{{KeyID: req.Volume.KeyID, ID: aws.ToString(out.GrantId)}}}, nil
	case providers.KeyProviderDefault:
		if req.ShareKey == nil {
			return providers.Staged{}, fmt.Errorf("snapshot %s is under the AWS managed key and needs a share key", src.ID)
		}
		keyID := req.ShareKey.ARN
		if keyID == "" {
			keyID = req.ShareKey.ID
		}
		c := d.side(providers.Source, src.Region)
		out, err := c.ec2.CopySnapshot(ctx, &ec2.CopySnapshotInput{
			SourceSnapshotId:  aws.String(src.ID),
			SourceRegion:      aws.String(src.Region),
			Encrypted:         aws.Bool(true),
			KmsKeyId:          aws.String(keyID),
			Description:       aws.String("acquire intermediate copy of " + src.ID + " under the share key"),
			TagSpecifications: tagSpec(ec2types.ResourceTypeSnapshot, req.Tags),
		}, noRetry(func(o *ec2.Options, r aws.Retryer) { o.Retryer = r }))
		if err != nil {
			return providers.Staged{}, err
		}
		inter := providers.Snapshot{ID: aws.ToString(out.SnapshotId), VolumeID: src.VolumeID, Side: providers.Source, Region: src.Region,
			State: providers.StatePending, Encrypted: true, KeyID: keyID}
		return providers.Staged{Snapshot: inter, Intermediate: true}, nil
	}
	return providers.Staged{}, fmt.Errorf("volume %s: unknown key kind %q", req.Volume.ID, req.Volume.KeyKind)
}

// Unstage deletes the intermediate copy and revokes the grants Stage made; what is gone already is fine.
func (d *Driver) Unstage(ctx context.Context, s providers.Staged) error {
	c := d.side(providers.Source, s.Snapshot.Region)
	for _, g := range s.Grants {
		_, err := c.kms.RevokeGrant(ctx, &kms.RevokeGrantInput{KeyId: aws.String(g.KeyID), GrantId: aws.String(g.ID)})
		if err != nil && !isCode(err, "NotFoundException") {
			return err
		}
	}
	if s.Intermediate {
		return d.DeleteSnapshot(ctx, providers.Source, s.Snapshot.Region, s.Snapshot.ID)
	}
	return nil
}

// Share gives the forensic account, and only it, permission to create volumes from the snapshot, which
// is what copying it takes.
func (d *Driver) Share(ctx context.Context, s providers.Snapshot) error {
	return d.shareOp(ctx, s, ec2types.OperationTypeAdd, d.cfg.ForensicAccount)
}

// Unshare withdraws that permission.
func (d *Driver) Unshare(ctx context.Context, s providers.Snapshot) error {
	err := d.shareOp(ctx, s, ec2types.OperationTypeRemove, d.cfg.ForensicAccount)
	if isCode(err, "InvalidSnapshot.NotFound") {
		return nil // a deleted snapshot is shared with nobody
	}
	return err
}

func (d *Driver) shareOp(ctx context.Context, s providers.Snapshot, op ec2types.OperationType, account string) error {
	_, err := d.side(providers.Source, s.Region).ec2.ModifySnapshotAttribute(ctx, &ec2.ModifySnapshotAttributeInput{
		SnapshotId:    aws.String(s.ID),
		Attribute:     ec2types.SnapshotAttributeNameCreateVolumePermission,
		OperationType: op,
		UserIds:       []string{account},
	})
	return err
}

// Copy copies a shared snapshot into the forensic account and region, encrypted under the forensic
// key, tagged with the case. It is called in the destination region; the SDK adds the presigned URL a
// cross-region copy needs (https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_CopySnapshot.html).
func (d *Driver) Copy(ctx context.Context, req providers.CopyRequest) (providers.Snapshot, error) {
	c := d.side(providers.Forensic, req.Region)
	out, err := c.ec2.CopySnapshot(ctx, &ec2.CopySnapshotInput{
		SourceSnapshotId:  aws.String(req.Source.ID),
		SourceRegion:      aws.String(req.Source.Region),
		Encrypted:         aws.Bool(true),
		KmsKeyId:          aws.String(req.KeyID),
		Description:       aws.String(req.Description),
		TagSpecifications: tagSpec(ec2types.ResourceTypeSnapshot, req.Tags),
	}, noRetry(func(o *ec2.Options, r aws.Retryer) { o.Retryer = r }))
	if err != nil {
		return providers.Snapshot{}, err
	}
	return providers.Snapshot{ID: aws.ToString(out.SnapshotId), VolumeID: req.Source.VolumeID, Side: providers.Forensic, Region: req.Region,
		State: providers.StatePending, Encrypted: true, KeyID: req.KeyID}, nil
}

// Lock protects a forensic copy with a snapshot lock
// (https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_LockSnapshot.html).
func (d *Driver) Lock(ctx context.Context, s providers.Snapshot, req providers.LockRequest) error {
	in := &ec2.LockSnapshotInput{SnapshotId: aws.String(s.ID), LockMode: ec2types.LockMode(req.Mode), LockDuration: aws.Int32(int32(req.Days))}
	if req.Mode == "compliance" && req.CoolOffHours > 0 {
		in.CoolOffPeriod = aws.Int32(int32(req.CoolOffHours))
	}
	_, err := d.side(providers.Forensic, s.Region).ec2.LockSnapshot(ctx, in)
	return err
}
