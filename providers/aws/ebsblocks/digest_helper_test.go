package ebsblocks

import (
	"context"

	"github.com/acquire-forensics/acquire/providers/driver"
	"github.com/acquire-forensics/acquire/providers/evidence"
)

// digest reads a snapshot through a Reader and computes its digests as the engine does.
func digest(ctx context.Context, c Client, snapshotID string, opts *Options) (*driver.Digest, error) {
	r, err := Open(ctx, c, snapshotID, opts)
	if err != nil {
		return nil, err
	}
	d, err := evidence.Compute(ctx, r, nil)
	if err != nil {
		return nil, err
	}
	return &d, nil
}
