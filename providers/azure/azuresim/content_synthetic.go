package azuresim

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"slices"
)

// syntheticContent is a disk whose listed 64 KiB chunks hold pseudo-random
// bytes drawn from (seed, offset): the AES-128-CTR keystream under a key from
// the seed, the counter starting at the offset's 16-byte block, so that any
// sub-range regenerates on its own and costs far less than hashing it.
func syntheticContent(sizeGiB int32, chunks []int64, seed uint64) (*content, error) {
	var in [8]byte
	binary.BigEndian.PutUint64(in[:], seed)
	k := sha256.Sum256(append([]byte("azuresim synthetic disk\x00"), in[:]...))
	block, err := aes.NewCipher(k[:16])
	if err != nil {
		return nil, err
	}
	size := int64(sizeGiB) * gib
	c := &content{size: size, read: func(p []byte, off int64) error {
		var iv [aes.BlockSize]byte
		binary.BigEndian.PutUint64(iv[8:], uint64(off/aes.BlockSize))
		stream := cipher.NewCTR(block, iv[:])
		if skip := off % aes.BlockSize; skip > 0 {
			var discard [aes.BlockSize]byte
			stream.XORKeyStream(discard[:skip], discard[:skip])
		}
		clear(p)
		stream.XORKeyStream(p, p)
		return nil
	}}
	sorted := slices.Clone(chunks)
	slices.Sort(sorted)
	sorted = slices.Compact(sorted)
	for _, index := range sorted {
		if index < 0 || index*ChunkSize >= size {
			return nil, fmt.Errorf("chunk %d lies outside a %d GiB disk", index, sizeGiB)
		}
		c.addChunk(index)
	}
	if err := c.computeDigest(); err != nil {
		return nil, err
	}
	return c, nil
}
