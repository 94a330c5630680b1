package ebsblocks

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"io"
	"iter"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"
)

const testBlockSize = 512 << 10

// testImage is a sparse raw disk image and what a correct read of it gives,
// computed here directly from the file.
type testImage struct {
	path         string
	size         int64
	imageSHA256  string
	blockListSHA string
	listed       []int64 // blocks holding a non-zero byte, ascending
}

// imageWrite puts data at an offset of the image.
type imageWrite struct {
	offset int64
	data   []byte
}

// fullBlock is a block of pseudo-random bytes.
func fullBlock(index int64, seed uint64) imageWrite {
	data := make([]byte, testBlockSize)
	rand.NewChaCha8(blockKey(index, seed)).Read(data)
	return imageWrite{offset: index * testBlockSize, data: data}
}

func blockKey(index int64, seed uint64) [32]byte {
	var key [32]byte
	binary.LittleEndian.PutUint64(key[:], seed)
	binary.LittleEndian.PutUint64(key[8:], uint64(index))
	return key
}

// marker is a few bytes somewhere inside a block: the block is listed, the
// file stays small.
func marker(index, within int64) imageWrite {
	return imageWrite{offset: index*testBlockSize + within, data: []byte("evidence")}
}

// standardWrites is a 1 GiB volume with full blocks, a run of full blocks,
// partly written blocks, markers every seventh block and the last block
// written, so zero runs of many lengths lie between listed blocks.
func standardWrites() []imageWrite {
	w := []imageWrite{fullBlock(0, 1), {offset: testBlockSize + 1000, data: []byte("a partly written block")}}
	for i := int64(10); i < 50; i++ {
		w = append(w, fullBlock(i, 1))
	}
	for i := int64(100); i < 2000; i += 7 {
		w = append(w, marker(i, i%testBlockSize))
	}
	w = append(w, marker(1001, testBlockSize-20), fullBlock(2047, 1))
	return w
}

// buildImage writes a sparse image of sizeGiB with the given writes in the
// test's temporary directory.
func buildImage(t testing.TB, sizeGiB int64, writes iter.Seq[imageWrite]) *testImage {
	t.Helper()
	img, err := writeImage(filepath.Join(t.TempDir(), "volume.raw"), sizeGiB, writes)
	if err != nil {
		t.Fatal(err)
	}
	return img
}

func writeImage(path string, sizeGiB int64, writes iter.Seq[imageWrite]) (*testImage, error) {
	img := &testImage{path: path, size: sizeGiB << 30}
	f, err := os.Create(img.path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	if err := f.Truncate(img.size); err != nil {
		return nil, err
	}
	for w := range writes {
		if _, err := f.WriteAt(w.data, w.offset); err != nil {
			return nil, err
		}
	}
	// Written back now, so that the kernel's writeback does not compete with
	// a benchmark for the CPU and the disk.
	if err := f.Sync(); err != nil {
		return nil, err
	}
	return img, img.expect(f)
}

// expect computes the digests the way the documentation defines them: the
// SHA-256 of the whole file, and the SHA-256 over the SHA-256 of each
// non-zero block in order.
func (img *testImage) expect(f *os.File) error {
	whole, list := sha256.New(), sha256.New()
	block := make([]byte, testBlockSize)
	for index := int64(0); index*testBlockSize < img.size; index++ {
		n, err := io.ReadFull(io.NewSectionReader(f, index*testBlockSize, testBlockSize), block)
		if err != nil && err != io.ErrUnexpectedEOF {
			return err
		}
		whole.Write(block[:n])
		if !allZero(block[:n]) {
			sum := sha256.Sum256(block[:n])
			list.Write(sum[:])
			img.listed = append(img.listed, index)
		}
	}
	img.imageSHA256 = hex.EncodeToString(whole.Sum(nil))
	img.blockListSHA = hex.EncodeToString(list.Sum(nil))
	return nil
}

// block returns the image's content of one block.
func (img *testImage) block(t testing.TB, index int64) []byte {
	t.Helper()
	f, err := os.Open(img.path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	data := make([]byte, testBlockSize)
	if _, err := f.ReadAt(data, index*testBlockSize); err != nil {
		t.Fatal(err)
	}
	return data
}

func allZero(b []byte) bool { return bytes.Count(b, []byte{0}) == len(b) }

// standardImage is built once for the tests that only read it: hashing a
// 1 GiB image for every test would cost more than the tests themselves.
var standardImage = sync.OnceValues(func() (*testImage, error) {
	dir, err := os.MkdirTemp("", "ebsblocks-test-")
	if err != nil {
		return nil, err
	}
	imageDir = dir
	return writeImage(filepath.Join(dir, "standard.raw"), 1, slices.Values(standardWrites()))
})

// imageDir holds standardImage; TestMain removes it.
var imageDir string

func TestMain(m *testing.M) {
	code := m.Run()
	if imageDir != "" {
		os.RemoveAll(imageDir)
	}
	os.Exit(code)
}

func sharedImage(t testing.TB) *testImage {
	t.Helper()
	img, err := standardImage()
	if err != nil {
		t.Fatal(err)
	}
	return img
}
