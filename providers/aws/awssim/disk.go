package awssim

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"sort"
)

// BlockSize is the EBS direct API block size: 512 KiB.
// https://docs.aws.amazon.com/ebs/latest/userguide/ebsapi-elements.html
const BlockSize = 512 * 1024

const gib = 1 << 30

// disk is the immutable content of a volume, and so of every snapshot and copy
// taken from it. Only blocks holding a non-zero byte are listed, as the EBS
// direct APIs list only written blocks
// (https://docs.aws.amazon.com/ebs/latest/userguide/ebsapi-faq.html).
// Checksums are computed once, when the disk is opened, so that serving a
// block costs one read and no hashing.
type disk struct {
	sizeGiB int32
	blocks  []diskBlock      // ascending by index
	byIndex map[int32]int    // index -> position in blocks
	source  io.ReaderAt      // nil for an all-zero disk
	closer  io.Closer        // the backing file, if any
	inMem   map[int32][]byte // synthetic disks keep their blocks in memory
}

type diskBlock struct {
	index    int32
	checksum string // base64 SHA-256 of the block, as in x-amz-Checksum
}

// dataBytes is how much data a snapshot of the disk has to copy; it paces
// snapshot progress.
func (d *disk) dataBytes() int64 { return int64(len(d.blocks)) * BlockSize }

// readBlock fills buf (BlockSize bytes) with block index. A block past the
// end of the backing file reads as zeros.
func (d *disk) readBlock(index int32, buf []byte) error {
	if d.inMem != nil {
		copy(buf, d.inMem[index])
		return nil
	}
	n, err := d.source.ReadAt(buf, int64(index)*BlockSize)
	if err == io.EOF {
		clear(buf[n:])
		return nil
	}
	return err
}

func (d *disk) close() error {
	if d.closer != nil {
		return d.closer.Close()
	}
	return nil
}

func (d *disk) index() {
	sort.Slice(d.blocks, func(i, j int) bool { return d.blocks[i].index < d.blocks[j].index })
	d.byIndex = make(map[int32]int, len(d.blocks))
	for i, b := range d.blocks {
		d.byIndex[b.index] = i
	}
}

func blockChecksum(block []byte) string {
	sum := sha256.Sum256(block)
	return base64.StdEncoding.EncodeToString(sum[:])
}

// emptyDisk is a volume that was never written.
func emptyDisk(sizeGiB int32) *disk {
	d := &disk{sizeGiB: sizeGiB, inMem: map[int32][]byte{}}
	d.index()
	return d
}

// openImageDisk opens a raw (typically sparse) disk image. The volume is at
// least sizeGiB, and at least as large as the image.
func openImageDisk(path string, sizeGiB int32) (*disk, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	info, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, err
	}
	if need := int32((info.Size() + gib - 1) / gib); need > sizeGiB {
		sizeGiB = need
	}
	d := &disk{sizeGiB: sizeGiB, source: f, closer: f}
	buf := make([]byte, BlockSize)
	for index := int32(0); int64(index)*BlockSize < info.Size(); index++ {
		if err := d.readBlock(index, buf); err != nil {
			f.Close()
			return nil, fmt.Errorf("reading %s block %d: %w", path, index, err)
		}
		if allZero(buf) {
			continue
		}
		d.blocks = append(d.blocks, diskBlock{index: index, checksum: blockChecksum(buf)})
	}
	d.index()
	return d, nil
}

// syntheticDisk builds a disk in memory whose listed blocks hold
// pseudo-random bytes drawn from seed: reproducible content without an
// image file.
func syntheticDisk(sizeGiB int32, dataBlocks []int32, seed uint64) (*disk, error) {
	d := &disk{sizeGiB: sizeGiB, inMem: make(map[int32][]byte, len(dataBlocks))}
	maxBlocks := int64(sizeGiB) * gib / BlockSize
	for _, index := range dataBlocks {
		if index < 0 || int64(index) >= maxBlocks {
			return nil, fmt.Errorf("block %d outside a %d GiB volume", index, sizeGiB)
		}
		if _, dup := d.inMem[index]; dup {
			continue
		}
		block := make([]byte, BlockSize)
		rng := rand.New(rand.NewPCG(seed, uint64(index)))
		for i := 0; i < len(block); i += 8 {
			v := rng.Uint64()
			for j := 0; j < 8; j++ {
				block[i+j] = byte(v >> (8 * j))
			}
		}
		d.inMem[index] = block
		d.blocks = append(d.blocks, diskBlock{index: index, checksum: blockChecksum(block)})
	}
	d.index()
	return d, nil
}

var zeroBlock = make([]byte, BlockSize)

func allZero(b []byte) bool { return bytes.Equal(b, zeroBlock[:len(b)]) }
