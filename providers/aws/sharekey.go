package aws

import (
	"context"
	"encoding/json"
	"slices"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	kmstypes "github.com/aws/aws-sdk-go-v2/service/kms/types"

	"github.com/acquire-forensics/acquire/providers/driver"
)

// shareKeyOps are what the forensic account may do with a share key: describe it and use it to copy a
// snapshot encrypted under it (https://docs.aws.amazon.com/ebs/latest/userguide/share-kms-key.html).
// Unlike the comparable tools, it gets no administrative right on the key.
var shareKeyOps = []string{"kms:DescribeKey", "kms:Decrypt", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:CreateGrant"}

// keyPendingDays is how long a retired temporary key waits for deletion: the shortest KMS allows
// (https://docs.aws.amazon.com/kms/latest/APIReference/API_ScheduleKeyDeletion.html).
const keyPendingDays = 7

// PrepareTransfers makes the temporary share key when a volume is under the AWS managed key and no
// --share-kms-key was given: a symmetric key in the source account whose policy lets the source
// account administer it and the forensic account use it, and nothing else. The token in its
// description lets a later call find it.
func (d *Driver) PrepareTransfers(ctx context.Context, req driver.PrepareRequest) ([]driver.Resource, error) {
	region := d.cfg.Region
	if req.Retry || req.FindOnly {
		k, err := d.findShareKey(ctx, region, req.Token)
		if err != nil || k != nil || req.FindOnly {
			return k, err
		}
	}
	if d.cfg.ShareKeyID != "" || !slices.ContainsFunc(req.Volumes, func(v driver.Volume) bool { return v.KeyKind == driver.KeyProviderDefault }) {
		return nil, nil
	}
	c := d.side(driver.Source, region)
	who, err := d.Identity(ctx, driver.Source)
	if err != nil {
		return nil, err
	}
	policy, err := json.Marshal(map[string]any{
		"Version": "2012-10-17",
		"Statement": []map[string]any{
			{"Sid": "SourceAccountAdministers", "Effect": "Allow", "Principal": map[string]any{"AWS": "arn:aws:iam::" + who.Account + ":root"}, "Action": "kms:*", "Resource": "*"},
			{"Sid": "ForensicAccountUsesForCopies", "Effect": "Allow", "Principal": map[string]any{"AWS": "arn:aws:iam::" + d.cfg.ForensicAccount + ":root"}, "Action": shareKeyOps, "Resource": "*"},
		},
	})
	if err != nil {
		return nil, err
	}
	out, err := c.kms.CreateKey(ctx, &kms.CreateKeyInput{
		Description: aws.String("acquire temporary share key " + req.Token),
		KeyUsage:    kmstypes.KeyUsageTypeEncryptDecrypt,
		KeySpec:     kmstypes.KeySpecSymmetricDefault,
		Policy:      aws.String(string(policy)),
		Tags:        []kmstypes.Tag{{TagKey: aws.String(tokenTag), TagValue: aws.String(req.Token)}},
	}, noRetry(func(o *kms.Options, r aws.Retryer) { o.Retryer = r }))
	if err != nil {
		return nil, err
	}
	return []driver.Resource{shareKey(region, aws.ToString(out.KeyMetadata.KeyId), aws.ToString(out.KeyMetadata.Arn))}, nil
}

func shareKey(region, id, arn string) driver.Resource {
	return driver.Resource{Side: driver.Source, Location: region, Kind: kindKey, ID: id, Parent: arn,
		Note:    "temporary key, usable by the forensic account only, to re-encrypt snapshots under the AWS managed key",
		Remains: "temporary share key, disabled: deleted in 7 days (the shortest KMS allows)"}
}

// findShareKey looks through the account's keys for an enabled one made with the token.
func (d *Driver) findShareKey(ctx context.Context, region, token string) ([]driver.Resource, error) {
	c := d.side(driver.Source, region)
	p := kms.NewListKeysPaginator(c.kms, &kms.ListKeysInput{})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, err
		}
		for _, k := range page.Keys {
			out, err := c.kms.DescribeKey(ctx, &kms.DescribeKeyInput{KeyId: k.KeyId})
			if err != nil {
				if isCode(err, "AccessDeniedException", "NotFoundException") {
					continue // not ours to read, or gone since the listing
				}
				return nil, err
			}
			m := out.KeyMetadata
			if m.KeyState == kmstypes.KeyStateEnabled && strings.HasSuffix(aws.ToString(m.Description), " "+token) {
				return []driver.Resource{shareKey(region, aws.ToString(m.KeyId), aws.ToString(m.Arn))}, nil
			}
		}
	}
	return nil, nil
}

// retireKey schedules the temporary key's deletion after the shortest waiting period KMS allows; a key
// pending deletion cannot be used, so it is out of service at once.
func (d *Driver) retireKey(ctx context.Context, c *clients, keyID string) error {
	_, err := c.kms.ScheduleKeyDeletion(ctx, &kms.ScheduleKeyDeletionInput{KeyId: aws.String(keyID), PendingWindowInDays: aws.Int32(keyPendingDays)})
	if isCode(err, "KMSInvalidStateException", "NotFoundException") {
		return nil // already pending deletion, or gone
	}
	return err
}

// revokeGrant withdraws a grant; one already gone is fine.
func (d *Driver) revokeGrant(ctx context.Context, c *clients, keyID, grantID string) error {
	_, err := c.kms.RevokeGrant(ctx, &kms.RevokeGrantInput{KeyId: aws.String(keyID), GrantId: aws.String(grantID)})
	if isCode(err, "NotFoundException", "InvalidGrantIdException") {
		return nil // revoked already: KMS no longer knows the grant ID (https://docs.aws.amazon.com/kms/latest/APIReference/API_RevokeGrant.html)
	}
	return err
}

// findGrant looks through a key's grants for the one named with the token.
func (d *Driver) findGrant(ctx context.Context, region, keyID, token string) (*driver.Resource, error) {
	c := d.side(driver.Source, region)
	p := kms.NewListGrantsPaginator(c.kms, &kms.ListGrantsInput{KeyId: aws.String(keyID)})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, err
		}
		for _, g := range page.Grants {
			if aws.ToString(g.Name) == token {
				return &driver.Resource{Side: driver.Source, Location: region, Kind: kindGrant, ID: aws.ToString(g.GrantId), Parent: keyID,
					Note: "grant on key " + keyID + " for the forensic account"}, nil
			}
		}
	}
	return nil, nil
}
