package aws

import (
	"context"

	"github.com/acquire-forensics/acquire/providers"
	"github.com/acquire-forensics/acquire/providers/aws/ebsblocks"
)

// DigestOptions tune the content digest through the EBS direct APIs. Their limiters, when set, pace
// every digest of the driver together.
type DigestOptions = ebsblocks.Options

// integrity failures: a block whose content does not match its checksum, again and again.
type integrityError = ebsblocks.ChecksumError

// Digest reads the forensic copy through the EBS direct APIs, checking every block's checksum, and
// returns the SHA-256 of the full raw image and the block-list digest.
func (d *Driver) Digest(ctx context.Context, s providers.Snapshot, progress func(done, total int64)) (providers.Digest, error) {
	opts := d.cfg.Digest
	if progress != nil {
		opts.Progress = func(p ebsblocks.Progress) { progress(p.Offset, p.Size) }
	}
	if opts.Logger == nil {
		opts.Logger = d.log
	}
	// The GetSnapshotBlock quota holds per snapshot and per account: all digests share one pace.
	opts.Limiter, opts.ListLimiter = d.blockLimiter, d.listLimiter
	res, err := ebsblocks.Digest(ctx, d.side(providers.Forensic, s.Region).ebs, s.ID, &opts)
	if err != nil {
		return providers.Digest{}, err
	}
	return providers.Digest{
		ImageSHA256: res.ImageSHA256, BlockListSHA256: res.BlockListSHA256, SizeBytes: res.VolumeBytes,
		BlockSize: res.BlockSize, ListedBlocks: res.ListedBlocks, ReadBytes: res.ReadBytes, Method: res.Method,
	}, nil
}

// OpenSnapshot opens a forensic copy for reading through the EBS direct APIs, paced with the driver's
// other reads: the reader of `acquire export` and of re-hashing.
func (d *Driver) OpenSnapshot(ctx context.Context, region, snapshotID string) (*ebsblocks.Reader, error) {
	opts := d.cfg.Digest
	opts.Limiter, opts.ListLimiter = d.blockLimiter, d.listLimiter
	if opts.Logger == nil {
		opts.Logger = d.log
	}
	return ebsblocks.Open(ctx, d.side(providers.Forensic, region).ebs, snapshotID, &opts)
}
