package aws

import (
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	kmstypes "github.com/aws/aws-sdk-go-v2/service/kms/types"

	"github.com/acquire-forensics/acquire/providers/driver"
)

// grantOps are what the forensic account needs on a customer managed key to copy a snapshot encrypted
// under it (https://docs.aws.amazon.com/ebs/latest/userguide/ebs-encryption-requirements.html).
var grantOps = []kmstypes.GrantOperation{
	kmstypes.GrantOperationDecrypt, kmstypes.GrantOperationDescribeKey, kmstypes.GrantOperationCreateGrant,
	kmstypes.GrantOperationGenerateDataKeyWithoutPlaintext, kmstypes.GrantOperationReEncryptFrom, kmstypes.GrantOperationReEncryptTo,
}

// Transfer moves a completed source snapshot into the forensic account, by its encryption:
//
//   - unencrypted, phase 1: share it with the forensic account, copy it there;
//   - under a customer managed key, phase 1: grant the forensic account use of the key, share, copy;
//   - under the AWS managed key, phase 1: copy it in the source account under the share key and wait
//     for that intermediate copy; phase 2: share the intermediate copy, copy it.
//
// With Retry, each piece an earlier call may have made is looked up first: copies by their token tag,
// grants by their name (the token), and a share is the same share made twice.
func (d *Driver) Transfer(ctx context.Context, req driver.TransferRequest) (driver.TransferResult, error) {
	if req.FindOnly {
		return d.findTransfer(ctx, req)
	}
	var res driver.TransferResult
	src := req.Snapshot
	if req.Volume.KeyKind == driver.KeyProviderDefault {
		if req.Phase == 1 {
			inter, err := d.intermediateCopy(ctx, req)
			if err != nil {
				return res, err
			}
			res.Made = append(res.Made, driver.Resource{Side: driver.Source, Location: src.Location, Kind: kindSnapshot, ID: inter.ID, Volume: req.Volume.ID,
				Note: "intermediate copy under the share key"})
			res.Wait = inter
			return res, nil
		}
		if req.Waited == nil {
			return res, fmt.Errorf("aws: transfer phase %d of %s without the intermediate copy it follows", req.Phase, req.Volume.ID)
		}
		src = *req.Waited
	} else if req.Volume.KeyKind == driver.KeyCustomer {
		g, err := d.grant(ctx, req)
		if err != nil {
			return res, err
		}
		res.Made = append(res.Made, g)
	}
	if err := d.shareOp(ctx, src.Location, src.ID, ec2types.OperationTypeAdd); err != nil {
		return res, err
	}
	res.Made = append(res.Made, driver.Resource{Side: driver.Source, Location: src.Location, Kind: kindShare, ID: src.ID, Volume: req.Volume.ID,
		Note: "shared with the forensic account " + d.cfg.ForensicAccount + " only"})
	cp, err := d.forensicCopy(ctx, req, src)
	if err != nil {
		return res, err
	}
	res.Copy = cp
	return res, nil
}

// intermediateCopy re-encrypts a snapshot under the AWS managed key with the share key, in the source
// account: only snapshots under a customer managed key can be shared.
func (d *Driver) intermediateCopy(ctx context.Context, req driver.TransferRequest) (*driver.Snapshot, error) {
	src := req.Snapshot
	if req.Retry {
		if found, err := d.findRole(ctx, driver.Source, src.Location, req.Token, req.Volume.ID, driver.RoleTemporary); err != nil || found != nil {
			return found, err
		}
	}
	keyID := d.cfg.ShareKeyID
	for _, p := range req.Prepared {
		if p.Kind == kindKey {
			keyID = p.Parent // its ARN
		}
	}
	if keyID == "" {
		return nil, fmt.Errorf("snapshot %s is under the AWS managed key, and no share key was prepared", src.ID)
	}
	out, err := d.side(driver.Source, src.Location).ec2.CopySnapshot(ctx, &ec2.CopySnapshotInput{
		SourceSnapshotId:  aws.String(src.ID),
		SourceRegion:      aws.String(src.Location),
		Encrypted:         aws.Bool(true),
		KmsKeyId:          aws.String(keyID),
		Description:       aws.String(req.Description + " (intermediate copy, deleted after the transfer)"),
		TagSpecifications: tagSpec(ec2types.ResourceTypeSnapshot, withRole(req.Labels, driver.RoleTemporary)),
	}, noRetry(func(o *ec2.Options, r aws.Retryer) { o.Retryer = r }))
	if err != nil {
		return nil, err
	}
	return &driver.Snapshot{ID: aws.ToString(out.SnapshotId), VolumeID: req.Volume.ID, Side: driver.Source, Location: src.Location,
		State: driver.StatePending, Encrypted: true, KeyID: keyID}, nil
}

