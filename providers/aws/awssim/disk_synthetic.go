package awssim

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
)

// syntheticDisk is a disk whose listed blocks hold pseudo-random bytes drawn
// from (seed, index): reproducible content without an image file. A block is
// generated again each time it is read; only checksums are kept, so a
// synthetic disk costs memory for its index alone, whatever its size.
func syntheticDisk(sizeGiB int32, dataBlocks []int32, seed uint64) (*disk, error) {
	gen, err := newSyntheticSource(seed)
	if err != nil {
		return nil, err
	}
	d := &disk{sizeGiB: sizeGiB, read: func(index int32, buf []byte) error {
		gen.fill(buf, index)
		return nil
	}}
	maxBlocks := int64(sizeGiB) * gib / BlockSize
	seen := make(map[int32]bool, len(dataBlocks))
	block := make([]byte, BlockSize)
	for _, index := range dataBlocks {
		if index < 0 || int64(index) >= maxBlocks {
			return nil, fmt.Errorf("block %d outside a %d GiB volume", index, sizeGiB)
		}
		if seen[index] {
			continue
		}
		seen[index] = true
		gen.fill(block, index)
		d.blocks = append(d.blocks, diskBlock{index: index, checksum: blockChecksum(block)})
	}
	d.index()
	return d, nil
}

// syntheticSource generates block content as the AES-128-CTR keystream under
// a key drawn from the seed, with the block index as the high half of the
// initial counter, so that blocks never share keystream. AES-CTR runs at
// several GB/s where the CPU has AES instructions: regenerating a block
// costs far less than hashing it, which keeps the simulator from being the
// bottleneck of acquisition benchmarks.
type syntheticSource struct {
	block cipher.Block // safe for concurrent use; each fill has its own stream
}

func newSyntheticSource(seed uint64) (*syntheticSource, error) {
	var in [8]byte
	binary.BigEndian.PutUint64(in[:], seed)
	key := sha256.Sum256(append([]byte("awssim synthetic disk\x00"), in[:]...))
	block, err := aes.NewCipher(key[:16])
	if err != nil {
		return nil, err
	}
	return &syntheticSource{block: block}, nil
}

// fill writes block index into buf, which is at most BlockSize bytes. The plaintext is zeroBlock, so
// the keystream goes straight into buf, with no pass to clear it first.
func (g *syntheticSource) fill(buf []byte, index int32) {
	var iv [aes.BlockSize]byte
	binary.BigEndian.PutUint64(iv[:8], uint64(index))
	cipher.NewCTR(g.block, iv[:]).XORKeyStream(buf, zeroBlock[:len(buf)])
}
