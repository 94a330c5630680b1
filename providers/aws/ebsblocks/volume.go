package ebsblocks

import (
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ebs"
)

// Volume is a snapshot's geometry as ListSnapshotBlocks gives it.
type Volume struct {
	SnapshotID string
	// Size is the image size in bytes: VolumeSize, which the API gives in
	// GiB, times 2^30.
	Size int64
	// BlockSize is the size of a block in bytes (524288 on EBS).
	BlockSize int64
}

// blockLength is how many bytes block index holds: a full block, except the
// last one of a volume whose size is not a multiple of the block size.
func (v Volume) blockLength(index int64) int64 { return min(v.BlockSize, v.Size-index*v.BlockSize) }

// volumeOf reads the geometry of a listing page.
func volumeOf(snapshotID string, out *ebs.ListSnapshotBlocksOutput) (Volume, error) {
	v := Volume{SnapshotID: snapshotID, Size: aws.ToInt64(out.VolumeSize) << 30, BlockSize: int64(aws.ToInt32(out.BlockSize))}
	if v.Size <= 0 || v.BlockSize <= 0 {
		return v, fmt.Errorf("ebsblocks: snapshot %s: listing gives volume size %d GiB and block size %d",
			snapshotID, aws.ToInt64(out.VolumeSize), aws.ToInt32(out.BlockSize))
	}
	return v, nil
}

// blockRef is a listed block: its index and the token that reads it.
type blockRef struct {
	index int64
	token string
}

// refs checks a listing page against the volume and returns its blocks.
// Indexes must ascend (the documented order, which in-order delivery and
// the digests rely on), start after after, and lie within the volume.
func (v Volume) refs(out *ebs.ListSnapshotBlocksOutput, after int64) ([]blockRef, error) {
	got, err := volumeOf(v.SnapshotID, out)
	if err != nil {
		return nil, err
	}
	if got != v {
		return nil, fmt.Errorf("ebsblocks: snapshot %s: listing changed geometry from %d bytes in %d-byte blocks to %d in %d",
			v.SnapshotID, v.Size, v.BlockSize, got.Size, got.BlockSize)
	}
	refs := make([]blockRef, 0, len(out.Blocks))
	for _, b := range out.Blocks {
		index, token := int64(aws.ToInt32(b.BlockIndex)), aws.ToString(b.BlockToken)
		switch {
		case b.BlockIndex == nil || token == "":
			return nil, fmt.Errorf("ebsblocks: snapshot %s: listing has a block without index or token after block %d", v.SnapshotID, after)
		case index <= after:
			return nil, fmt.Errorf("ebsblocks: snapshot %s: listing gives block %d after block %d, out of order", v.SnapshotID, index, after)
		case index*v.BlockSize >= v.Size:
			return nil, fmt.Errorf("ebsblocks: snapshot %s: listing gives block %d, beyond the %d-byte volume", v.SnapshotID, index, v.Size)
		}
		refs = append(refs, blockRef{index: index, token: token})
		after = index
	}
	return refs, nil
}
