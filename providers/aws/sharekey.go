package aws

import (
	"context"
	"encoding/json"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	kmstypes "github.com/aws/aws-sdk-go-v2/service/kms/types"

	"github.com/acquire-forensics/acquire/providers"
)

// shareKeyOps are what the forensic account may do with a share key: describe it and use it to copy a
// snapshot encrypted under it (https://docs.aws.amazon.com/ebs/latest/userguide/share-kms-key.html).
// Unlike the comparable tools, it gets no administrative right on the key.
var shareKeyOps = []string{"kms:DescribeKey", "kms:Decrypt", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:CreateGrant"}

// NeedsShareKey: snapshots under the AWS managed key cannot be shared; they are re-encrypted first.
func (d *Driver) NeedsShareKey(v providers.Volume) bool {
	return v.KeyKind == providers.KeyProviderDefault
}

// CreateShareKey creates a temporary symmetric key in the source account whose policy lets the source
// account administer it and the forensic account use it, and nothing else. The token in its
// description lets FindShareKey find it after an interruption.
func (d *Driver) CreateShareKey(ctx context.Context, region, token string) (providers.Key, error) {
	c := d.side(providers.Source, region)
	who, err := d.Identity(ctx, providers.Source)
	if err != nil {
		return providers.Key{}, err
	}
	policy, err := json.Marshal(map[string]any{
		"Version": "2012-10-17",
		"Statement": []map[string]any{
			{"Sid": "SourceAccountAdministers", "Effect": "Allow", "Principal": map[string]any{"AWS": "arn:aws:iam::" + who.Account + ":root"}, "Action": "kms:*", "Resource": "*"},
			{"Sid": "ForensicAccountUsesForCopies", "Effect": "Allow", "Principal": map[string]any{"AWS": "arn:aws:iam::" + d.cfg.ForensicAccount + ":root"}, "Action": shareKeyOps, "Resource": "*"},
		},
	})
	if err != nil {
		return providers.Key{}, err
	}
	out, err := c.kms.CreateKey(ctx, &kms.CreateKeyInput{
		Description: aws.String("acquire temporary share key " + token),
		KeyUsage:    kmstypes.KeyUsageTypeEncryptDecrypt,
		KeySpec:     kmstypes.KeySpecSymmetricDefault,
		Policy:      aws.String(string(policy)),
		Tags:        []kmstypes.Tag{{TagKey: aws.String(tokenTag), TagValue: aws.String(token)}},
	}, noRetry(func(o *kms.Options, r aws.Retryer) { o.Retryer = r }))
	if err != nil {
		return providers.Key{}, err
	}
	return providers.Key{ID: aws.ToString(out.KeyMetadata.KeyId), ARN: aws.ToString(out.KeyMetadata.Arn), Region: region}, nil
}

// FindShareKey looks through the account's keys for an enabled one made with the token.
func (d *Driver) FindShareKey(ctx context.Context, region, token string) (*providers.Key, error) {
	c := d.side(providers.Source, region)
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
				return &providers.Key{ID: aws.ToString(m.KeyId), ARN: aws.ToString(m.Arn), Region: region}, nil
			}
		}
	}
	return nil, nil
}

// RetireShareKey schedules the temporary key's deletion after the shortest waiting period KMS allows
// (7 days, https://docs.aws.amazon.com/kms/latest/APIReference/API_ScheduleKeyDeletion.html); a key
// pending deletion cannot be used, so it is out of service at once.
func (d *Driver) RetireShareKey(ctx context.Context, k providers.Key) error {
	_, err := d.side(providers.Source, k.Region).kms.ScheduleKeyDeletion(ctx, &kms.ScheduleKeyDeletionInput{
		KeyId:               aws.String(k.ID),
		PendingWindowInDays: aws.Int32(7),
	})
	if isCode(err, "KMSInvalidStateException") {
		return nil // already pending deletion
	}
	return err
}
