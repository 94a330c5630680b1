package ebsblocks

import (
	"context"
	"fmt"

	"github.com/acquire-forensics/acquire/providers/driver"
)

// A Reader is a driver.BlockSource: the engine hashes what it delivers, and export writes it.
var _ driver.BlockSource = (*Reader)(nil)

// Geometry is the snapshot's image size and block size.
func (r *Reader) Geometry() driver.Geometry {
	return driver.Geometry{Size: r.vol.Size, BlockSize: r.vol.BlockSize}
}

// ReadBlocks is Read, delivering each block with the SHA-256 it was verified with.
func (r *Reader) ReadBlocks(ctx context.Context, from int64, visit func(driver.Block) error) error {
	return r.Read(ctx, from, func(b Block) error {
		return visit(driver.Block{Index: b.Index, Data: b.Data, Sum: &b.SHA256})
	})
}

// Info says how the blocks were read and checked, and what had to be read again.
func (r *Reader) Info() driver.SourceInfo {
	s := r.Stats()
	return driver.SourceInfo{
		Method: fmt.Sprintf("EBS direct APIs on snapshot %s: ListSnapshotBlocks listed the written blocks, each read with GetSnapshotBlock "+
			"and verified against its x-amz-Checksum (SHA-256) and x-amz-Data-Length (the aggregate of the block SHA-256s in index order is the EBS LINEAR checksum)", r.vol.SnapshotID),
		IntegrityRetries: s.IntegrityRetries,
		RetriedBlocks:    s.RetriedBlocks,
	}
}

// Close does nothing: EBS direct reads need no access to be ended.
func (r *Reader) Close(context.Context) error { return nil }