// grant lets the forensic account use the volume's customer managed key for the copy. The grant's name
// is the token, and KMS answers a CreateGrant with the same name and parameters with the same grant,
// so a repeated call makes nothing more
// (https://docs.aws.amazon.com/kms/latest/APIReference/API_CreateGrant.html).
func (d *Driver) grant(ctx context.Context, req driver.TransferRequest) (driver.Resource, error) {
	out, err := d.side(driver.Source, req.Snapshot.Location).kms.CreateGrant(ctx, &kms.CreateGrantInput{
		KeyId:            aws.String(req.Volume.KeyID),
		GranteePrincipal: aws.String("arn:aws:iam::" + d.cfg.ForensicAccount + ":root"),
		Operations:       grantOps,
		Name:             aws.String(req.Token),
	})
	if err != nil {
		return driver.Resource{}, err
	}
	return driver.Resource{Side: driver.Source, Location: req.Snapshot.Location, Kind: kindGrant, ID: aws.ToString(out.GrantId), Parent: req.Volume.KeyID,
		Volume: req.Volume.ID, Note: "grant on key " + req.Volume.KeyID + " for the forensic account"}, nil
}

// forensicCopy copies a shared snapshot into the forensic account and region under the forensic key,
// tagged with the case. It is called in the destination region; the SDK adds the presigned URL a
// cross-region copy needs (https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_CopySnapshot.html).
func (d *Driver) forensicCopy(ctx context.Context, req driver.TransferRequest, src driver.Snapshot) (*driver.Snapshot, error) {
	region := req.Destination.Location
	if region == "" {
		region = src.Location
	}
	if req.Retry {
		if found, err := d.findRole(ctx, driver.Forensic, region, req.Token, req.Volume.ID, driver.RoleEvidence); err != nil || found != nil {
			return found, err
		}
	}
	out, err := d.side(driver.Forensic, region).ec2.CopySnapshot(ctx, &ec2.CopySnapshotInput{
		SourceSnapshotId:  aws.String(src.ID),
		SourceRegion:      aws.String(src.Location),
		Encrypted:         aws.Bool(true),
		KmsKeyId:          aws.String(req.Destination.Key),
		Description:       aws.String(req.Description),
		TagSpecifications: tagSpec(ec2types.ResourceTypeSnapshot, withRole(req.Labels, driver.RoleEvidence)),
	}, noRetry(func(o *ec2.Options, r aws.Retryer) { o.Retryer = r }))
	if err != nil {
		return nil, err
	}
	return &driver.Snapshot{ID: aws.ToString(out.SnapshotId), VolumeID: req.Volume.ID, Side: driver.Forensic, Account: d.cfg.ForensicAccount, Location: region,
		State: driver.StatePending, Encrypted: true, KeyID: req.Destination.Key}, nil
}

