package azuresim

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"sort"
)

// PageSize is the page blob page: ranges are 512-byte aligned.
// https://learn.microsoft.com/rest/api/storageservices/understanding-block-blobs--append-blobs--and-page-blobs#about-page-blobs
const PageSize = 512

// ChunkSize is the granularity at which the simulator finds written data:
// a 64 KiB chunk holding any non-zero byte is reported as a page range.
const ChunkSize = 64 << 10

const gib = 1 << 30

// content is the immutable data of a disk, and so of every snapshot, copy
// and restore point taken from it. It is never held in memory: an image
// disk reads its file, a synthetic disk regenerates a chunk from (seed,
// index). Only the written ranges are kept.
type content struct {
	size int64
	// origin is the scenario disk (lower-case resource ID) whose content
	// this is, or "" for an empty disk. A saved state names content by its
	// origin and size; disk data is never copied into the state.
	origin string
	ranges []pageRange // sorted, merged, chunk-aligned
	read   func(p []byte, off int64) error
	closer io.Closer
	digest string // of the ranges and their data, computed at open
}

// pageRange is [start, end) in bytes.
type pageRange struct{ start, end int64 }

// dataBytes is how much a snapshot of the content copies; it paces
// creation.
func (c *content) dataBytes() int64 {
	var n int64
	for _, r := range c.ranges {
		n += r.end - r.start
	}
	return n
}

// readAt fills p from offset off; bytes outside the written ranges, and past
// the size, read as zeros.
func (c *content) readAt(p []byte, off int64) error {
	clear(p)
	end := off + int64(len(p))
	i := sort.Search(len(c.ranges), func(i int) bool { return c.ranges[i].end > off })
	for ; i < len(c.ranges) && c.ranges[i].start < end; i++ {
		r := c.ranges[i]
		s, e := max(r.start, off), min(r.end, end, c.size)
		if s >= e {
			continue
		}
		if err := c.read(p[s-off:e-off], s); err != nil {
			return err
		}
	}
	return nil
}

// rangesWithin lists the written ranges clipped to [start, end).
func (c *content) rangesWithin(start, end int64) []pageRange {
	var out []pageRange
	for _, r := range c.ranges {
		s, e := max(r.start, start), min(r.end, end)
		if s < e {
			out = append(out, pageRange{s, e})
		}
	}
	return out
}

func (c *content) close() error {
	if c.closer != nil {
		return c.closer.Close()
	}
	return nil
}

// addChunk records chunk index as written, merging with the last range.
func (c *content) addChunk(index int64) {
	s := index * ChunkSize
	e := min(s+ChunkSize, c.size)
	if n := len(c.ranges); n > 0 && c.ranges[n-1].end == s {
		c.ranges[n-1].end = e
		return
	}
	c.ranges = append(c.ranges, pageRange{s, e})
}

// computeDigest identifies the content by its size, ranges and data, so
// that a saved state can tell whether an image changed since.
func (c *content) computeDigest() error {
	h := sha256.New()
	fmt.Fprintf(h, "size %d\n", c.size)
	buf := make([]byte, ChunkSize)
	for _, r := range c.ranges {
		fmt.Fprintf(h, "range %d %d\n", r.start, r.end)
		for off := r.start; off < r.end; off += ChunkSize {
			n := min(ChunkSize, r.end-off)
			if err := c.read(buf[:n], off); err != nil {
				return err
			}
			h.Write(buf[:n])
		}
	}
	c.digest = "sha256:" + hex.EncodeToString(h.Sum(nil))
	return nil
}

// emptyContent is a disk never written.
func emptyContent(size int64) *content {
	c := &content{size: size, read: func(p []byte, _ int64) error { clear(p); return nil }}
	c.computeDigest()
	return c
}

var zeroChunk = make([]byte, ChunkSize)

func allZero(b []byte) bool { return bytes.Equal(b, zeroChunk[:len(b)]) }
