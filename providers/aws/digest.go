package aws

import (
	"context"

	"github.com/acquire-forensics/acquire/providers/aws/ebsblocks"
	"github.com/acquire-forensics/acquire/providers/driver"
)

// DigestOptions tune the reads through the EBS direct APIs. Their limiters, when set, pace every read
// of the driver together.
type DigestOptions = ebsblocks.Options

// integrity failures: a block whose content does not match its checksum, again and again.
type integrityError = ebsblocks.ChecksumError

// OpenBlocks opens a forensic copy for reading through the EBS direct APIs, every block checked
// against its checksum, paced with the driver's other reads: the block source of digests, exports and
// re-hashes. The GetSnapshotBlock quota holds per snapshot and per account: all reads share one pace.
func (d *Driver) OpenBlocks(ctx context.Context, s driver.Snapshot) (driver.BlockSource, error) {
	opts := d.cfg.Digest
	opts.Limiter, opts.ListLimiter = d.blockLimiter, d.listLimiter
	if opts.Logger == nil {
		opts.Logger = d.log
	}
	r, err := ebsblocks.Open(ctx, d.side(driver.Forensic, s.Location).ebs, s.ID, &opts)
	if err != nil {
		return nil, err
	}
	return r, nil
}
