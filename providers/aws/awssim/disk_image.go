package awssim

import (
	"fmt"
	"io"
	"os"
)

// openImageDisk opens a raw (typically sparse) disk image. The volume is at
// least sizeGiB, and at least as large as the image. Only the image's data
// extents are read to find the written blocks and their checksums: a sparse
// image of many GiB with little data opens in the time its data takes to
// read, not its apparent size.
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
	d := &disk{sizeGiB: sizeGiB, closer: f, read: func(index int32, buf []byte) error {
		// A block past the end of the file reads as zeros.
		n, err := f.ReadAt(buf, int64(index)*BlockSize)
		if err == io.EOF {
			clear(buf[n:])
			return nil
		}
		return err
	}}
	extents, err := dataExtents(f, info.Size())
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("finding the data in %s: %w", path, err)
	}
	buf := make([]byte, BlockSize)
	next := int64(0) // first block not yet examined
	for _, e := range extents {
		first := max(e.start/BlockSize, next)
		for index := first; index*BlockSize < e.end; index++ {
			if err := d.readBlock(int32(index), buf); err != nil {
				f.Close()
				return nil, fmt.Errorf("reading %s block %d: %w", path, index, err)
			}
			if !allZero(buf) {
				d.blocks = append(d.blocks, diskBlock{index: int32(index), checksum: blockChecksum(buf)})
			}
			next = index + 1
		}
	}
	d.index()
	return d, nil
}

// extent is a byte range [start, end) of a file that may hold data.
type extent struct{ start, end int64 }
