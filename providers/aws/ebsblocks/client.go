package ebsblocks

import (
	"context"

	"github.com/aws/aws-sdk-go-v2/service/ebs"
)

// Client is the part of *ebs.Client this package uses, so that tests and
// callers can wrap it.
type Client interface {
	ListSnapshotBlocks(ctx context.Context, in *ebs.ListSnapshotBlocksInput, optFns ...func(*ebs.Options)) (*ebs.ListSnapshotBlocksOutput, error)
	GetSnapshotBlock(ctx context.Context, in *ebs.GetSnapshotBlockInput, optFns ...func(*ebs.Options)) (*ebs.GetSnapshotBlockOutput, error)
}

var _ Client = (*ebs.Client)(nil)

// singleAttempt turns off the SDK's own retries for one call: this package
// retries with its own backoff and attempt budget, and nested retries would
// multiply the attempts and spend the SDK's retry quota on throttling.
func singleAttempt(o *ebs.Options) { o.RetryMaxAttempts = 1 }
