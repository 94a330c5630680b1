package azuresim

import (
	"fmt"
	"io"
	"os"
)

// openImage opens a raw (typically sparse) disk image as a disk of at least
// sizeGiB. Only the image's data extents are read to find the written
// chunks, so a sparse image of many GiB with little data opens in the time
// its data takes to read.
func openImage(path string, sizeGiB int32) (*content, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	info, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, err
	}
	size := int64(sizeGiB) * gib
	if need := (info.Size() + gib - 1) / gib * gib; need > size {
		size = need
	}
	c := &content{size: size, closer: f, read: func(p []byte, off int64) error {
		n, err := f.ReadAt(p, off)
		if err == io.EOF {
			clear(p[n:])
			return nil
		}
		return err
	}}
	extents, err := dataExtents(f, info.Size())
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("finding the data in %s: %w", path, err)
	}
	buf := make([]byte, ChunkSize)
	next := int64(0) // first chunk not yet examined
	for _, e := range extents {
		for index := max(e.start/ChunkSize, next); index*ChunkSize < e.end; index++ {
			n := min(ChunkSize, info.Size()-index*ChunkSize)
			if err := c.read(buf[:n], index*ChunkSize); err != nil {
				f.Close()
				return nil, fmt.Errorf("reading %s at %d: %w", path, index*ChunkSize, err)
			}
			if !allZero(buf[:n]) {
				c.addChunk(index)
			}
			next = index + 1
		}
	}
	if err := c.computeDigest(); err != nil {
		f.Close()
		return nil, fmt.Errorf("reading %s: %w", path, err)
	}
	return c, nil
}

// extent is a byte range [start, end) of a file that may hold data.
type extent struct{ start, end int64 }
