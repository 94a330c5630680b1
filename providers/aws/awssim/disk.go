package awssim

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"io"
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
//
// No block data is held in memory: an image-backed disk reads its file, a
// synthetic disk regenerates a block from (seed, index). Only the index and
// the checksums, computed once when the disk is opened, stay in memory, so
// that serving a block costs one read (or one generation) and no hashing.
type disk struct {
	sizeGiB int32
	// origin is the ID of the scenario volume whose content this is, or ""
	// for a volume that was never written. A saved state names a disk by its
	// origin and size: content comes from the scenario, which is immutable,
	// and is never copied into the state.
	origin  string
	blocks  []diskBlock   // ascending by index
	byIndex map[int32]int // index -> position in blocks
	read    func(index int32, buf []byte) error
	closer  io.Closer // the backing file, if any
}

type diskBlock struct {
	index    int32
	checksum string // base64 SHA-256 of the block, as in x-amz-Checksum
}

// dataBytes is how much data a snapshot of the disk has to copy; it paces
// snapshot progress.
func (d *disk) dataBytes() int64 { return int64(len(d.blocks)) * BlockSize }

// readBlock fills buf (BlockSize bytes) with block index.
func (d *disk) readBlock(index int32, buf []byte) error { return d.read(index, buf) }

func (d *disk) close() error {
	if d.closer != nil {
		return d.closer.Close()
	}
	return nil
}

// resized returns the same content as a volume of another size.
func (d *disk) resized(sizeGiB int32) *disk {
	c := *d
	c.sizeGiB = sizeGiB
	c.closer = nil
	return &c
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
	d := &disk{sizeGiB: sizeGiB, read: func(_ int32, buf []byte) error { clear(buf); return nil }}
	d.index()
	return d
}

var zeroBlock = make([]byte, BlockSize)

func allZero(b []byte) bool { return bytes.Equal(b, zeroBlock[:len(b)]) }
