package gcpsim

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"slices"
)

const (
	gib = 1 << 30
	// syntheticBlock is the size of a synthetic content block.
	syntheticBlock = 512 << 10
)

// content is what a disk holds, and so every snapshot, instant snapshot,
// image and disk made from it: immutable, named by the scenario disk it comes
// from. Nothing of it is held in memory: an image-backed content reads its
// file's data extents when asked, a synthetic one regenerates its blocks.
type content struct {
	// origin is the scenario disk ("project/zone/name") the content comes
	// from, or "" for a disk that was never written.
	origin string
	sizeGb int64
	// dataBytes is how much data a snapshot has to copy; it paces snapshot
	// creation.
	dataBytes int64
	// digest identifies the data (SHA-256 over offsets and bytes), so that a
	// saved state is not restored over other content.
	digest string

	path    string // raw image file, or ""
	extents []extent
	synth   *syntheticSource
	blocks  []int64 // synthetic blocks, ascending
}

// extent is a byte range [start, end) of a file that holds data.
type extent struct{ start, end int64 }

func emptyContent(sizeGb int64) *content {
	return &content{sizeGb: sizeGb, digest: hex.EncodeToString(make([]byte, 32))}
}

// openImageContent reads the data extents of a raw image: a sparse image of
// many GiB with little data opens in the time its data takes to read. The
// disk is at least sizeGb and at least as large as the image.
func openImageContent(origin, path string, sizeGb int64) (*content, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if need := (info.Size() + gib - 1) / gib; need > sizeGb {
		sizeGb = need
	}
	extents, err := dataExtents(f, info.Size())
	if err != nil {
		return nil, fmt.Errorf("finding the data in %s: %w", path, err)
	}
	c := &content{origin: origin, sizeGb: sizeGb, path: path, extents: extents}
	h := sha256.New()
	buf := make([]byte, 1<<20)
	for _, e := range extents {
		c.dataBytes += e.end - e.start
		binary.Write(h, binary.BigEndian, e.start)
		if _, err := io.CopyBuffer(h, io.NewSectionReader(f, e.start, e.end-e.start), buf); err != nil {
			return nil, fmt.Errorf("reading %s: %w", path, err)
		}
	}
	c.digest = hex.EncodeToString(h.Sum(nil))
	return c, nil
}

// syntheticContent is pseudo-random 512 KiB blocks drawn from seed.
func syntheticContent(origin string, sizeGb int64, blocks []int64, seed uint64) (*content, error) {
	gen, err := newSyntheticSource(seed)
	if err != nil {
		return nil, err
	}
	blocks = slices.Clone(blocks)
	slices.Sort(blocks)
	blocks = slices.Compact(blocks)
	maxBlocks := sizeGb * gib / syntheticBlock
	h := sha256.New()
	binary.Write(h, binary.BigEndian, seed)
	for _, b := range blocks {
		if b < 0 || b >= maxBlocks {
			return nil, fmt.Errorf("synthetic block %d is outside a %d GB disk", b, sizeGb)
		}
		binary.Write(h, binary.BigEndian, b)
	}
	return &content{origin: origin, sizeGb: sizeGb, synth: gen, blocks: blocks,
		dataBytes: int64(len(blocks)) * syntheticBlock, digest: hex.EncodeToString(h.Sum(nil))}, nil
}

// resized is the same data as a disk of another size (a disk made from a
// snapshot may be larger than its source).
func (c *content) resized(sizeGb int64) *content {
	out := *c
	out.sizeGb = sizeGb
	return &out
}

// materialize writes the content as a sparse raw file of sizeGb at path,
// readable only (the worker VM's device). Only data is written: holes stay
// holes.
func (c *content) materialize(path string) (err error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
	if err != nil {
		return err
	}
	defer func() {
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err == nil {
			err = os.Chmod(path, 0o400)
		}
	}()
	if err := f.Truncate(c.sizeGb * gib); err != nil {
		return err
	}
	switch {
	case c.path != "":
		src, err := os.Open(c.path)
		if err != nil {
			return err
		}
		defer src.Close()
		for _, e := range c.extents {
			if _, err := io.Copy(io.NewOffsetWriter(f, e.start), io.NewSectionReader(src, e.start, e.end-e.start)); err != nil {
				return err
			}
		}
	case c.synth != nil:
		buf := make([]byte, syntheticBlock)
		for _, b := range c.blocks {
			c.synth.fill(buf, b)
			if _, err := f.WriteAt(buf, b*syntheticBlock); err != nil {
				return err
			}
		}
	}
	return nil
}

// syntheticSource generates block content as the AES-128-CTR keystream
// under a key drawn from the seed, the block index as the high half of the
// counter, so that blocks never share keystream.
type syntheticSource struct{ block cipher.Block }

func newSyntheticSource(seed uint64) (*syntheticSource, error) {
	var in [8]byte
	binary.BigEndian.PutUint64(in[:], seed)
	key := sha256.Sum256(append([]byte("gcpsim synthetic disk\x00"), in[:]...))
	block, err := aes.NewCipher(key[:16])
	if err != nil {
		return nil, err
	}
	return &syntheticSource{block: block}, nil
}

func (g *syntheticSource) fill(buf []byte, index int64) {
	var iv [aes.BlockSize]byte
	binary.BigEndian.PutUint64(iv[:8], uint64(index))
	clear(buf)
	cipher.NewCTR(g.block, iv[:]).XORKeyStream(buf, buf)
}
