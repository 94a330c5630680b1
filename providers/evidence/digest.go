package evidence

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"sync"

	"github.com/acquire-forensics/acquire/providers/driver"
)

// Compute reads a block source once and returns its two digests: the SHA-256 of the full raw image
// (unlisted blocks as zeros), equal to what sha256sum prints for the image file, and the SHA-256 over
// the 32-byte SHA-256 of each listed block in ascending index order. The image hash runs on its own
// goroutine, beside the delivery of blocks, because it also covers the zeros of unlisted blocks.
func Compute(ctx context.Context, src driver.BlockSource, progress func(done, total int64)) (driver.Digest, error) {
	g := src.Geometry()
	if g.Size <= 0 || g.BlockSize <= 0 {
		return driver.Digest{}, fmt.Errorf("evidence: the source gives size %d and block size %d", g.Size, g.BlockSize)
	}
	if progress == nil {
		progress = func(int64, int64) {}
	}
	img := NewImageHasher(sha256.New(), 0)
	defer img.Stop()
	pool := sync.Pool{New: func() any { b := make([]byte, g.BlockSize); return &b }}
	list := sha256.New()
	d := driver.Digest{SizeBytes: g.Size, BlockSize: g.BlockSize}
	last := int64(-1)
	err := src.ReadBlocks(ctx, 0, func(b driver.Block) error {
		start := b.Index * g.BlockSize
		switch {
		case b.Index <= last:
			return fmt.Errorf("evidence: block %d delivered after block %d", b.Index, last)
		case start+int64(len(b.Data)) > g.Size || int64(len(b.Data)) > g.BlockSize:
			return fmt.Errorf("evidence: block %d of %d bytes lies beyond the %d-byte image", b.Index, len(b.Data), g.Size)
		}
		last = b.Index
		sum := b.Sum
		if sum == nil {
			s := sha256.Sum256(b.Data)
			sum = &s
		}
		list.Write(sum[:])
		buf := pool.Get().(*[]byte)
		*buf = append((*buf)[:0], b.Data...)
		img.Add(start, *buf, func() { pool.Put(buf) })
		d.ListedBlocks++
		d.ReadBytes += int64(len(b.Data))
		progress(start+int64(len(b.Data)), g.Size)
		return nil
	})
	if err != nil {
		return driver.Digest{}, err
	}
	progress(g.Size, g.Size)
	info := src.Info()
	d.ImageSHA256 = hex.EncodeToString(img.Sum(g.Size))
	d.BlockListSHA256 = hex.EncodeToString(list.Sum(nil))
	d.Access, d.IntegrityRetries, d.RetriedBlocks = info.Access, info.IntegrityRetries, info.RetriedBlocks
	d.Method = fmt.Sprintf("%s. %d written blocks of %d bytes were listed in a %d-byte image. "+
		"ImageSHA256 is the SHA-256 of the %d-byte raw image with every unlisted block as zeros (equal to sha256sum of the image file); "+
		"BlockListSHA256 is the SHA-256 over the 32-byte SHA-256 digests of the listed blocks in ascending index order. Both were computed by acquire from the blocks as read.",
		info.Method, d.ListedBlocks, g.BlockSize, g.Size, g.Size)
	return d, nil
}
