package aws

import (
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	kmstypes "github.com/aws/aws-sdk-go-v2/service/kms/types"

	"github.com/acquire-forensics/acquire/providers/driver"
)

// Preflight checks, before any snapshot is made, the keys the copies will need: the forensic key must
// exist in the forensic region, be enabled and be a symmetric encryption key (CopySnapshot refuses
// others only once the copy is under way), and a --share-kms-key must be one the source side can use.
func (d *Driver) Preflight(ctx context.Context, p driver.Preflight) error {
	region := p.Destination.Location
	if region == "" {
		region = d.cfg.Region
	}
	if p.Destination.Key == "" {
		return &driver.Error{Code: driver.CodeInvalid, Op: "preflight", Err: fmt.Errorf("no forensic KMS key for the copies: give the forensic account's key")}
	}
	if err := d.checkKey(ctx, driver.Forensic, region, p.Destination.Key, "forensic KMS key"); err != nil {
		return err
	}
	if d.cfg.ShareKeyID != "" {
		return d.checkKey(ctx, driver.Source, d.cfg.Region, d.cfg.ShareKeyID, "share KMS key")
	}
	return nil
}

func (d *Driver) checkKey(ctx context.Context, side driver.Side, region, keyID, what string) error {
	out, err := d.side(side, region).kms.DescribeKey(ctx, &kms.DescribeKeyInput{KeyId: aws.String(keyID)})
	if err != nil {
		if isCode(err, "NotFoundException") {
			return &driver.Error{Code: driver.CodeNotFound, Op: "preflight", Resource: keyID,
				Err: fmt.Errorf("the %s %s does not exist in %s for the %s account: %w", what, keyID, region, side, err)}
		}
		return err
	}
	m := out.KeyMetadata
	switch {
	case m.KeyState != kmstypes.KeyStateEnabled:
		return &driver.Error{Code: driver.CodeInvalid, Op: "preflight", Resource: keyID, Err: fmt.Errorf("the %s %s is %s, not enabled", what, keyID, m.KeyState)}
	case m.KeyUsage != kmstypes.KeyUsageTypeEncryptDecrypt || m.KeySpec != kmstypes.KeySpecSymmetricDefault:
		return &driver.Error{Code: driver.CodeInvalid, Op: "preflight", Resource: keyID,
			Err: fmt.Errorf("the %s %s is a %s %s key: EBS encrypts snapshots with symmetric encryption keys only", what, keyID, m.KeySpec, m.KeyUsage)}
	}
	return nil
}
