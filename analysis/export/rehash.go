package export

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/acquire-forensics/acquire/providers/driver"
	"github.com/acquire-forensics/acquire/providers/evidence"
)

// Rehash is one evidence item read again and compared with the digest the case recorded.
type Rehash struct {
	Item   evidence.Item `json:"item"`
	From   string        `json:"from"` // "cloud" or the image file read
	SHA256 string        `json:"sha256,omitempty"`
	Match  bool          `json:"match"`
	Error  string        `json:"error,omitempty"`
}

// RehashFile hashes an exported image and compares it with the item's recorded digest. It reads a
// regular file or a block device (an analyst's attached disk), never more than the recorded size and
// one byte (a longer image does not match, however long it is), and stops when ctx ends: a FIFO,
// /dev/zero or a huge sparse file cannot hold it.
func RehashFile(ctx context.Context, item evidence.Item, path string) Rehash {
	r := Rehash{Item: item, From: path}
	fail := func(format string, args ...any) Rehash {
		r.Error = fmt.Sprintf(format, args...)
		return r
	}
	if item.ImageSHA256() == "" {
		return fail("the case records no digest of %s (its digest was deferred): there is nothing to compare %s with", item.Snapshot, path)
	}
	f, err := os.OpenFile(path, os.O_RDONLY|nonBlocking, 0)
	if err != nil {
		return fail("%v", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return fail("%v", err)
	}
	if m := st.Mode(); !m.IsRegular() && (m&os.ModeDevice == 0 || m&os.ModeCharDevice != 0) {
		return fail("%s is a %s, not a regular file or a block device: give the exported image", path, kind(m))
	}
	h := sha256.New()
	limit := item.SizeBytes + 1
	if item.SizeBytes <= 0 {
		return fail("the case records no size for %s", item.Snapshot)
	}
	n, err := io.Copy(h, io.LimitReader(ctxReader{ctx, f}, limit))
	switch {
	case err != nil:
		return fail("reading %s: %v", path, err)
	case n != item.SizeBytes:
		return fail("%s holds %s bytes; the case recorded an image of %d bytes", path, sizeWords(n, limit), item.SizeBytes)
	}
	r.SHA256 = hex.EncodeToString(h.Sum(nil))
	r.Match = r.SHA256 == item.ImageSHA256()
	return r
}

func sizeWords(n, limit int64) string {
	if n >= limit {
		return fmt.Sprintf("more than %d", limit-1)
	}
	return fmt.Sprint(n)
}

func kind(m os.FileMode) string {
	switch {
	case m&os.ModeNamedPipe != 0:
		return "named pipe"
	case m&os.ModeCharDevice != 0:
		return "character device"
	case m&os.ModeSocket != 0:
		return "socket"
	case m.IsDir():
		return "directory"
	}
	return "special file"
}

// ctxReader stops a read when ctx ends.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}

// RehashSource reads an item's snapshot again through the cloud's block reader and compares its image
// digest with the one recorded.
func RehashSource(ctx context.Context, item evidence.Item, src driver.BlockSource) Rehash {
	r := Rehash{Item: item, From: "cloud"}
	if item.ImageSHA256() == "" {
		r.Error = fmt.Sprintf("the case records no digest of %s (its digest was deferred): there is nothing to compare with", item.Snapshot)
		return r
	}
	d, err := evidence.Compute(ctx, src, nil)
	if err != nil {
		r.Error = err.Error()
		if errors.Is(err, context.Canceled) {
			r.Error = "cancelled"
		}
		return r
	}
	r.SHA256, r.Match = d.ImageSHA256, d.ImageSHA256 == item.ImageSHA256()
	return r
}