// findTransfer reports what the calls of a transfer made, making nothing: the intermediate copy and
// the forensic copy by their tags, the grant by its name, the shares by the snapshots' attributes.
func (d *Driver) findTransfer(ctx context.Context, req driver.TransferRequest) (driver.TransferResult, error) {
	var res driver.TransferResult
	src := req.Snapshot
	shared := []string{src.ID}
	switch req.Volume.KeyKind {
	case driver.KeyProviderDefault:
		inter, err := d.findRole(ctx, driver.Source, src.Location, req.Token, req.Volume.ID, driver.RoleTemporary)
		if err != nil {
			return res, err
		}
		if inter != nil {
			res.Made = append(res.Made, driver.Resource{Side: driver.Source, Location: src.Location, Kind: kindSnapshot, ID: inter.ID, Volume: req.Volume.ID, Note: "intermediate copy under the share key"})
			shared = []string{inter.ID}
		}
	case driver.KeyCustomer:
		g, err := d.findGrant(ctx, src.Location, req.Volume.KeyID, req.Token)
		if err != nil {
			return res, err
		}
		if g != nil {
			g.Volume = req.Volume.ID
			res.Made = append(res.Made, *g)
		}
	}
	for _, id := range shared {
		ok, err := d.sharedWithForensic(ctx, src.Location, id)
		if err != nil {
			return res, err
		}
		if ok {
			res.Made = append(res.Made, driver.Resource{Side: driver.Source, Location: src.Location, Kind: kindShare, ID: id, Volume: req.Volume.ID, Note: "shared with the forensic account"})
		}
	}
	region := req.Destination.Location
	if region == "" {
		region = src.Location
	}
	cp, err := d.findRole(ctx, driver.Forensic, region, req.Token, req.Volume.ID, driver.RoleEvidence)
	res.Copy = cp
	return res, err
}

func (d *Driver) sharedWithForensic(ctx context.Context, region, snapshotID string) (bool, error) {
	out, err := d.side(driver.Source, region).ec2.DescribeSnapshotAttribute(ctx, &ec2.DescribeSnapshotAttributeInput{
		SnapshotId: aws.String(snapshotID), Attribute: ec2types.SnapshotAttributeNameCreateVolumePermission,
	})
	if isCode(err, "InvalidSnapshot.NotFound") {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	for _, p := range out.CreateVolumePermissions {
		if aws.ToString(p.UserId) == d.cfg.ForensicAccount {
			return true, nil
		}
	}
	return false, nil
}

func (d *Driver) shareOp(ctx context.Context, region, snapshotID string, op ec2types.OperationType) error {
	_, err := d.side(driver.Source, region).ec2.ModifySnapshotAttribute(ctx, &ec2.ModifySnapshotAttributeInput{
		SnapshotId:    aws.String(snapshotID),
		Attribute:     ec2types.SnapshotAttributeNameCreateVolumePermission,
		OperationType: op,
		UserIds:       []string{d.cfg.ForensicAccount},
	})
	return err
}

// PhaseCopies: under the AWS managed key, phase 1 copies in the source account and phase 2 into the
// forensic account; otherwise phase 1 copies into the forensic account.
func (d *Driver) PhaseCopies(v driver.Volume, phase int) (driver.Side, bool) {
	switch {
	case v.KeyKind == driver.KeyProviderDefault && phase == 1:
		return driver.Source, true
	case v.KeyKind == driver.KeyProviderDefault && phase == 2, phase == 1:
		return driver.Forensic, true
	}
	return "", false
}

// TransferPlan says what moving v involves.
func (d *Driver) TransferPlan(v driver.Volume) []string {
	var steps []string
	switch v.KeyKind {
	case driver.KeyProviderDefault:
		steps = append(steps, "copy the snapshot under the share key (it is under the AWS managed key, which cannot be shared)")
	case driver.KeyCustomer:
		steps = append(steps, fmt.Sprintf("grant the forensic account use of key %s for the copy", v.KeyID))
	}
	return append(steps, fmt.Sprintf("share the snapshot with account %s only", d.cfg.ForensicAccount),
		"copy it into the forensic account under the forensic key",
		"withdraw the share; remove the intermediate copy and grants")
}
