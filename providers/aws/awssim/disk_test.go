package awssim

import (
	"bytes"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/acquire-forensics/acquire/internal/testenv"
)

// A sparse image is opened by reading its data extents only.
func TestSparseImageReadsOnlyData(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sparse.img")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	const size = 16 << 30 // 16 GiB apparent, two blocks of data
	if err := f.Truncate(size); err != nil {
		t.Fatal(err)
	}
	for _, at := range []int64{BlockSize + 5, 9<<30 + 3} {
		if _, err := f.WriteAt([]byte("evidence"), at); err != nil {
			t.Fatal(err)
		}
	}
	f.Close()

	f, err = os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	extents, err := dataExtents(f, size)
	f.Close()
	if err != nil {
		t.Fatal(err)
	}
	var covered int64
	for _, e := range extents {
		covered += e.end - e.start
	}
	if len(extents) == 1 && covered == size {
		if testenv.InCI() {
			t.Fatal("the CI file system does not report holes (SEEK_DATA)")
		}
		t.Skip("this file system does not report holes (SEEK_DATA)")
	}
	if covered > 64<<20 {
		t.Errorf("the data extents cover %d bytes of a file with two written blocks", covered)
	}

	d, err := openImageDisk(path, 1)
	if err != nil {
		t.Fatal(err)
	}
	defer d.close()
	var indexes []int32
	for _, b := range d.blocks {
		indexes = append(indexes, b.index)
	}
	if want := []int32{1, 9 << 30 / BlockSize}; !slices.Equal(indexes, want) || d.sizeGiB != 16 {
		t.Errorf("blocks %v of %d GiB, want %v of 16 GiB", indexes, d.sizeGiB, want)
	}
	buf := make([]byte, BlockSize)
	if err := d.readBlock(1, buf); err != nil || !bytes.Equal(buf[5:13], []byte("evidence")) {
		t.Errorf("block 1: %v %q", err, buf[5:13])
	}
}

// Synthetic blocks are regenerated, identical each time, and differ from
// block to block and seed to seed.
func TestSyntheticBlocksRegenerate(t *testing.T) {
	d, err := syntheticDisk(1, []int32{3, 4, 3}, 7)
	if err != nil {
		t.Fatal(err)
	}
	other, err := syntheticDisk(1, []int32{3}, 8)
	if err != nil {
		t.Fatal(err)
	}
	if len(d.blocks) != 2 {
		t.Fatalf("%d blocks", len(d.blocks))
	}
	read := func(d *disk, index int32) []byte {
		buf := make([]byte, BlockSize)
		if err := d.readBlock(index, buf); err != nil {
			t.Fatal(err)
		}
		return buf
	}
	a, again := read(d, 3), read(d, 3)
	if !bytes.Equal(a, again) || blockChecksum(a) != d.blocks[0].checksum {
		t.Error("block 3 is not the same on every read, or does not match its checksum")
	}
	if bytes.Equal(a, read(d, 4)) || bytes.Equal(a, read(other, 3)) {
		t.Error("blocks of other indexes or seeds are equal")
	}
	if allZero(a) {
		t.Error("a synthetic block is all zeros")
	}
	if _, err := syntheticDisk(1, []int32{2048}, 7); err == nil {
		t.Error("a block past the end of a 1 GiB volume was accepted")
	}
}
